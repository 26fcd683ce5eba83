/**
 * Training curves (Chart.js): accuracy per epoch (train solid, validation dotted, baselines'
 * test accuracy dashed, each in its task's colour), loss per step, and mask bits flipped
 * per epoch.
 *
 * What is drawn is the open project's tasks and nothing else, plus the run in progress: a
 * state for another project, a deleted task or a cancelled run removes its curves. Each task
 * keeps one colour slot (palette.ts) for as long as it exists. Runs are listed in an HTML
 * legend beside the charts (filterable, scrollable, keyboard reachable), so twenty runs do
 * not squeeze the plots.
 *
 * Charts are created once. Live events push into the very arrays the charts hold and call
 * chart.update('none') at most once per frame, so a fast training loop neither rebuilds
 * charts nor animates every step.
 */
import {
  Chart,
  LogarithmicScale,
  LineController,
  LineElement,
  LinearScale,
  PointElement,
  Title,
  Tooltip,
  type ChartDataset,
  type TooltipItem,
} from 'chart.js';
import type { ProjectStats, StepLossSeries, TaskStats, TrainEvent, TrainMethod } from '../src/core/types';
import { h } from './dom';
import { exportButtons, exportCsv, exportPng } from './exportChart';
import { compactCount } from './overlap';
import { assignSlots, slotColor, slotMarker } from './palette';
import { emaDebiased } from './smoothing';
import type { Theme } from './theme';
import { applyChartTheme } from './chartTheme';
import type { ViewContext } from './viewContext';

// Register only what we draw: keeps the bundle small (no chart.js/auto).
Chart.register(LineController, LineElement, PointElement, LinearScale, LogarithmicScale, Tooltip, Title);

/** t: seconds since the run started, for live loss points (stored ones get it from the epochs' times). */
type Pt = { x: number; y: number; t?: number };
type ChartId = 'accuracy' | 'loss' | 'bits';
type SeriesKind = 'train' | 'val' | 'loss' | 'loss_smoothed' | 'bits' | 'classifier' | 'finetune';
const CHART_IDS: ChartId[] = ['accuracy', 'loss', 'bits'];

interface TaskSeries {
  train: Pt[];
  val: Pt[];
  bits: Pt[];
  loss: Pt[];
  /** Set while a live run is between 'start' and its end; merges instead of replacing on 'state'. */
  live: boolean;
  /** Steps per epoch of the run the loss belongs to (0 = unknown), for the epoch x-axis. */
  stepsPerEpoch: number;
  /** Wall time of each epoch in seconds (stored history), for the time x-axis. */
  epochSeconds: number[];
  /** performance.now() at the live run's start. */
  t0: number;
}
interface DsInfo {
  chart: ChartId;
  kind: SeriesKind;
  /** Series key: the task name, or "task (method)" for a baseline run streaming live. */
  key: string;
  /** Drawn smoothed (baseline loss with smoothing on): the CSV says so. */
  smoothed?: boolean;
}
type LineDs = ChartDataset<'line', Pt[]>;

/** Step-loss points kept per live series; older points are thinned so long runs stay responsive. */
const MAX_LOSS_POINTS = 20000;

const CHART_TITLES: Record<ChartId, string> = {
  accuracy: 'Accuracy per epoch',
  loss: 'Training loss per step',
  bits: 'Mask bits flipped per epoch',
};

/** Line style of each kind of series: the legend's key draws the same dashes. */
const DASH: Record<SeriesKind, number[]> = {
  train: [],
  val: [2, 3],
  loss: [],
  loss_smoothed: [],
  bits: [],
  classifier: [8, 4],
  finetune: [12, 3, 3, 3],
};
const KIND_LABEL: Record<SeriesKind, string> = {
  train: 'train',
  val: 'validation',
  loss: 'loss',
  loss_smoothed: 'loss (smoothed)',
  bits: 'bits flipped',
  classifier: 'classifier-only (test)',
  finetune: 'fine-tuning (test)',
};

