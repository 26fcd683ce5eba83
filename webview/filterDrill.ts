/**
 * Filter-level drill-down of one layer (issue #10.3), opened from a heatmap cell: per output
 * filter the fraction each task keeps (filters x tasks, dead filters marked), a filter-level
 * diff of two tasks, and for conv kernels the kept share at each kernel position of one task
 * as small multiples. The host computes it from the stored masks (core/project/filters.ts).
 */
import type { LayerFilterReport } from '../src/core/project/filters';
import type { ProjectStats } from '../src/core/types';
import { h, int, labelledSelect, pct } from './dom';
import { makeScale, rgbCss, textOn } from './colorScale';
import { MatrixGrid, type MatrixSpec } from './matrixGrid';
import { renderLegend } from './legend';
import { matrixToCanvas } from './matrixCanvas';
import { exportButtons, exportCsv, exportPng } from './exportChart';
import { AnalysisChannel } from './analysisClient';
import { shapeText, type ViewContext } from './viewContext';

export class FilterDrill {
  readonly el: HTMLElement;
  private readonly title = h('h2', { class: 'drill-title', tabindex: -1 });
  private readonly status = h('p', { class: 'drill-status', role: 'status' });
  private readonly body = h('div', { class: 'drill-body' });
  private readonly keptGrid = new MatrixGrid();
  private readonly diffGrid = new MatrixGrid();
  private readonly diffA = labelledSelect('filters-diff-a', 'Diff task A', []);
  private readonly diffB = labelledSelect('filters-diff-b', 'task B', []);
  private readonly posTask = labelledSelect('filters-pos-task', 'Kernel positions of', []);
  private readonly channel = new AnalysisChannel();
  private stats: ProjectStats | undefined;
  private layer: string | undefined;
  private report: LayerFilterReport | undefined;
  private keptSpec: MatrixSpec | undefined;

  constructor(private readonly ctx: ViewContext) {
    const close = h('button', { type: 'button', class: 'drill-close', text: 'Close' });
    close.addEventListener('click', () => this.close());
    for (const s of [this.diffA.select, this.diffB.select, this.posTask.select]) s.addEventListener('change', () => this.request());
    const [png, csv] = exportButtons(() => this.exportPng(), () => this.exportCsv());
    this.el = h(
      'section',
      { class: 'drill', 'data-view': 'filters', hidden: true, 'aria-labelledby': 'drill-title' },
      h('div', { class: 'toolbar', role: 'toolbar', 'aria-label': 'Filter drill-down tools' }, this.title, h('span', { class: 'spacer' }), png, csv, close),
      // The pickers stay through an error, so another pair can be tried.
      h('div', { class: 'toolbar', 'aria-label': 'Filter drill-down choices' }, this.diffA.el, this.diffB.el, this.posTask.el),
      this.status,
      this.body,
    );
    this.title.id = 'drill-title';
  }

  /** The project changed: keep the open layer if it still exists. */
  update(stats: ProjectStats | undefined): void {
    this.stats = stats;
    if (this.layer && !stats?.layers.some((l) => l.name === this.layer)) this.close();
  }

  /** Opens layer `layer` with `task` preselected (diff A, kernel positions). Focus stays on the heatmap cell. */
  open(layer: string, task: string): void {
    const s = this.stats;
    if (!s) return;
    this.layer = layer;
    const names = s.tasks.filter((t) => t.state !== 'failed').map((t) => t.name);
    const fill = (sel: HTMLSelectElement, value: string | undefined) => {
      sel.replaceChildren(...names.map((n) => h('option', { value: n, text: n })));
      if (value !== undefined) sel.value = value;
    };
    const other = names.find((n) => n !== task);
    fill(this.diffA.select, task);
    fill(this.diffB.select, other);
    fill(this.posTask.select, task);
    this.el.hidden = false;
    // No announce(): the cell's own description stays in the live region; the drill's status line (role=status) speaks for it.
    this.request();
  }

  close(): void {
    this.channel.cancel();
    this.layer = this.report = this.keptSpec = undefined;
    this.el.hidden = true;
  }

  private request(): void {
    const s = this.stats;
    const l = s?.layers.find((x) => x.name === this.layer);
    if (!s || !l) return;
    this.title.textContent = `Layer ${l.name} (${l.kind}, ${shapeText(l.shape)})`;
    this.posTask.el.hidden = l.kind === 'dense'; // dense layers have no kernel positions
    this.status.textContent = 'Counting kept weights per filter…';
    const a = this.diffA.select.value;
    const b = this.diffB.select.value;
    const pos = this.posTask.select.value;
    this.channel.send(
      { kind: 'filters', layer: l.name, ...(a && b && a !== b ? { diff: [a, b] as [string, string] } : {}), ...(l.kind !== 'dense' && pos ? { positionsOf: pos } : {}) },
      (r) => r.kind === 'filters' && this.render(r.report),
      (message) => {
        this.report = this.keptSpec = undefined;
        this.status.textContent = message;
        this.body.replaceChildren();
      },
    );
  }

