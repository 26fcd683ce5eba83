/**
 * Threshold what-if (issue #10.1): a slider re-binarises a task's stored scores at another
 * threshold with no retraining. Each move (debounced) asks the host, which runs
 * engine.rethresholdTask in its long-lived worker (the probe set stays cached); a reply to
 * an older move is dropped. Shows per-layer sparsity, probe accuracy and bits per weight, and
 * an accuracy-vs-sparsity curve of every threshold seen; "Save as task…" hands the threshold
 * to the host's save path. The engine's messages (e.g. no scores.bin) are shown as they come.
 */
import { Chart, LineController, LineElement, LinearScale, PointElement, Title, Tooltip } from 'chart.js';
import type { RethresholdPoint, RethresholdResult } from '../src/core/engine';
import type { ProjectStats, TaskStats } from '../src/core/types';
import { h, int, labelledSelect, pct } from './dom';
import { AnalysisChannel } from './analysisClient';
import { exportButtons, exportCsv, exportPng } from './exportChart';
import type { Theme } from './theme';
import { applyChartTheme } from './chartTheme';
import { post } from './vscodeApi';
import type { ViewContext } from './viewContext';

Chart.register(LineController, LineElement, PointElement, LinearScale, Tooltip, Title);

/** Slider positions between 0 and the mask scale (exclusive: at the scale every weight is off). */
export const SLIDER_STEPS = 200;
/** Wait this long after the last move before asking the host. */
export const DEBOUNCE_MS = 120;

export const thresholdAt = (scale: number, i: number): number => Number(((scale * i) / SLIDER_STEPS).toPrecision(6));
const fmtT = (t: number): string => String(Number(t.toPrecision(4)));

export class WhatIfView {
  readonly el: HTMLElement;
  private readonly task = labelledSelect('whatif-task', 'Task', []);
  private readonly slider = h('input', { type: 'range', id: 'whatif-threshold', min: 0, max: SLIDER_STEPS - 1, step: 1, value: SLIDER_STEPS / 2 });
  private readonly readout = h('output', { for: 'whatif-threshold', class: 'whatif-readout' });
  private readonly sweepBtn = h('button', { type: 'button', 'data-action': 'sweep', text: 'Sweep thresholds' });
  private readonly saveBtn = h('button', { type: 'button', 'data-action': 'save-threshold', text: 'Save as task…' });
  private readonly status = h('p', { class: 'whatif-status', role: 'status' });
  private readonly summary = h('div', { class: 'whatif-summary', 'aria-live': 'polite' });
  private readonly layers = h('div', { class: 'table-wrap' });
  private readonly canvas = h('canvas', { class: 'whatif-curve', tabindex: 0, role: 'img', 'aria-label': 'Probe accuracy against sparsity across thresholds' });
  private readonly pointsTable = h('div', { class: 'table-wrap' });
  private readonly channel = new AnalysisChannel();
  private chart: Chart<'line', Array<{ x: number; y: number }>> | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private stats: ProjectStats | undefined;
  /** Points seen per task, by threshold (the curve). */
  private points = new Map<string, Map<number, RethresholdPoint>>();
  private current: number | undefined;