export class CurvesView {
  readonly el: HTMLElement;
  private readonly charts = {} as Record<ChartId, Chart<'line', Pt[]>>;
  private readonly canvases = {} as Record<ChartId, HTMLCanvasElement>;
  private readonly series = new Map<string, TaskSeries>();
  /** Series key per task name while a run is streaming. */
  private readonly liveKey = new Map<string, string>();
  private datasets = new Map<string, LineDs>();
  private readonly info = new WeakMap<LineDs, DsInfo>();
  private readonly runList = h('div', { class: 'run-list', role: 'group', 'aria-label': 'Runs shown' });
  private readonly runCount = h('span', { class: 'run-count', 'aria-live': 'polite' });
  private readonly filter = h('input', { type: 'search', id: 'run-filter', placeholder: 'Filter runs', 'aria-label': 'Filter runs by name', spellcheck: 'false' });
  private readonly styleKey = h('div', { class: 'style-key', 'aria-label': 'Line styles' });
  private readonly status = h('p', { class: 'status-line', role: 'status' });
  private readonly lossEmpty = h('p', { class: 'chart-empty', hidden: true });
  private readonly smoothing = h('input', { type: 'range', id: 'smoothing', min: 0, max: 0.99, step: 0.01, 'aria-label': 'Loss smoothing (exponential moving average weight)' });
  private readonly smoothingValue = h('output', { for: 'smoothing', class: 'smoothing-value' });
  private readonly lossLog = h('input', { type: 'checkbox', id: 'loss-log' });
  private readonly lossXSelect = h('select', { id: 'loss-x', 'aria-label': 'Loss x-axis' }, h('option', { value: 'step', text: 'step' }), h('option', { value: 'epoch', text: 'epoch' }), h('option', { value: 'time', text: 'wall time (s)' }));
  private stats: ProjectStats | undefined;
  private dir: string | undefined;
  private slots: Record<string, number> = {};
  private pending = false;
  private restyle = false;

  constructor(private readonly ctx: ViewContext) {
    const [png, csv] = exportButtons(() => this.exportPng(), () => this.exportCsv());
    const boxes = CHART_IDS.map((id) => {
      const canvas = h('canvas', {
        role: 'img',
        tabindex: 0,
        'aria-label': `${CHART_TITLES[id]}. Zoom: drag across the chart, or + and - keys; arrow keys pan; 0 or double-click resets.`,
        'data-chart': id,
      });
      this.bindZoom(id, canvas);
      this.canvases[id] = canvas;
      return h('div', { class: `chart-box chart-${id}` }, canvas, id === 'loss' ? this.lossEmpty : null);
    });
    this.filter.value = ctx.state.runFilter;
    this.filter.addEventListener('input', () => {
      ctx.state.runFilter = this.filter.value;
      ctx.persist();
      this.sync();
    });
    this.smoothing.value = String(ctx.state.smoothing);
    this.smoothingValue.textContent = ctx.state.smoothing.toFixed(2);
    this.smoothing.addEventListener('input', () => {
      ctx.state.smoothing = Math.min(0.99, Math.max(0, Number(this.smoothing.value)));
      this.smoothingValue.textContent = ctx.state.smoothing.toFixed(2);
      ctx.persist();
      this.sync();
    });
    this.lossXSelect.value = ctx.state.lossX;
    this.lossXSelect.addEventListener('change', () => {
      const v = this.lossXSelect.value;
      ctx.state.lossX = v === 'epoch' || v === 'time' ? v : 'step';
      ctx.persist();
      const x = this.charts.loss?.options.scales?.x as { title?: { text?: string }; ticks?: { precision?: number } } | undefined;
      if (x?.title) x.title.text = ctx.state.lossX === 'time' ? 'seconds' : ctx.state.lossX;
      this.sync();
    });
    this.lossLog.checked = ctx.state.lossLog;
    this.lossLog.addEventListener('change', () => {
      ctx.state.lossLog = this.lossLog.checked;
      ctx.persist();
      this.applyLossScale();
      this.restyle = true;
      this.schedule();
    });
    const all = h('button', { type: 'button', class: 'link', 'data-runs': 'all', text: 'Show all' });
    const none = h('button', { type: 'button', class: 'link', 'data-runs': 'none', text: 'Hide all' });
    all.addEventListener('click', () => this.setAllHidden(false));
    none.addEventListener('click', () => this.setAllHidden(true));
    this.el = h(
      'section',
      { class: 'view', 'data-view': 'curves' },
      h('div', { class: 'toolbar' }, this.filter, this.runCount, all, none, h('span', { class: 'spacer' }), png, csv),
      h('div', { class: 'run-legend' }, this.runList, this.styleKey),
      h(
        'div',
        { class: 'toolbar loss-tools' },
        h('label', { class: 'check', for: 'smoothing', title: "TensorBoard's smoothing: a debiased exponential moving average of the per-step loss; the raw loss stays drawn faintly" }, 'Loss smoothing', this.smoothing, this.smoothingValue),
        h('label', { class: 'check', title: 'Logarithmic loss axis' }, this.lossLog, 'log scale'),
        h('label', { for: 'loss-x', class: 'select-label' }, 'x-axis ', this.lossXSelect),
        h('span', { class: 'zoom-hint', text: 'Zoom: drag across a chart, or focus it and press + / −; arrows pan; 0 or double-click resets.' }),
      ),
      this.status,
      h('div', { class: 'charts' }, ...boxes),
    );
  }