  private render(r: LayerFilterReport): void {
    this.report = r;
    const F = r.filters;
    const per = r.weightsPerFilter;
    const dead = r.tasks.map((t) => `${t.task} ${t.dead.length}${t.dead.length ? ` (${t.dead.slice(0, 12).join(', ')}${t.dead.length > 12 ? ', …' : ''})` : ''}`);
    this.status.textContent = `${int(F)} output filters of ${int(per)} weights each. Dead filters (no weight kept, the output is the bias alone): ${dead.join('; ')}.${r.skipped.length ? ` Skipped: ${r.skipped.map((x) => `${x.task}: ${x.reason}`).join('; ')}` : ''}`;
    const scale = makeScale(0, 1);
    this.keptSpec = {
      label: `Fraction kept per filter and task, layer ${r.layer.name}`,
      rowLabels: Array.from({ length: F }, (_, f) => `filter ${f}`),
      colLabels: r.tasks.map((t) => t.task),
      values: Array.from({ length: F }, (_, f) => r.tasks.map((t) => t.fraction[f])),
      scale,
      showCellText: true,
      cellText: (v) => (v * 100).toFixed(1),
      cellTextAt: (f, c) => (r.tasks[c].kept[f] === 0 ? 'dead' : (r.tasks[c].fraction[f] * 100).toFixed(1)),
      describe: (f, c) => {
        const t = r.tasks[c];
        return `filter ${f}, ${t.task}: ${int(t.kept[f])} of ${int(per)} weights kept (${pct(t.fraction[f], 2)})${t.kept[f] === 0 ? ', dead: no weight kept' : ''}`;
      },
    };
    this.keptGrid.render(this.keptSpec);
    const diffCol: HTMLElement[] = [h('h3', { text: 'Filter-level diff' })];
    if (r.diff) {
      const d = r.diff;
      const cols = [d.both, d.aOnly, d.bOnly];
      this.diffGrid.render({
        label: `Filter-level diff of ${d.a} and ${d.b}, layer ${r.layer.name}`,
        rowLabels: Array.from({ length: F }, (_, f) => `filter ${f}`),
        colLabels: ['both', `${d.a} only`, `${d.b} only`],
        values: Array.from({ length: F }, (_, f) => cols.map((c) => (per ? c[f] / per : 0))),
        scale,
        showCellText: true,
        cellText: (v) => (v * 100).toFixed(1),
        describe: (f) => `filter ${f}: kept by both ${int(d.both[f])}, by ${d.a} only ${int(d.aOnly[f])}, by ${d.b} only ${int(d.bOnly[f])}, by neither ${int(d.neither[f])} (of ${int(per)})`,
      });
      diffCol.push(this.diffGrid.el);
    } else diffCol.push(h('p', { class: 'empty', text: 'Pick two different tasks to diff.' }));
    // The two filter grids side by side: same rows, so a filter reads across.
    const parts: HTMLElement[] = [
      renderLegend(scale, 'Weights kept in the filter (both grids)', (v) => pct(v, 0)),
      h('div', { class: 'side-by-side' }, h('div', {}, h('h3', { text: 'Kept per filter, every task' }), this.keptGrid.el), h('div', {}, ...diffCol)),
    ];
    if (r.kernel) {
      parts.push(h('h3', { text: 'Kept kernel positions per filter' }));
      if (r.positions) parts.push(this.renderPositions(r, r.kernel, r.positions));
    }
    this.body.replaceChildren(...parts);
  }

  /** Small multiples: one kh x kw grid per filter, each position coloured by kept / perPosition. */
  private renderPositions(r: LayerFilterReport, [kh, kw]: [number, number], p: NonNullable<LayerFilterReport['positions']>): HTMLElement {
    const scale = makeScale(0, 1);
    const figs = p.kept.map((pos, f) => {
      const text = pos.map((k, i) => `(${Math.floor(i / kw)},${i % kw}) ${k}/${p.perPosition}`).join(', ');
      const label = `filter ${f}, ${p.task}: kept per kernel position ${text}`;
      const cells = pos.map((k) => {
        const rgb = scale.color(p.perPosition ? k / p.perPosition : 0);
        const c = h('span', { class: 'kpos', 'data-value': String(k) });
        c.style.backgroundColor = rgbCss(rgb);
        c.style.color = textOn(rgb);
        return c;
      });
      const grid = h('span', { class: 'kgrid', 'aria-hidden': 'true' }, ...cells);
      grid.style.gridTemplateColumns = `repeat(${kw}, 10px)`;
      return h('figure', { class: 'kfig', tabindex: 0, 'data-filter': f, title: label, 'aria-label': label }, grid, h('figcaption', { text: String(f) }));
    });
    return h('div', { class: 'kernel-multiples', role: 'group', 'aria-label': `Kept ${kh}×${kw} kernel positions per filter of ${p.task}, layer ${r.layer.name}` }, ...figs);
  }

  exportPng(): void {
    if (!this.keptSpec || !this.report) return;
    exportPng(`filters-${this.report.layer.name}`, matrixToCanvas(this.keptSpec, `Fraction kept per filter: ${this.report.layer.name}`, (v) => pct(v, 0), this.ctx.theme()));
  }

  exportCsv(): void {
    const r = this.report;
    if (!r) return;
    const d = r.diff;
    const p = r.positions;
    const kw = r.kernel?.[1] ?? 1;
    const posCols = p ? p.kept[0]?.map((_, i) => `${p.task} kept at y${Math.floor(i / kw)} x${i % kw}`) ?? [] : [];
    exportCsv(`filters-${r.layer.name}`, [
      ['filter', ...r.tasks.map((t) => `${t.task} kept`), ...r.tasks.map((t) => `${t.task} dead`), ...(d ? ['both', `${d.a} only`, `${d.b} only`, 'neither'] : []), ...posCols],
      ...Array.from({ length: r.filters }, (_, f) => [
        f,
        ...r.tasks.map((t) => t.kept[f]),
        ...r.tasks.map((t) => (t.kept[f] === 0 ? 1 : 0)),
        ...(d ? [d.both[f], d.aOnly[f], d.bOnly[f], d.neither[f]] : []),
        ...(p ? p.kept[f] : []),
      ]),
    ]);
  }
}
