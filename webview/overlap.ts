/**
 * Overlap between task masks: Jaccard similarity of the weights each task keeps, or the
 * Hamming distance (mask bits that differ), overall or for one layer. Selecting a cell
 * breaks that task pair down per layer, which shows where two tasks' masks diverge; beside
 * it, on request, linear CKA of the two tasks' activations per layer (issue #10.5), so "masks
 * look different but compute the same", or the reverse, shows per layer.
 */
import type { SimilarityResult } from '../src/core/engine';
import { AnalysisChannel } from './analysisClient';
import type { OverlapMatrices, ProjectStats } from '../src/core/types';
import type { OverlapMetric } from '../src/shared/protocol';
import { h, int, pct } from './dom';
import { makeScale, niceMax } from './colorScale';
import { MatrixGrid, type MatrixSpec } from './matrixGrid';
import { renderLegend } from './legend';
import { matrixToCanvas } from './matrixCanvas';
import { exportButtons, exportCsv, exportPng } from './exportChart';
import type { ViewContext } from './viewContext';

const METRIC_LABEL: Record<OverlapMetric, string> = {
  jaccard: 'Jaccard overlap of kept weights',
  hamming: 'Hamming distance (mask bits that differ)',
};

export function compactCount(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e6) return `${(v / 1e6).toFixed(a >= 1e7 ? 0 : 1)}M`;
  if (a >= 1e4) return `${(v / 1e3).toFixed(0)}k`;
  if (a >= 1e3) return `${(v / 1e3).toFixed(1)}k`;
  return String(Math.round(v));
}

export class OverlapView {
  readonly el: HTMLElement;
  private readonly grid = new MatrixGrid();
  private readonly body = h('div', { class: 'view-body' });
  private readonly detail = h('div', { class: 'pair-detail', 'aria-live': 'polite' });
  private readonly layerSelect = h('select', { id: 'overlap-layer', 'aria-label': 'Layer' });
  private readonly metricInputs: Record<OverlapMetric, HTMLInputElement>;
  private readonly scaleSelect = h('select', { id: 'overlap-scale', 'aria-label': 'Colour scale' }, h('option', { value: 'fixed', text: '0–1' }), h('option', { value: 'data', text: 'data range' }));
  private readonly scaleLabel = h('label', { for: 'overlap-scale', class: 'select-label' }, 'Colours ', this.scaleSelect);
  private stats: ProjectStats | undefined;
  private spec: MatrixSpec | undefined;
  private pair: [number, number] | undefined;
  private legendLabel = '';
  /** CKA results by "A|B", for the project they were computed in. */
  private readonly cka = new Map<string, SimilarityResult>();
  private ckaKey = '';
  private readonly ckaChannel = new AnalysisChannel();
  private readonly ckaBtn = h('button', { type: 'button', 'data-action': 'cka', text: 'Compute CKA' });
  private readonly ckaStatus = h('p', { class: 'cka-status', role: 'status' });
  private readonly pairCsvBtn = h('button', { type: 'button', 'data-export': 'pair-csv', text: 'Export pair CSV' });

  constructor(private readonly ctx: ViewContext) {
    const radio = (m: OverlapMetric, label: string) => {
      const input = h('input', { type: 'radio', name: 'overlap-metric', value: m, id: `metric-${m}` });
      input.addEventListener('change', () => {
        if (!input.checked) return;
        ctx.state.overlapMetric = m;
        ctx.persist();
        this.render();
      });
      return { input, el: h('label', { for: input.id, class: 'radio' }, input, label) };
    };
    const j = radio('jaccard', 'Jaccard');
    const hm = radio('hamming', 'Hamming');
    this.metricInputs = { jaccard: j.input, hamming: hm.input };
    this.layerSelect.addEventListener('change', () => {
      ctx.state.overlapLayer = Number(this.layerSelect.value);
      ctx.persist();
      this.render();
    });
    this.scaleSelect.addEventListener('change', () => {
      ctx.state.overlapScale = this.scaleSelect.value === 'data' ? 'data' : 'fixed';
      ctx.persist();
      this.render();
    });
    const [png, csv] = exportButtons(() => this.exportPng(), () => this.exportCsv());
    this.ckaBtn.addEventListener('click', () => this.computeCka());
    this.pairCsvBtn.addEventListener('click', () => this.exportPairCsv());
    this.el = h(
      'section',
      { class: 'view', 'data-view': 'overlap' },
      h(
        'div',
        { class: 'toolbar' },
        h('fieldset', { class: 'segmented' }, h('legend', { class: 'sr-only', text: 'Metric' }), j.el, hm.el),
        h('label', { for: this.layerSelect.id, class: 'select-label' }, 'Layer ', this.layerSelect),
        this.scaleLabel,
        h('span', { class: 'spacer' }),
        png,
        csv,
      ),
      h('p', { class: 'hint', text: 'Select a cell (click or Enter) to compare that pair of tasks layer by layer.' }),
      this.body,
      this.detail,
    );
  }

