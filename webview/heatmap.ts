/**
 * Sparsity heatmap: tasks x masked layers, each cell the fraction of that layer's weights
 * the task's mask switches off. One colour scale for the whole matrix so tasks compare.
 */
import type { ProjectStats } from '../src/core/types';
import { h, int, labelledSelect as select, pct } from './dom';
import { makeScale, niceMax } from './colorScale';
import { MatrixGrid, type MatrixSpec } from './matrixGrid';
import { renderLegend } from './legend';
import { matrixToCanvas } from './matrixCanvas';
import { exportButtons, exportCsv, exportPng } from './exportChart';
import { post } from './vscodeApi';
import { sparsityTable } from '../src/shared/reportTables';
import { shapeText, type ViewContext } from './viewContext';
import { FilterDrill } from './filterDrill';

/** Beyond this many layers per-cell numbers no longer fit; the tooltip/table still have them. */
const MAX_LAYERS_WITH_TEXT = 24;

export class HeatmapView {
  readonly el: HTMLElement;
  private readonly grid = new MatrixGrid();
  private readonly body = h('div', { class: 'view-body' });
  private readonly tableBtn: HTMLButtonElement;
  private readonly scrollCue = h('p', { class: 'scroll-cue', hidden: true, 'aria-hidden': 'true' });
  private readonly zoom = select('heatmap-zoom', 'Cells', [['auto', 'auto'], ['values', 'with values'], ['compact', 'compact']]);
  private readonly kind = select('heatmap-kind', 'Layers', [['all', 'all kinds'], ['conv2d', 'conv2d'], ['depthwise', 'depthwise'], ['dense', 'dense']]);
  private readonly sort = select('heatmap-sort', 'Order', [['network', 'network order'], ['sparsity', 'by sparsity']]);
  /** Manifest indices of the layers shown, in the order shown. */
  private shownLayers: number[] = [];
  private stats: ProjectStats | undefined;
  private spec: MatrixSpec | undefined;
  private readonly drill: FilterDrill;

  constructor(private readonly ctx: ViewContext) {
    this.drill = new FilterDrill(ctx);
    this.tableBtn = h('button', { type: 'button', class: 'toggle', 'aria-pressed': 'false', text: 'Table' });
    this.tableBtn.addEventListener('click', () => {
      ctx.state.heatmapTable = !ctx.state.heatmapTable;
      ctx.persist();
      this.render();
    });
    const [png, csv] = exportButtons(() => this.exportPng(), () => this.exportCsv());
    const bind = (sel: HTMLSelectElement, key: 'heatmapZoom' | 'heatmapKind' | 'heatmapSort') => {
      sel.value = ctx.state[key];
      sel.addEventListener('change', () => {
        (ctx.state as unknown as Record<string, string>)[key] = sel.value;
        ctx.persist();
        this.render();
      });
    };
    bind(this.zoom.select, 'heatmapZoom');
    bind(this.kind.select, 'heatmapKind');
    bind(this.sort.select, 'heatmapSort');
    this.grid.el.addEventListener('scroll', () => this.updateScrollCue());
    window.addEventListener('resize', () => this.updateScrollCue());
    this.el = h(
      'section',
      { class: 'view', 'data-view': 'heatmap' },
      h('div', { class: 'toolbar', role: 'toolbar', 'aria-label': 'Heatmap tools' }, this.tableBtn, this.kind.el, this.sort.el, this.zoom.el, h('span', { class: 'spacer' }), png, csv),
      h('p', {
        class: 'hint',
        text: 'Fraction of each masked layer\u2019s weights that a task\u2019s mask switches off. Arrow keys move between cells; Enter or a click opens the layer\u2019s filters; task names open the task.',
      }),
      this.body,
      this.drill.el,
    );
  }

  update(stats: ProjectStats | undefined): void {
    this.stats = stats;
    this.drill.update(stats);
    this.render();
  }