  /** Chart.js needs a laid-out canvas; main.ts calls this once the panel is in the DOM. */
  mount(): void {
    if (this.charts.accuracy) return;
    for (const id of CHART_IDS) {
      this.charts[id] = new Chart(this.canvases[id], {
        type: 'line',
        data: { datasets: [] },
        options: {
          animation: false,
          responsive: true,
          maintainAspectRatio: false,
          // Hover shows every visible run at that epoch (loss: the nearest step of each run).
          interaction: id === 'loss' ? { mode: 'nearest', axis: 'x', intersect: false } : { mode: 'x', intersect: false },
          scales: {
            x: { type: 'linear', title: { display: true, text: id === 'loss' ? (this.ctx.state.lossX === 'time' ? 'seconds' : this.ctx.state.lossX) : 'epoch' }, ticks: id === 'loss' ? {} : { precision: 0 } },
            y: {
              type: 'linear',
              ...(id === 'accuracy' ? { suggestedMin: 0, suggestedMax: 1 } : { beginAtZero: true }),
              ticks: {
                // Bits flipped are counts: no fractional ticks on a small range.
                ...(id === 'bits' ? { precision: 0 } : {}),
                callback: (v) =>
                  id === 'accuracy' ? `${Math.round(Number(v) * 100)}%` : id === 'bits' ? compactCount(Number(v)) : this.ctx.state.lossLog ? logTick(Number(v)) : String(v),
              },
            },
          },
          plugins: {
            title: { display: true, text: CHART_TITLES[id] },
            tooltip: {
              callbacks: { label: (item) => this.tooltipLabel(id, item) },
              // The hover's text, also where tests and the live region can read it.
              external: ({ tooltip }) => {
                const c = this.canvases[id];
                const lines = tooltip.opacity === 0 ? [] : [...(tooltip.title ?? []), ...tooltip.body.flatMap((b) => b.lines)];
                c.dataset.tooltip = lines.join('\n');
              },
            },
          },
        },
      });
    }
    this.applyLossScale();
    this.applyTheme(this.ctx.theme());
    this.sync();
  }

  /** Zoom and pan on x, per chart: drag to select a range, +/- and arrows on the focused canvas, 0 / double-click resets. */
  private bindZoom(id: ChartId, canvas: HTMLCanvasElement): void {
    const range = (): [number, number] | undefined => {
      const x = this.charts[id]?.scales.x;
      return x ? [x.min, x.max] : undefined;
    };
    const set = (lo: number | undefined, hi: number | undefined) => {
      const ax = this.charts[id]?.options.scales?.x as { min?: number; max?: number } | undefined;
      if (!ax) return;
      ax.min = lo;
      ax.max = hi;
      this.schedule();
    };
    let from: number | undefined;
    const xAt = (e: MouseEvent) => this.charts[id]?.scales.x?.getValueForPixel(e.offsetX);
    canvas.addEventListener('mousedown', (e) => (from = xAt(e)));
    canvas.addEventListener('mouseup', (e) => {
      const to = xAt(e);
      if (from !== undefined && to !== undefined) {
        const r = range();
        // A drag of at least 2% of the shown range zooms; a click does not.
        if (r && Math.abs(to - from) > (r[1] - r[0]) * 0.02) set(Math.min(from, to), Math.max(from, to));
      }
      from = undefined;
    });
    canvas.addEventListener('dblclick', () => set(undefined, undefined));
    canvas.addEventListener('keydown', (e) => {
      const r = range();
      if (!r) return;
      const w = r[1] - r[0];
      const mid = (r[0] + r[1]) / 2;
      if (e.key === '+' || e.key === '=') set(mid - w / 4, mid + w / 4);
      else if (e.key === '-') set(mid - w, mid + w);
      else if (e.key === 'ArrowLeft') set(r[0] - w / 5, r[1] - w / 5);
      else if (e.key === 'ArrowRight') set(r[0] + w / 5, r[1] + w / 5);
      else if (e.key === '0') set(undefined, undefined);
      else return;
      e.preventDefault();
    });
  }