  update(stats: ProjectStats | undefined): void {
    // CKA belongs to the project and its task files; a new task list or project drops it.
    const key = stats ? `${stats.dir}|${stats.tasks.map((t) => t.name).join('|')}` : '';
    if (key !== this.ckaKey) {
      this.cka.clear();
      this.ckaChannel.cancel();
      this.ckaStatus.textContent = '';
      this.ckaBtn.removeAttribute('aria-busy');
      this.ckaKey = key;
    }
    this.stats = stats;
    if (this.pair && (!stats || this.pair.some((i) => i >= stats.tasks.length))) this.pair = undefined;
    this.render();
  }

  private matrices(s: ProjectStats): OverlapMatrices {
    const l = this.ctx.state.overlapLayer;
    return l >= 0 && l < s.overlap.perLayer.length ? s.overlap.perLayer[l] : s.overlap.overall;
  }

  private render(): void {
    const s = this.stats;
    const st = this.ctx.state;
    this.metricInputs[st.overlapMetric].checked = true;
    if (!s || s.tasks.length === 0) {
      this.spec = undefined;
      this.layerSelect.replaceChildren();
      this.body.replaceChildren(h('p', { class: 'empty', text: 'Overlap needs at least one trained task.' }));
      this.detail.replaceChildren();
      return;
    }
    if (st.overlapLayer >= s.layers.length) st.overlapLayer = -1;
    this.layerSelect.replaceChildren(
      h('option', { value: -1, text: 'All layers' }),
      ...s.layers.map((l, i) => h('option', { value: i, text: l.name })),
    );
    this.layerSelect.value = String(st.overlapLayer);

    const metric = st.overlapMetric;
    const mats = this.matrices(s);
    const values = mats[metric].map((r) => r.slice());
    const layerIdx = st.overlapLayer;
    const total = layerIdx >= 0 ? s.layers[layerIdx].size : s.backbone.maskedParams;
    const where = layerIdx >= 0 ? s.layers[layerIdx].name : 'all layers';
    const known = values.flat().filter((v): v is number => v !== null);
    // A task's overlap with itself is always 1: the data range is the pairs'.
    const pairs = values.flatMap((r, i) => r.filter((v, j): v is number => i !== j && v !== null));
    const lo = Math.min(...pairs);
    const hi = Math.max(...pairs);
    const dataRange = metric === 'jaccard' && st.overlapScale === 'data' && pairs.length > 0 && hi > lo;
    const scale = metric === 'jaccard' ? (dataRange ? makeScale(lo, hi) : makeScale(0, 1)) : makeScale(0, niceMax(Math.max(0, ...known)));
    this.scaleSelect.value = st.overlapScale;
    this.scaleLabel.hidden = metric !== 'jaccard';
    const scaleNote = metric !== 'jaccard' ? '' : dataRange ? `, colours over the data range ${lo.toFixed(3)}–${hi.toFixed(3)} (diagonal: 1)` : st.overlapScale === 'data' ? ', colours 0–1 (every pair has the same value)' : ', colours 0–1';
    const names = s.tasks.map((t) => (t.state === 'failed' ? `${t.name} (damaged)` : t.name));
    this.spec = {
      label: `${METRIC_LABEL[metric]} between tasks, ${where}`,
      rowLabels: names,
      colLabels: names,
      values,
      scale,
      showCellText: names.length <= 16,
      cellText: metric === 'jaccard' ? (v) => v.toFixed(3) : compactCount,
      describe: (r, c) => {
        const jac = mats.jaccard[r][c];
        const ham = mats.hamming[r][c];
        if (jac === null || ham === null) return `${names[r]} vs ${names[c]}, ${where}: unknown, a task is damaged`;
        return `${names[r]} vs ${names[c]}, ${where}: Jaccard ${jac.toFixed(4)}, Hamming ${int(ham)} bits` +
          (total > 0 ? ` (${pct(ham / total, 2)} of ${int(total)})` : '');
      },
      onActivate: (r, c) => {
        this.pair = [r, c];
        this.grid.select(r, c);
        this.renderDetail();
      },
    };
    this.grid.render(this.spec);
    if (this.pair) this.grid.select(...this.pair);
    const fmt = metric === 'jaccard' ? (v: number) => v.toFixed(dataRange ? 3 : 2) : compactCount;
    this.legendLabel = `${METRIC_LABEL[metric]}${scaleNote}`;
    this.body.replaceChildren(renderLegend(scale, this.legendLabel, fmt), this.grid.el);
    this.grid.restoreFocus();
    this.renderDetail();
  }