  constructor(private readonly ctx: ViewContext) {
    this.task.select.addEventListener('change', () => {
      ctx.state.whatIfTask = this.task.select.value;
      ctx.persist();
      this.resetTask();
    });
    this.slider.addEventListener('input', () => this.onMove());
    this.sweepBtn.addEventListener('click', () => this.sweep());
    this.saveBtn.addEventListener('click', () => {
      const t = this.selectedTask();
      if (t && this.current !== undefined) post({ type: 'saveThreshold', task: t.name, threshold: this.current });
    });
    const [png, csv] = exportButtons(() => this.exportPng(), () => this.exportCsv());
    const sliderLabel = h('label', { for: 'whatif-threshold', class: 'select-label', text: 'Threshold ' });
    this.el = h(
      'section',
      { class: 'view', 'data-view': 'whatif' },
      h('div', { class: 'toolbar', role: 'toolbar', 'aria-label': 'Threshold what-if tools' }, this.task.el, this.sweepBtn, this.saveBtn, h('span', { class: 'spacer' }), png, csv),
      h('p', { class: 'hint', text: 'Re-binarise the task\u2019s stored scores at another threshold, with no retraining, and re-evaluate a cached probe set. The original task is never altered: "Save as task…" stores the mask as a new task.' }),
      h('div', { class: 'toolbar whatif-slider' }, sliderLabel, this.slider, this.readout),
      this.status,
      this.summary,
      this.layers,
      h('div', { class: 'chart-box whatif-chart' }, this.canvas),
      this.pointsTable,
    );
  }