  /**
   * Loss points on the chosen x-axis: steps as stored, epochs (1 = the end of epoch 1), or wall
   * seconds (live points as they arrived; stored ones spread evenly over each epoch's measured
   * time). A run with no timing has no points on the time axis rather than wrong ones.
   */
  private lossX(pts: Pt[], stepsPerEpoch: number, epochSeconds: number[] = []): Pt[] {
    const mode = this.ctx.state.lossX;
    if (mode === 'step') return pts;
    if (mode === 'epoch') return stepsPerEpoch > 0 ? pts.map((p) => ({ x: p.x / stepsPerEpoch, y: p.y })) : pts;
    const cum = [0];
    for (const s of epochSeconds) cum.push(cum[cum.length - 1] + s);
    const at = (step: number): number | undefined => {
      if (!(stepsPerEpoch > 0) || epochSeconds.length === 0) return undefined;
      const e = Math.min(epochSeconds.length - 1, Math.max(0, Math.ceil(step / stepsPerEpoch) - 1));
      return cum[e] + ((step - e * stepsPerEpoch) / stepsPerEpoch) * epochSeconds[e];
    };
    const out: Pt[] = [];
    for (const p of pts) {
      const t = p.t ?? at(p.x);
      if (t !== undefined) out.push({ x: t, y: p.y });
    }
    return out;
  }

  /** Linear from zero, or logarithmic (loss is positive), as the checkbox says. */
  private applyLossScale(): void {
    const chart = this.charts.loss;
    if (!chart?.options.scales) return;
    const y = chart.options.scales.y as Record<string, unknown>;
    y.type = this.ctx.state.lossLog ? 'logarithmic' : 'linear';
    y.beginAtZero = !this.ctx.state.lossLog;
    // Grid and tick colours survive: applyTheme writes them onto the same object.
  }

  update(stats: ProjectStats | undefined): void {
    if (stats?.dir !== this.dir) {
      // Another project: none of the previous project's runs belong here (a live run stays).
      this.dir = stats?.dir;
      for (const [k, s] of this.series) if (!s.live) this.series.delete(k);
      const saved = this.ctx.state.taskSlots;
      const same = saved !== undefined && saved.dir === this.dir;
      this.slots = same ? { ...saved.slots } : {};
      // Runs switched off belong to their project (a reload of the same project keeps them).
      if (!same && saved !== undefined) this.ctx.state.hiddenRuns = [];
      if (this.liveKey.size === 0) this.status.textContent = '';
    }
    this.stats = stats;
    const names = new Set(stats?.tasks.map((t) => t.name) ?? []);
    // Deleted tasks, and finished runs the project does not hold (cancelled, failed), go.
    for (const [k, s] of this.series) if (!s.live && !names.has(k)) this.series.delete(k);
    for (const t of stats?.tasks ?? []) this.fill(t);
    this.sync(true);
  }

  /** The task's stored history into its series (merged while the task is training live). */
  private fill(t: TaskStats): void {
    const s = this.get(t.name);
    const train = t.history.map((m) => ({ x: m.epoch, y: m.trainAccuracy }));
    const val = t.history.filter((m) => m.valAccuracy !== null).map((m) => ({ x: m.epoch, y: m.valAccuracy as number }));
    const bits = t.history.map((m) => ({ x: m.epoch, y: m.bitsFlipped }));
    const loss = lossPoints(t.stepLoss);
    if (!s.live && t.stepLoss?.step.length && t.history.length) s.stepsPerEpoch = t.stepLoss.step[t.stepLoss.step.length - 1] / t.history.length;
    if (!s.live) s.epochSeconds = t.history.map((m) => m.seconds);
    if (s.live) {
      train.forEach((p) => upsert(s.train, p));
      val.forEach((p) => upsert(s.val, p));
      bits.forEach((p) => upsert(s.bits, p));
    } else {
      s.train.splice(0, s.train.length, ...train);
      s.val.splice(0, s.val.length, ...val);
      s.bits.splice(0, s.bits.length, ...bits);
      s.loss.splice(0, s.loss.length, ...loss);
    }
  }