  private renderDetail(): void {
    const s = this.stats;
    if (!s || !this.pair) {
      this.detail.replaceChildren();
      return;
    }
    const [a, b] = this.pair;
    const ta = s.tasks[a].name;
    const tb = s.tasks[b].name;
    const sim = this.cka.get(`${ta}|${tb}`);
    const ckaCell = (i: number | null) => {
      if (!sim) return null;
      const v = i === null ? undefined : sim.layers[i]?.cka;
      return v === undefined
        ? h('td', { 'data-metric': 'cka', 'data-value': 'null', title: 'CKA is per layer', text: '–' })
        : h('td', { 'data-metric': 'cka', 'data-value': String(v) }, bar(v), h('span', { text: v.toFixed(4) }));
    };
    const row = (name: string, title: string, m: OverlapMatrices, size: number, layer: number | null, cls = '') => {
      const jac = m.jaccard[a][b];
      const ham = m.hamming[a][b];
      if (jac === null || ham === null) {
        return h('tr', { class: cls }, h('th', { scope: 'row', title, text: name }), h('td', { 'data-metric': 'jaccard', 'data-value': 'null', text: '–' }), h('td', { 'data-metric': 'hamming', 'data-value': 'null', text: '–' }), ckaCell(layer));
      }
      const frac = size > 0 ? ham / size : 0;
      return h(
        'tr',
        { class: cls },
        h('th', { scope: 'row', title, text: name }),
        h('td', { 'data-metric': 'jaccard', 'data-value': String(jac) }, bar(jac), h('span', { text: jac.toFixed(4) })),
        h('td', { 'data-metric': 'hamming', 'data-value': String(ham) }, bar(frac), h('span', { text: `${int(ham)} (${pct(frac, 2)})` })),
        ckaCell(layer),
      );
    };
    const refocus = document.activeElement === this.ckaBtn ? this.ckaBtn : document.activeElement === this.pairCsvBtn ? this.pairCsvBtn : null;
    const damaged = s.tasks[a].state === 'failed' || s.tasks[b].state === 'failed';
    this.ckaBtn.disabled = damaged;
    this.ckaBtn.textContent = sim ? 'Recompute CKA' : 'Compute CKA';
    this.detail.replaceChildren(
      h('h3', { text: `${ta} vs ${tb}, per layer` }),
      h('div', { class: 'toolbar' }, this.ckaBtn, this.pairCsvBtn),
      this.ckaStatus,
      h(
        'div',
        { class: 'table-wrap' },
        h(
          'table',
          { class: 'data-table pair-table', 'data-pair': `${a},${b}` },
          h('caption', { class: 'sr-only', text: `Jaccard overlap and Hamming distance between ${ta} and ${tb} for each masked layer` }),
          h('thead', {}, h('tr', {}, h('th', { scope: 'col', text: 'Layer' }), h('th', { scope: 'col', text: 'Jaccard (kept weights)' }), h('th', { scope: 'col', text: 'Hamming (bits differ, % of layer)' }), sim ? h('th', { scope: 'col', text: 'CKA (activations)' }) : null)),
          h(
            'tbody',
            {},
            ...s.layers.map((l, i) => row(l.name, `${l.kind} ${l.shape.join('×')}`, s.overlap.perLayer[i], l.size, i)),
            row('All layers', 'overall', s.overlap.overall, s.backbone.maskedParams, null, 'total'),
          ),
        ),
      ),
    );
    refocus?.focus();
  }