  /** Chart.js measures its container: main.ts calls this once the tab is visible. */
  mount(): void {
    if (this.chart) return;
    this.chart = new Chart(this.canvas, {
      type: 'line',
      data: { datasets: [{ label: 'probe accuracy', data: [], showLine: true, pointRadius: 4, borderWidth: 2 }] },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        interaction: { mode: 'nearest', intersect: false },
        scales: {
          x: { type: 'linear', title: { display: true, text: 'weights switched off' }, ticks: { callback: (v) => pct(Number(v), 0) } },
          y: { type: 'linear', suggestedMin: 0, suggestedMax: 1, title: { display: true, text: 'probe accuracy' }, ticks: { callback: (v) => pct(Number(v), 0) } },
        },
        plugins: {
          title: { display: true, text: 'Probe accuracy against sparsity across thresholds' },
          tooltip: {
            callbacks: { title: () => '', label: (item) => this.pointText(this.curve()[item.dataIndex]) },
            // The hover's text, also where tests can read it.
            external: ({ tooltip }) => {
              this.canvas.dataset.tooltip = tooltip.opacity === 0 ? '' : tooltip.body.flatMap((b) => b.lines).join('\n');
            },
          },
        },
      },
    });
    this.applyTheme(this.ctx.theme());
    this.drawCurve();
  }

  applyTheme(t: Theme): void {
    const c = this.chart;
    if (!c) return;
    applyChartTheme(c, t);
    const ds = c.data.datasets[0];
    ds.borderColor = ds.backgroundColor = t.series[0];
    c.update('none');
  }

  update(stats: ProjectStats | undefined): void {
    const before = this.selectedTask()?.name;
    const dirChanged = stats?.dir !== this.stats?.dir;
    this.stats = stats;
    if (dirChanged) this.points.clear();
    const tasks = this.tasks();
    this.task.select.replaceChildren(...tasks.map((t) => h('option', { value: t.name, text: t.name })));
    const want = tasks.find((t) => t.name === this.ctx.state.whatIfTask) ?? tasks[0];
    if (want) this.task.select.value = want.name;
    if (dirChanged || want?.name !== before) this.resetTask();
    else this.renderEmpty();
  }

  private tasks(): TaskStats[] {
    return this.stats?.tasks.filter((t) => t.state === 'trained') ?? [];
  }

  private selectedTask(): TaskStats | undefined {
    return this.tasks().find((t) => t.name === this.task.select.value);
  }

  private renderEmpty(): boolean {
    const none = this.tasks().length === 0;
    for (const c of [this.slider, this.sweepBtn, this.saveBtn, this.task.select]) c.disabled = none;
    if (none) {
      this.status.textContent = 'No trained task yet: train a task to try other thresholds on it.';
      this.summary.replaceChildren();
      this.layers.replaceChildren();
    }
    return none;
  }

  /** Another task: the slider goes to its trained threshold, nothing is asked until it moves. */
  private resetTask(): void {
    this.channel.cancel();
    if (this.timer) clearTimeout(this.timer);
    this.current = undefined;
    this.summary.replaceChildren();
    this.layers.replaceChildren();
    if (this.renderEmpty()) return;
    this.saveBtn.disabled = true; // until a threshold has been tried
    const t = this.selectedTask()!;
    this.slider.value = String(Math.round((t.options.threshold / t.options.maskScale) * SLIDER_STEPS));
    this.showReadout();
    this.status.textContent = `Trained at threshold ${fmtT(t.options.threshold)} (mask scale ${fmtT(t.options.maskScale)}). Move the slider or sweep.`;
    this.drawCurve();
  }

  private sliderThreshold(): number {
    const t = this.selectedTask();
    return t ? thresholdAt(t.options.maskScale, Number(this.slider.value)) : 0;
  }

  private showReadout(): void {
    const t = this.sliderThreshold();
    const trained = this.selectedTask()?.options.threshold;
    this.readout.textContent = `${fmtT(t)}${trained !== undefined && Math.abs(trained - t) < 1e-12 ? ' (trained)' : ''}`;
    this.slider.setAttribute('aria-valuetext', `threshold ${fmtT(t)}`);
  }

  private onMove(): void {
    this.showReadout();
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.ask([this.sliderThreshold()]), DEBOUNCE_MS);
  }

  private sweep(): void {
    const t = this.selectedTask();
    if (!t) return;
    const s = t.options.maskScale;
    const ts = [...new Set([...Array.from({ length: 9 }, (_, i) => Number(((s * i) / 9).toPrecision(6))), t.options.threshold])].sort((a, b) => a - b);
    this.ask(ts, this.sliderThreshold());
  }

  /** `show` is the threshold whose numbers fill the summary (the slider's); the rest feed the curve. */
  private ask(thresholds: number[], show = thresholds[0]): void {
    const t = this.selectedTask();
    if (!t) return;
    const all = show === thresholds[0] || thresholds.includes(show) ? thresholds : [show, ...thresholds];
    this.status.textContent = `Re-thresholding ${t.name} at ${all.length === 1 ? fmtT(all[0]) : `${all.length} thresholds`}…`;
    this.channel.send(
      { kind: 'rethreshold', task: t.name, thresholds: all },
      (r) => r.kind === 'rethreshold' && this.onResult(r.result, show),
      (message) => {
        this.status.textContent = message;
        this.saveBtn.disabled = true;
      },
    );
  }

  private onResult(r: RethresholdResult, show: number): void {
    const seen = this.points.get(r.task) ?? new Map<number, RethresholdPoint>();
    for (const p of r.points) seen.set(p.threshold, p);
    this.points.set(r.task, seen);
    const p = r.points.find((x) => x.threshold === show) ?? r.points[0];
    this.current = p.threshold;
    this.saveBtn.disabled = false;
    this.status.textContent = `Probe: ${int(r.probe.count)} ${r.probe.split === 'val' ? 'validation' : 'test'} images; scores.bin ${int(r.scoresBytes)} bytes; trained at ${fmtT(r.trainedThreshold)}.`;
    this.renderPoint(r.task, p);
    this.drawCurve();
  }

  private pointText(p: RethresholdPoint | undefined): string {
    return p ? `threshold ${fmtT(p.threshold)}: ${pct(p.sparsity, 2)} off, probe accuracy ${pct(p.probeAccuracy, 2)}, ${p.bitsPerMaskedWeight.toFixed(3)} bits/weight` : '';
  }

  private renderPoint(task: string, p: RethresholdPoint): void {
    const s = this.stats;
    const t = s?.tasks.find((x) => x.name === task);
    const item = (k: string, v: string, key: string) => h('div', { class: 'stat', 'data-stat': key }, h('span', { class: 'meta', text: k }), h('strong', { text: v }));
    this.summary.replaceChildren(
      item('threshold', fmtT(p.threshold), 'threshold'),
      item('probe accuracy', pct(p.probeAccuracy, 2), 'accuracy'),
      item('weights off', pct(p.sparsity, 2), 'sparsity'),
      item('bits per weight', p.bitsPerMaskedWeight.toFixed(3), 'bits'),
    );
    if (!s) return;
    const rows = s.layers.map((l, i) => {
      const was = t?.layerSparsity[i];
      const now = p.layerSparsity[i];
      return h('tr', {}, h('th', { scope: 'row', text: l.name }),
        h('td', { 'data-value': String(was ?? null), text: was === undefined ? '–' : pct(was, 2) }),
        h('td', { 'data-value': String(now ?? null), title: now === undefined ? '' : `${int(now * l.size)} / ${int(l.size)} weights off`, text: now === undefined ? '–' : pct(now, 2) }),
        h('td', { text: was === undefined || now === undefined ? '–' : `${now >= was ? '+' : '−'}${pct(Math.abs(now - was), 2)}` }));
    });
    this.layers.replaceChildren(h('table', { class: 'data-table', 'data-table': 'whatif-layers' },
      h('caption', { text: `Per-layer sparsity at threshold ${fmtT(p.threshold)}` }),
      h('thead', {}, h('tr', {}, ...['layer', 'trained', `at ${fmtT(p.threshold)}`, 'change'].map((c) => h('th', { scope: 'col', text: c })))),
      h('tbody', {}, ...rows)));
  }

  /** The selected task's points, by sparsity (the curve's x). */
  private curve(): RethresholdPoint[] {
    const t = this.selectedTask();
    return [...(t ? this.points.get(t.name)?.values() ?? [] : [])].sort((a, b) => a.sparsity - b.sparsity || a.threshold - b.threshold);
  }

  private drawCurve(): void {
    const pts = this.curve();
    if (this.chart) {
      this.chart.data.datasets[0].data = pts.map((p) => ({ x: p.sparsity, y: p.probeAccuracy }));
      this.chart.update('none');
    }
    this.canvas.setAttribute('aria-label', `Probe accuracy against sparsity across ${pts.length} thresholds (exact values in the table below)`);
    this.pointsTable.replaceChildren(
      pts.length === 0 ? h('p', { class: 'meta', text: 'No thresholds tried yet.' }) : h('table', { class: 'data-table', 'data-table': 'whatif-points' },
        h('caption', { text: 'Every threshold tried' }),
        h('thead', {}, h('tr', {}, ...['threshold', 'weights off', 'probe accuracy', 'bits per weight'].map((c) => h('th', { scope: 'col', text: c })))),
        h('tbody', {}, ...pts.map((p) => h('tr', {}, h('td', { text: fmtT(p.threshold) }), h('td', { text: pct(p.sparsity, 2) }), h('td', { text: pct(p.probeAccuracy, 2) }), h('td', { text: p.bitsPerMaskedWeight.toFixed(3) }))))),
    );
  }

  exportPng(): void {
    if (!this.chart) return;
    // The chart's canvas is transparent: paint the theme's background under it.
    const out = document.createElement('canvas');
    out.width = Math.max(1, this.canvas.width);
    out.height = Math.max(1, this.canvas.height);
    const g = out.getContext('2d') as CanvasRenderingContext2D;
    g.fillStyle = this.ctx.theme().bg;
    g.fillRect(0, 0, out.width, out.height);
    g.drawImage(this.canvas, 0, 0);
    exportPng(`threshold-whatif-${this.selectedTask()?.name ?? 'task'}`, out);
  }

  exportCsv(): void {
    const t = this.selectedTask();
    const s = this.stats;
    if (!t || !s) return;
    exportCsv(`threshold-whatif-${t.name}`, [
      ['threshold', 'sparsity', 'probe accuracy', 'bits per masked weight', ...s.layers.map((l) => `${l.name} sparsity`)],
      ...this.curve().map((p) => [p.threshold, p.sparsity, p.probeAccuracy, p.bitsPerMaskedWeight, ...p.layerSparsity]),
    ]);
  }
}