  onTrainEvent(e: TrainEvent): void {
    switch (e.type) {
      case 'start': {
        const key = seriesKey(e.task, e.method);
        this.liveKey.set(e.task, key);
        const s = this.get(key);
        for (const a of [s.train, s.val, s.bits, s.loss]) a.length = 0;
        s.live = true;
        s.stepsPerEpoch = e.stepsPerEpoch;
        s.t0 = performance.now();
        s.epochSeconds = [];
        this.status.textContent = `Training ${key} on ${e.backend}: ${e.epochs} epochs × ${e.stepsPerEpoch} steps`;
        break;
      }
      case 'step': {
        const s = this.get(this.liveKey.get(e.task) ?? e.task);
        s.loss.push({ x: (e.epoch - 1) * e.stepsPerEpoch + e.step, y: e.loss, ...(s.live ? { t: (performance.now() - s.t0) / 1000 } : {}) });
        if (s.loss.length > MAX_LOSS_POINTS) thin(s.loss);
        break;
      }
      case 'epoch': {
        const key = this.liveKey.get(e.task) ?? e.task;
        const s = this.get(key);
        upsert(s.train, { x: e.epoch, y: e.trainAccuracy });
        if (e.valAccuracy !== null) upsert(s.val, { x: e.epoch, y: e.valAccuracy });
        upsert(s.bits, { x: e.epoch, y: e.bitsFlipped });
        if (s.live) s.epochSeconds[e.epoch - 1] = e.seconds;
        const val = e.valAccuracy === null ? '' : `, val ${(e.valAccuracy * 100).toFixed(1)}%`;
        this.status.textContent = `${key}: epoch ${e.epoch}, train ${(e.trainAccuracy * 100).toFixed(1)}%${val}`;
        break;
      }
      case 'done':
      case 'cancelled':
      case 'error': {
        const key = this.liveKey.get(e.task) ?? e.task;
        const s = this.series.get(key);
        this.liveKey.delete(e.task);
        this.status.textContent =
          e.type === 'done' ? `${key}: done, test accuracy ${(e.testAccuracy * 100).toFixed(2)}%`
          : e.type === 'cancelled' ? `${key}: cancelled`
          : `${key}: failed: ${e.message}`;
        if (s) {
          s.live = false;
          // A finished run stays until the project's next state says what was saved; a
          // cancelled or failed one was not saved: back to what the project holds.
          if (e.type !== 'done') {
            this.series.delete(key);
            const t = this.stats?.tasks.find((x) => x.name === key);
            if (t) this.fill(t);
          }
        }
        break;
      }
    }
    this.sync();
  }

  applyTheme(t: Theme): void {
    for (const chart of Object.values(this.charts)) {
      applyChartTheme(chart, t);
      const o = chart.options;
      if (o.plugins?.tooltip) {
        o.plugins.tooltip.backgroundColor = t.bg;
        o.plugins.tooltip.titleColor = t.fg;
        o.plugins.tooltip.bodyColor = t.fg;
        o.plugins.tooltip.borderColor = t.border;
        o.plugins.tooltip.borderWidth = 1;
      }
    }
    this.renderStyleKey(t);
    this.style(t);
    this.renderLegend(t, true);
    // Chart.js refreshes its per-dataset shared point options only on a non-'none' update,
    // so a theme change needs one full update (instant anyway: animation is off).
    this.restyle = true;
    this.schedule();
  }

  private get(key: string): TaskSeries {
    let s = this.series.get(key);
    if (!s) {
      s = { train: [], val: [], bits: [], loss: [], live: false, stepsPerEpoch: 0, epochSeconds: [], t0: 0 };
      this.series.set(key, s);
    }
    return s;
  }

  /** Series keys in display order: the project's tasks, each followed by its live baseline run, then other live runs. */
  private keys(): string[] {
    const names = this.stats?.tasks.map((t) => t.name) ?? [];
    const out: string[] = [];
    for (const n of names) {
      if (this.series.has(n)) out.push(n);
      for (const k of this.series.keys()) if (k !== n && baseTask(k) === n) out.push(k);
    }
    for (const k of this.series.keys()) if (!out.includes(k)) out.push(k);
    return out;
  }

  /** Base task names in legend order (project order, then new tasks training live). */
  private runs(): string[] {
    return [...new Set(this.keys().map(baseTask))];
  }

  private visible(task: string): boolean {
    const f = this.ctx.state.runFilter.trim().toLowerCase();
    return !this.ctx.state.hiddenRuns.includes(task) && (f === '' || task.toLowerCase().includes(f));
  }