  /** Linear CKA of the selected pair, computed by the engine in the worker on the first task's validation images. */
  private computeCka(): void {
    const s = this.stats;
    if (!s || !this.pair) return;
    if (this.ckaChannel.busy) return; // one at a time; the button stays enabled so it keeps focus
    const [ta, tb] = this.pair.map((i) => s.tasks[i].name);
    this.ckaBtn.setAttribute('aria-busy', 'true');
    this.ckaStatus.textContent = `Computing CKA of ${ta} and ${tb} on ${ta}'s validation images…`;
    this.ckaChannel.send(
      { kind: 'similarity', taskA: ta, taskB: tb },
      (r) => {
        this.ckaBtn.removeAttribute('aria-busy');
        if (r.kind !== 'similarity') return;
        this.cka.set(`${r.result.taskA}|${r.result.taskB}`, r.result);
        const p = r.result.probe;
        this.ckaStatus.textContent = `CKA of ${r.result.taskA} and ${r.result.taskB}: linear CKA of the two masked networks' activations at each layer (1 = the same up to rotation and scale), on ${int(p.count)} ${p.split === 'val' ? 'validation' : 'test'} images of ${p.task}, in ${r.result.seconds.toFixed(2)} s.`;
        this.renderDetail();
      },
      (message) => {
        this.ckaBtn.removeAttribute('aria-busy');
        this.ckaStatus.textContent = message;
      },
    );
  }

  private exportPairCsv(): void {
    const s = this.stats;
    if (!s || !this.pair) return;
    const [a, b] = this.pair;
    const ta = s.tasks[a].name;
    const tb = s.tasks[b].name;
    const sim = this.cka.get(`${ta}|${tb}`);
    exportCsv(`pair-${ta}-${tb}`, [
      ['layer', 'jaccard', 'hamming', ...(sim ? ['cka'] : [])],
      ...s.layers.map((l, i) => [l.name, s.overlap.perLayer[i].jaccard[a][b], s.overlap.perLayer[i].hamming[a][b], ...(sim ? [sim.layers[i]?.cka ?? null] : [])]),
      ['all layers', s.overlap.overall.jaccard[a][b], s.overlap.overall.hamming[a][b], ...(sim ? [null] : [])],
    ]);
  }

  exportPng(): void {
    if (!this.spec) return;
    const fmt = this.ctx.state.overlapMetric === 'jaccard' ? (v: number) => v.toFixed(3) : compactCount;
    const canvas = matrixToCanvas(this.spec, this.legendLabel || this.spec.label, fmt, this.ctx.theme());
    exportPng(this.fileBase(), canvas);
  }

  exportCsv(): void {
    const s = this.stats;
    if (!s) return;
    const m = this.matrices(s)[this.ctx.state.overlapMetric];
    const names = s.tasks.map((t) => t.name);
    exportCsv(this.fileBase(), [['task', ...names], ...m.map((r, i) => [names[i], ...r.map((v) => (v === null ? '' : v))])]);
  }

  private fileBase(): string {
    const s = this.stats;
    const l = this.ctx.state.overlapLayer;
    const where = s && l >= 0 ? s.layers[l].name : 'overall';
    return `overlap-${this.ctx.state.overlapMetric}-${where}`;
  }
}

/** A proportion bar; width set through the CSSOM because style attributes are blocked by the CSP. */
function bar(frac: number): HTMLElement {
  const fill = h('span', { class: 'bar-fill' });
  fill.style.width = `${Math.max(0, Math.min(1, frac)) * 100}%`;
  return h('span', { class: 'bar', 'aria-hidden': 'true' }, fill);
}