  private render(): void {
    const s = this.stats;
    this.tableBtn.setAttribute('aria-pressed', String(this.ctx.state.heatmapTable));
    if (!s || s.tasks.length === 0 || s.layers.length === 0) {
      this.spec = undefined;
      this.body.replaceChildren(h('p', { class: 'empty', text: 'No trained tasks yet: train a task to see which weights its mask switches off.' }));
      return;
    }
    // A damaged task keeps its row, with unknown cells, so the rest stays comparable.
    const all: Array<Array<number | null>> = s.tasks.map((t) => (t.layerSparsity.length ? t.layerSparsity.slice() : s.layers.map(() => null)));
    const max = niceMax(Math.max(0, ...all.flat().filter((v): v is number => v !== null)));
    const scale = makeScale(0, max);
    // Big networks: show one kind of layer, order columns by mean sparsity over the tasks.
    const st = this.ctx.state;
    let idx = s.layers.map((_, i) => i).filter((i) => st.heatmapKind === 'all' || s.layers[i].kind === st.heatmapKind);
    if (st.heatmapSort === 'sparsity') {
      const mean = (i: number) => {
        const known = all.map((r) => r[i]).filter((v): v is number => v !== null);
        return known.length ? known.reduce((a, b) => a + b, 0) / known.length : -1;
      };
      idx = idx.map((i) => [i, mean(i)] as const).sort((a, b) => b[1] - a[1] || a[0] - b[0]).map(([i]) => i);
    }
    this.shownLayers = idx;
    if (idx.length === 0) {
      this.spec = undefined;
      this.body.replaceChildren(h('p', { class: 'empty', text: `This backbone has no ${st.heatmapKind} layers to show.` }));
      this.scrollCue.hidden = true;
      return;
    }
    const values = all.map((row) => idx.map((i) => row[i]));
    const layerAt = (c: number) => s.layers[idx[c]];
    this.spec = {
      label: 'Sparsity per task and masked layer',
      rowLabels: s.tasks.map((t) => (t.state === 'failed' ? `${t.name} (damaged)` : t.name)),
      colLabels: idx.map((i) => s.layers[i].name),
      colTitles: idx.map((i) => `${s.layers[i].name} (${s.layers[i].kind}, ${shapeText(s.layers[i].shape)}, ${int(s.layers[i].size)} weights)`),
      values,
      scale,
      showCellText: st.heatmapZoom === 'values' || (st.heatmapZoom === 'auto' && idx.length <= MAX_LAYERS_WITH_TEXT),
      cellText: (v) => (v * 100).toFixed(1),
      describe: (r, c) => {
        const l = layerAt(c);
        const v = values[r][c];
        if (v === null) return `${s.tasks[r].name}, ${l.name}: unknown, the task is damaged: ${s.tasks[r].damage ?? 'unreadable'}`;
        const neg = s.tasks[r].layerNegated?.[idx[c]];
        const negText = neg === undefined ? '' : `, ${pct(neg, 2)} negated (${int(neg * l.size)})`;
        return `${s.tasks[r].name}, ${l.name}: ${pct(v, 2)} of weights off (${int(v * l.size)} / ${int(l.size)})${negText}, shape ${shapeText(l.shape)}`;
      },
      onActivate: (r, c) => this.drill.open(layerAt(c).name, s.tasks[r].name),
      onRowHeader: (r) => post({ type: 'openTask', task: s.tasks[r].name }),
      rowHeaderHint: 'Open task details',
    };
    const legend = renderLegend(scale, 'Weights switched off', (v) => pct(v, max < 0.1 ? 1 : 0));
    const damaged = s.tasks.filter((t) => t.state === 'failed');
    const warn = damaged.length
      ? [h('ul', { class: 'damaged', 'aria-label': 'Damaged tasks' }, ...damaged.map((t) => h('li', { text: `${t.name} is damaged: ${t.damage ?? 'unreadable'}` })))]
      : [];
    if (this.ctx.state.heatmapTable) {
      this.body.replaceChildren(...warn, legend, this.renderTable(s));
    } else {
      this.grid.render(this.spec);
      this.body.replaceChildren(...warn, legend, this.scrollCue, this.grid.el);
    this.grid.restoreFocus();
      requestAnimationFrame(() => this.updateScrollCue());
    }
  }

  /** Says how many layers are out of view while the map is wider than the panel. */
  private updateScrollCue(): void {
    const w = this.grid.el;
    const n = this.shownLayers.length;
    const over = w.scrollWidth - w.clientWidth > 1;
    this.scrollCue.hidden = !over || this.ctx.state.heatmapTable;
    if (!over) return;
    const atStart = w.scrollLeft < 2;
    const atEnd = w.scrollLeft + w.clientWidth >= w.scrollWidth - 2;
    this.scrollCue.textContent = `${n} layers: ${atStart ? '' : '← '}scroll sideways for the rest${atEnd ? '' : ' →'} (task names stay)`;
  }

  private renderTable(s: ProjectStats): HTMLElement {
    const head = h('tr', {}, h('th', { scope: 'col', text: 'Task' }), ...s.layers.map((l) => h('th', { scope: 'col', text: l.name })), h('th', { scope: 'col', text: 'All layers' }));
    const rows = s.tasks.map((t) =>
      h(
        'tr',
        {},
        h('th', { scope: 'row', text: t.name }),
        ...s.layers.map((l, c) => {
          const v = t.layerSparsity[c];
          return v === undefined
            ? h('td', { 'data-value': 'null', title: 'unknown: the task is damaged', text: '–' })
            : t.layerNegated
              ? h('td', { 'data-value': String(v), 'data-negated': String(t.layerNegated[c]), title: `${int(v * l.size)} / ${int(l.size)} weights off, ${int(t.layerNegated[c] * l.size)} negated`, text: `${pct(v, 2)} (−${pct(t.layerNegated[c], 1)})` })
              : h('td', { 'data-value': String(v), title: `${int(v * l.size)} / ${int(l.size)} weights off`, text: pct(v, 2) });
        }),
        h('td', { 'data-value': String(t.sparsity), text: t.sparsity === null ? '–' : pct(t.sparsity, 2) }),
      ),
    );
    return h(
      'div',
      { class: 'table-wrap' },
      h('table', { class: 'data-table', 'data-table': 'heatmap' }, h('caption', { text: 'Fraction of weights switched off, per task and masked layer' }), h('thead', {}, head), h('tbody', {}, ...rows)),
    );
  }

  exportPng(): void {
    if (!this.spec) return;
    const canvas = matrixToCanvas(this.spec, 'Mask sparsity (fraction of weights off) per task and layer', (v) => pct(v, 0), this.ctx.theme());
    exportPng('sparsity-heatmap', canvas);
  }

  exportCsv(): void {
    const s = this.stats;
    if (!s) return;
    exportCsv('sparsity-heatmap', sparsityTable(s, shapeText));
  }
}