  private setAllHidden(hide: boolean): void {
    const matching = this.runs().filter((r) => {
      const f = this.ctx.state.runFilter.trim().toLowerCase();
      return f === '' || r.toLowerCase().includes(f);
    });
    const hidden = new Set(this.ctx.state.hiddenRuns);
    for (const r of matching) if (hide) hidden.add(r); else hidden.delete(r);
    this.ctx.state.hiddenRuns = [...hidden];
    this.ctx.persist();
    this.sync();
  }

  private dataset(key: string, info: DsInfo, label: string, data: Pt[], next: Map<string, LineDs>): LineDs {
    let ds = this.datasets.get(key);
    if (!ds) ds = { label, data, pointRadius: 2, borderWidth: 2 };
    this.info.set(ds, info);
    ds.data = data;
    next.set(key, ds);
    return ds;
  }

  /** Makes each chart's dataset list match the series (reusing dataset objects), then redraws. */
  private sync(restyle = false): void {
    if (restyle) this.restyle = true;
    const slots = assignSlots(this.runs().concat(this.stats?.tasks.map((t) => t.name) ?? []), this.slots);
    if (JSON.stringify(slots) !== JSON.stringify(this.slots) || this.ctx.state.taskSlots?.dir !== this.dir) {
      this.slots = slots;
      if (this.dir !== undefined) {
        this.ctx.state.taskSlots = { dir: this.dir, slots };
        this.ctx.persist();
      }
    }
    const theme = this.ctx.theme();
    this.renderLegend(theme);
    if (!this.charts.accuracy) return;
    const next = new Map<string, LineDs>();
    const lists: Record<ChartId, LineDs[]> = { accuracy: [], loss: [], bits: [] };
    let maxEpoch = 1;
    for (const key of this.keys()) {
      const s = this.series.get(key) as TaskSeries;
      const add = (chart: ChartId, kind: SeriesKind, data: Pt[]) =>
        lists[chart].push(this.dataset(`${chart}:${kind}:${key}`, { chart, kind, key }, `${key} ${KIND_LABEL[kind]}`, data, next));
      add('accuracy', 'train', s.train);
      if (s.val.length) add('accuracy', 'val', s.val);
      if (s.loss.length) {
        const pts = this.lossX(s.loss, s.stepsPerEpoch, s.epochSeconds);
        add('loss', 'loss', pts);
        if (this.ctx.state.smoothing > 0) add('loss', 'loss_smoothed', smoothed(pts, this.ctx.state.smoothing));
      }
      add('bits', 'bits', s.bits);
      for (const p of s.train) maxEpoch = Math.max(maxEpoch, p.x);
    }
    for (const t of this.stats?.tasks ?? []) maxEpoch = Math.max(maxEpoch, t.options.epochs);
    for (const t of this.stats?.tasks ?? []) {
      for (const b of t.baselines) {
        const ds = this.dataset(`accuracy:${b.method}:${t.name}`, { chart: 'accuracy', kind: b.method, key: t.name }, `${t.name} ${KIND_LABEL[b.method]}`, [], next);
        // A flat line with a point at every epoch, so hovering any epoch lists the baseline too.
        ds.data = Array.from({ length: maxEpoch }, (_, i) => ({ x: i + 1, y: b.testAccuracy }));
        lists.accuracy.push(ds);
        // The baseline's own training loss, once the live run of it is over.
        if (b.stepLoss && !this.series.has(`${t.name} (${b.method})`)) {
          const own = this.series.get(t.name);
          const pts = this.lossX(lossPoints(b.stepLoss), b.history.length && b.stepLoss.step.length ? b.stepLoss.step[b.stepLoss.step.length - 1] / b.history.length : own?.stepsPerEpoch ?? 0, b.history.map((m) => m.seconds));
          const label = `${t.name} ${KIND_LABEL[b.method].replace(' (test)', '')} loss`;
          lists.loss.push(this.dataset(`loss:${b.method}:${t.name}`, { chart: 'loss', kind: b.method, key: t.name, smoothed: this.ctx.state.smoothing > 0 }, label, this.ctx.state.smoothing > 0 ? smoothed(pts, this.ctx.state.smoothing) : pts, next));
        }
      }
    }
    this.datasets = next;
    for (const id of CHART_IDS) this.charts[id].data.datasets = lists[id];
    this.style(theme);
    const noLoss = lists.loss.length === 0;
    this.lossEmpty.hidden = !noLoss;
    this.lossEmpty.textContent = noLoss
      ? (this.stats?.tasks.length ?? 0) === 0 ? 'No runs yet.' : 'No per-step loss stored for these runs: they were trained before task.json kept it. Retrain to see it.'
      : '';
    this.schedule();
  }

