/**
 * Sparsity heatmap: tasks x masked layers, each cell the fraction of that layer's weights
 * the task's mask switches off. One colour scale for the whole matrix so tasks compare.
 */
import type { ProjectStats } from '../src/core/types';
import { h, int, pct } from './dom';
import { makeScale, niceMax } from './colorScale';
import { MatrixGrid, type MatrixSpec } from './matrixGrid';
import { renderLegend } from './legend';
import { matrixToCanvas } from './matrixCanvas';
import { exportButtons, exportCsv, exportPng } from './exportChart';
import { post } from './vscodeApi';
import { shapeText, type ViewContext } from './viewContext';

/** Beyond this many layers per-cell numbers no longer fit; the tooltip/table still have them. */
const MAX_LAYERS_WITH_TEXT = 24;

export class HeatmapView {
  readonly el: HTMLElement;
  private readonly grid = new MatrixGrid();
  private readonly body = h('div', { class: 'view-body' });
  private readonly tableBtn: HTMLButtonElement;
  private stats: ProjectStats | undefined;
  private spec: MatrixSpec | undefined;

  constructor(private readonly ctx: ViewContext) {
    this.tableBtn = h('button', { type: 'button', class: 'toggle', 'aria-pressed': 'false', text: 'Table' });
    this.tableBtn.addEventListener('click', () => {
      ctx.state.heatmapTable = !ctx.state.heatmapTable;
      ctx.persist();
      this.render();
    });
    const [png, csv] = exportButtons(() => this.exportPng(), () => this.exportCsv());
    this.el = h(
      'section',
      { class: 'view', 'data-view': 'heatmap' },
      h('div', { class: 'toolbar', role: 'toolbar', 'aria-label': 'Heatmap tools' }, this.tableBtn, png, csv),
      h('p', {
        class: 'hint',
        text: 'Fraction of each masked layer\u2019s weights that a task\u2019s mask switches off. Arrow keys move between cells; task names open the task.',
      }),
      this.body,
    );
  }

  update(stats: ProjectStats | undefined): void {
    this.stats = stats;
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
    const values: Array<Array<number | null>> = s.tasks.map((t) => (t.layerSparsity.length ? t.layerSparsity.slice() : s.layers.map(() => null)));
    const max = niceMax(Math.max(0, ...values.flat().filter((v): v is number => v !== null)));
    const scale = makeScale(0, max);
    this.spec = {
      label: 'Sparsity per task and masked layer',
      rowLabels: s.tasks.map((t) => (t.state === 'failed' ? `${t.name} (damaged)` : t.name)),
      colLabels: s.layers.map((l) => l.name),
      colTitles: s.layers.map((l) => `${l.name} (${l.kind}, ${shapeText(l.shape)}, ${int(l.size)} weights)`),
      values,
      scale,
      showCellText: s.layers.length <= MAX_LAYERS_WITH_TEXT,
      cellText: (v) => (v * 100).toFixed(1),
      describe: (r, c) => {
        const l = s.layers[c];
        const v = values[r][c];
        if (v === null) return `${s.tasks[r].name}, ${l.name}: unknown, the task is damaged: ${s.tasks[r].damage ?? 'unreadable'}`;
        return `${s.tasks[r].name}, ${l.name}: ${pct(v, 2)} of weights off (${int(v * l.size)} / ${int(l.size)}), shape ${shapeText(l.shape)}`;
      },
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
      this.body.replaceChildren(...warn, legend, this.grid.el);
    }
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
    const rows: (string | number)[][] = [['task', 'layer', 'layer_index', 'shape', 'weights_total', 'weights_off', 'sparsity']];
    for (const t of s.tasks)
      s.layers.forEach((l, i) => {
        const v = t.layerSparsity[i];
        rows.push([t.name, l.name, i, shapeText(l.shape), l.size, v === undefined ? '' : Math.round(v * l.size), v === undefined ? '' : v]);
      });
    exportCsv('sparsity-heatmap', rows);
  }
}