  private slotOf(key: string): number {
    return this.slots[baseTask(key)] ?? 0;
  }

  /** Colours, dashes, markers and visibility of every dataset, from its task's slot. */
  private style(t: Theme): void {
    for (const chart of Object.values(this.charts)) {
      chart.data.datasets.forEach((ds, i) => {
        const inf = this.info.get(ds);
        if (!inf) return;
        const slot = this.slotOf(inf.key);
        const c = slotColor(slot, t);
        const line = inf.kind === 'classifier' || inf.kind === 'finetune' || inf.kind === 'loss' || inf.kind === 'loss_smoothed';
        // With smoothing on, the raw loss stays as a faint line under the smoothed one (as TensorBoard draws it).
        const faint = inf.kind === 'loss' && this.ctx.state.smoothing > 0;
        ds.borderColor = faint ? withAlpha(c, 0.35) : c;
        ds.backgroundColor = c;
        ds.pointBorderColor = c;
        ds.pointBackgroundColor = inf.kind === 'val' ? t.bg : c;
        ds.borderDash = DASH[inf.kind];
        ds.pointRadius = line ? 0 : 2.5;
        ds.pointHitRadius = 6;
        ds.pointStyle = slotMarker(slot);
        ds.borderWidth = line && inf.kind !== 'loss' ? 1.5 : 2;
        chart.setDatasetVisibility(i, this.visible(baseTask(inf.key)));
      });
    }
  }

  /** The run legend: one checkbox per task with its colour; the filter narrows it and the charts. */
  private renderLegend(t: Theme, force = false): void {
    const runs = this.runs();
    const byName = new Map((this.stats?.tasks ?? []).map((x) => [x.name, x]));
    const liveBases = new Set([...this.liveKey.values()].map(baseTask));
    const sig = JSON.stringify([runs, runs.map((r) => this.slots[r]), [...liveBases], runs.map((r) => byName.get(r)?.state), this.ctx.state.hiddenRuns, this.ctx.state.runFilter]);
    const shown = runs.filter((r) => this.visible(r)).length;
    this.runCount.textContent = runs.length ? `${shown} of ${runs.length} runs shown` : 'no runs';
    if (!force && this.runList.dataset.sig === sig) return;
    this.runList.dataset.sig = sig;
    const f = this.ctx.state.runFilter.trim().toLowerCase();
    this.runList.replaceChildren(
      ...runs
        .filter((r) => f === '' || r.toLowerCase().includes(f))
        .map((task) => {
          const color = slotColor(this.slots[task] ?? 0, t);
          const box = h('input', { type: 'checkbox', checked: !this.ctx.state.hiddenRuns.includes(task), 'data-task': task });
          box.addEventListener('change', () => {
            const hidden = new Set(this.ctx.state.hiddenRuns);
            if (box.checked) hidden.delete(task);
            else hidden.add(task);
            this.ctx.state.hiddenRuns = [...hidden];
            this.ctx.persist();
            this.sync();
          });
          const swatch = h('span', { class: 'swatch', 'aria-hidden': 'true' });
          swatch.style.background = color;
          const st = byName.get(task);
          const note = liveBases.has(task) ? 'training' : st?.state === 'failed' ? 'damaged' : st?.testAccuracy != null ? `${(st.testAccuracy * 100).toFixed(2)}%` : '';
          return h(
            'label',
            { class: 'check run', 'data-task': task, 'data-color': color, 'data-slot': this.slots[task] ?? 0, title: st?.damage ?? task },
            box,
            swatch,
            h('span', { class: 'run-name', text: task }),
            note ? h('span', { class: 'run-note', text: note }) : null,
          );
        }),
    );
  }

  /** Line-style key: the dashes as drawn, on small canvases (no inline SVG styles under the CSP). */
  private renderStyleKey(t: Theme): void {
    const kinds: SeriesKind[] = ['train', 'val', 'classifier', 'finetune'];
    this.styleKey.replaceChildren(
      ...kinds.map((k) => {
        const c = h('canvas', { width: 32, height: 8, 'aria-hidden': 'true' });
        const g = c.getContext('2d');
        if (g) {
          g.strokeStyle = t.fg;
          g.lineWidth = 2;
          g.setLineDash(DASH[k]);
          g.beginPath();
          g.moveTo(0, 4);
          g.lineTo(32, 4);
          g.stroke();
        }
        return h('span', { class: 'key' }, c, KIND_LABEL[k]);
      }),
    );
  }

  private tooltipLabel(id: ChartId, item: TooltipItem<'line'>): string {
    const y = item.parsed.y ?? NaN;
    const v = id === 'accuracy' ? `${(y * 100).toFixed(2)}%` : id === 'bits' ? Math.round(y).toLocaleString('en-US') : String(Number(y.toPrecision(6)));
    return `${item.dataset.label ?? ''}: ${v}`;
  }

  private schedule(): void {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      const mode = this.restyle ? 'default' : 'none';
      this.restyle = false;
      for (const [id, chart] of Object.entries(this.charts)) {
        chart.update(mode);
        const c = this.canvases[id as ChartId];
        c.dataset.points = String(chart.data.datasets.reduce((a, d, i) => a + (chart.isDatasetVisible(i) ? d.data.length : 0), 0));
        c.dataset.plotHeight = String(Math.round(chart.chartArea?.height ?? 0));
        c.dataset.yScale = String(chart.scales.y?.type ?? '');
        const xs = chart.scales.x;
        if (xs) c.dataset.xRange = `${Number(xs.min.toPrecision(6))},${Number(xs.max.toPrecision(6))}`;
      }
    });
  }

  exportPng(): void {
    if (!this.charts.accuracy) return;
    const t = this.ctx.theme();
    const cs = Object.values(this.canvases).filter((c) => c.width > 0 && c.height > 0);
    const out = document.createElement('canvas');
    out.width = Math.max(1, ...cs.map((c) => c.width));
    out.height = Math.max(1, cs.reduce((a, c) => a + c.height, 0));
    const g = out.getContext('2d') as CanvasRenderingContext2D;
    g.fillStyle = t.bg;
    g.fillRect(0, 0, out.width, out.height);
    let y = 0;
    for (const c of cs) {
      g.drawImage(c, 0, y);
      y += c.height;
    }
    exportPng('training-curves', out);
  }

  /** Every visible point as drawn, one row each. */
  exportCsv(): void {
    const rows: (string | number)[][] = [['chart', 'series', 'task', 'x', 'y']];
    for (const [id, chart] of Object.entries(this.charts))
      chart.data.datasets.forEach((ds, i) => {
        const inf = this.info.get(ds);
        if (inf && chart.isDatasetVisible(i)) for (const p of ds.data) rows.push([id, inf.smoothed ? `${inf.kind}_smoothed` : inf.kind, inf.key, p.x, p.y]);
      });
    exportCsv('training-curves', rows);
  }
}

/** Log axis labels at 1, 2 and 5 per decade only, so they do not overlap. */
function logTick(v: number): string {
  if (!(v > 0)) return '';
  const m = v / Math.pow(10, Math.floor(Math.log10(v) + 1e-9));
  return [1, 2, 5].some((k) => Math.abs(m - k) < 1e-6) ? String(Number(v.toPrecision(3))) : '';
}

/** #rrggbb at the given opacity; other colour forms are returned as they are. */
function withAlpha(c: string, a: number): string {
  return /^#[0-9a-f]{6}$/i.test(c) ? `${c}${Math.round(a * 255).toString(16).padStart(2, '0')}` : c;
}

function smoothed(pts: Pt[], weight: number): Pt[] {
  const ys = emaDebiased(pts.map((p) => p.y), weight);
  return pts.map((p, i) => ({ x: p.x, y: ys[i] }));
}

function lossPoints(s: StepLossSeries | null | undefined): Pt[] {
  return s ? s.step.map((x, i) => ({ x, y: s.loss[i] })) : [];
}

function seriesKey(task: string, method: TrainMethod): string {
  return method === 'piggyback' ? task : `${task} (${method})`;
}

function baseTask(key: string): string {
  return key.replace(/ \((classifier|finetune)\)$/, '');
}

/** Inserts or replaces the point at p.x, keeping x sorted (Chart.js expects sorted line data). */
function upsert(a: Pt[], p: Pt): void {
  let i = a.length;
  while (i > 0 && a[i - 1].x > p.x) i--;
  if (i > 0 && a[i - 1].x === p.x) a[i - 1] = p;
  else a.splice(i, 0, p);
}

/** Halves a long series in place, keeping the newest point. */
function thin(a: Pt[]): void {
  const kept = a.filter((_, i) => i % 2 === (a.length - 1) % 2);
  a.splice(0, a.length, ...kept);
}
