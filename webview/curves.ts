/**
 * Live training curves (Chart.js): accuracy per epoch (train solid, validation dotted,
 * baseline test accuracy dashed), loss per step, and mask bits flipped per epoch.
 *
 * Charts are created once. Live events push into the very arrays the charts hold and call
 * chart.update('none') at most once per frame, so a fast training loop neither rebuilds
 * charts nor animates every step.
 */
import {
  Chart,
  Legend,
  LineController,
  LineElement,
  LinearScale,
  PointElement,
  Title,
  Tooltip,
  type ChartDataset,
} from 'chart.js';
import type { ProjectStats, TrainEvent, TrainMethod } from '../src/core/types';
import { h } from './dom';
import { exportButtons, exportCsv, exportPng } from './exportChart';
import { compactCount } from './overlap';
import type { Theme } from './theme';
import type { ViewContext } from './viewContext';

// Register only what we draw: keeps the bundle small (no chart.js/auto).
Chart.register(LineController, LineElement, PointElement, LinearScale, Legend, Tooltip, Title);

type Pt = { x: number; y: number };
type ChartId = 'accuracy' | 'loss' | 'bits';
type SeriesKind = 'train' | 'val' | 'loss' | 'bits' | 'baseline';

interface TaskSeries {
  train: Pt[];
  val: Pt[];
  bits: Pt[];
  loss: Pt[];
  /** Set while a live run is between 'start' and its end; merges instead of replacing on 'state'. */
  live: boolean;
}
interface DsInfo {
  chart: ChartId;
  kind: SeriesKind;
  task: string;
}
type LineDs = ChartDataset<'line', Pt[]>;

/** Step-loss points kept per series; older points are thinned so long runs stay responsive. */
const MAX_LOSS_POINTS = 20000;

const CHART_TITLES: Record<ChartId, string> = {
  accuracy: 'Accuracy per epoch (solid: train, dotted: validation, dashed: baseline test)',
  loss: 'Training loss per step',
  bits: 'Mask bits flipped per epoch',
};

export class CurvesView {
  readonly el: HTMLElement;
  private readonly charts = {} as Record<ChartId, Chart<'line', Pt[]>>;
  private readonly canvases = {} as Record<ChartId, HTMLCanvasElement>;
  private readonly series = new Map<string, TaskSeries>();
  /** Series key per task name while a non-Piggyback (baseline) run is streaming. */
  private readonly liveKey = new Map<string, string>();
  private readonly datasets = new Map<string, LineDs>();
  private readonly info = new WeakMap<LineDs, DsInfo>();
  private readonly order: string[] = [];
  private readonly hidden = new Set<string>();
  private readonly toggles = h('div', { class: 'series-toggles', role: 'group', 'aria-label': 'Show tasks' });
  private readonly status = h('p', { class: 'status-line', role: 'status' });
  private stats: ProjectStats | undefined;
  private pending = false;
  private restyle = false;

  constructor(private readonly ctx: ViewContext) {
    const [png, csv] = exportButtons(() => this.exportPng(), () => this.exportCsv());
    const boxes = (['accuracy', 'loss', 'bits'] as ChartId[]).map((id) => {
      const canvas = h('canvas', { role: 'img', 'aria-label': CHART_TITLES[id], 'data-chart': id });
      this.canvases[id] = canvas;
      return h('div', { class: `chart-box chart-${id}` }, canvas);
    });
    this.el = h(
      'section',
      { class: 'view', 'data-view': 'curves' },
      h('div', { class: 'toolbar' }, this.toggles, h('span', { class: 'spacer' }), png, csv),
      this.status,
      h('div', { class: 'charts' }, ...boxes),
    );
  }

  /** Chart.js needs a laid-out canvas; main.ts calls this once the panel is in the DOM. */
  mount(): void {
    if (this.charts.accuracy) return;
    const t = this.ctx.theme();
    for (const id of ['accuracy', 'loss', 'bits'] as ChartId[]) {
      this.charts[id] = new Chart(this.canvases[id], {
        type: 'line',
        data: { datasets: [] },
        options: {
          animation: false,
          responsive: true,
          maintainAspectRatio: false,
          interaction: { mode: 'nearest', intersect: false },
          scales: {
            x: { type: 'linear', title: { display: true, text: id === 'loss' ? 'step' : 'epoch' }, ticks: { precision: 0 } },
            y: {
              type: 'linear',
              ...(id === 'accuracy' ? { suggestedMin: 0, suggestedMax: 1 } : { beginAtZero: true }),
              ticks: {
                // Bits flipped are counts: no fractional ticks on a small range.
                ...(id === 'bits' ? { precision: 0 } : {}),
                callback: (v) =>
                  id === 'accuracy' ? `${Math.round(Number(v) * 100)}%` : id === 'bits' ? compactCount(Number(v)) : String(v),
              },
            },
          },
          plugins: {
            title: { display: true, text: CHART_TITLES[id] },
            legend: { position: 'bottom', labels: { boxWidth: 18, boxHeight: 2 } },
          },
        },
      });
    }
    this.applyTheme(t);
    this.sync();
  }

  update(stats: ProjectStats | undefined): void {
    this.stats = stats;
    for (const t of stats?.tasks ?? []) {
      const s = this.get(t.name);
      const train = t.history.map((m) => ({ x: m.epoch, y: m.trainAccuracy }));
      const val = t.history.filter((m) => m.valAccuracy !== null).map((m) => ({ x: m.epoch, y: m.valAccuracy as number }));
      const bits = t.history.map((m) => ({ x: m.epoch, y: m.bitsFlipped }));
      if (s.live) {
        train.forEach((p) => upsert(s.train, p));
        val.forEach((p) => upsert(s.val, p));
        bits.forEach((p) => upsert(s.bits, p));
      } else {
        s.train.splice(0, s.train.length, ...train);
        s.val.splice(0, s.val.length, ...val);
        s.bits.splice(0, s.bits.length, ...bits);
      }
    }
    this.sync(true);
  }

  onTrainEvent(e: TrainEvent): void {
    switch (e.type) {
      case 'start': {
        const key = seriesKey(e.task, e.method);
        this.liveKey.set(e.task, key);
        const s = this.get(key);
        for (const a of [s.train, s.val, s.bits, s.loss]) a.length = 0;
        s.live = true;
        this.status.textContent = `Training ${key} on ${e.backend}: ${e.epochs} epochs × ${e.stepsPerEpoch} steps`;
        break;
      }
      case 'step': {
        const s = this.get(this.liveKey.get(e.task) ?? e.task);
        s.loss.push({ x: (e.epoch - 1) * e.stepsPerEpoch + e.step, y: e.loss });
        if (s.loss.length > MAX_LOSS_POINTS) thin(s.loss);
        break;
      }
      case 'epoch': {
        const key = this.liveKey.get(e.task) ?? e.task;
        const s = this.get(key);
        upsert(s.train, { x: e.epoch, y: e.trainAccuracy });
        if (e.valAccuracy !== null) upsert(s.val, { x: e.epoch, y: e.valAccuracy });
        upsert(s.bits, { x: e.epoch, y: e.bitsFlipped });
        const val = e.valAccuracy === null ? '' : `, val ${(e.valAccuracy * 100).toFixed(1)}%`;
        this.status.textContent = `${key}: epoch ${e.epoch}, train ${(e.trainAccuracy * 100).toFixed(1)}%${val}`;
        break;
      }
      case 'done':
      case 'cancelled':
      case 'error': {
        const key = this.liveKey.get(e.task) ?? e.task;
        const s = this.series.get(key);
        if (s) s.live = false;
        this.liveKey.delete(e.task);
        this.status.textContent =
          e.type === 'done' ? `${key}: done, test accuracy ${(e.testAccuracy * 100).toFixed(2)}%`
          : e.type === 'cancelled' ? `${key}: cancelled`
          : `${key}: failed: ${e.message}`;
        break;
      }
    }
    this.sync();
  }

  applyTheme(t: Theme): void {
    for (const chart of Object.values(this.charts)) {
      const o = chart.options;
      o.color = t.fg;
      o.font = { ...(o.font ?? {}), family: t.font };
      for (const ax of [o.scales?.x, o.scales?.y]) {
        if (!ax) continue;
        if (ax.ticks) ax.ticks.color = t.fg;
        if (ax.grid) ax.grid.color = t.grid;
        if (ax.border) ax.border.color = t.grid;
        const title = (ax as { title?: { color?: string } }).title;
        if (title) title.color = t.muted;
      }
      if (o.plugins?.title) o.plugins.title.color = t.fg;
      if (o.plugins?.legend?.labels) o.plugins.legend.labels.color = t.fg;
      if (o.plugins?.tooltip) {
        o.plugins.tooltip.backgroundColor = t.bg;
        o.plugins.tooltip.titleColor = t.fg;
        o.plugins.tooltip.bodyColor = t.fg;
        o.plugins.tooltip.borderColor = t.border;
        o.plugins.tooltip.borderWidth = 1;
      }
    }
    this.recolor(t);
    // Chart.js refreshes its per-dataset shared point options only on a non-'none' update,
    // so a theme change needs one full update (instant anyway: animation is off).
    this.restyle = true;
    this.schedule();
  }

  private get(key: string): TaskSeries {
    let s = this.series.get(key);
    if (!s) {
      s = { train: [], val: [], bits: [], loss: [], live: false };
      this.series.set(key, s);
      this.order.push(key);
    }
    return s;
  }

  private dataset(key: string, info: DsInfo, label: string, data: Pt[]): LineDs {
    let ds = this.datasets.get(key);
    if (!ds) {
      ds = { label, data, pointRadius: 2, borderWidth: 2 };
      this.datasets.set(key, ds);
      this.info.set(ds, info);
    }
    ds.data = data;
    return ds;
  }

  /** Makes each chart's dataset list match the series (reusing dataset objects), then redraws. */
  private sync(restyle = false): void {
    if (restyle) this.restyle = true;
    if (!this.charts.accuracy) return;
    const lists: Record<ChartId, LineDs[]> = { accuracy: [], loss: [], bits: [] };
    let maxEpoch = 1;
    for (const key of this.order) {
      const s = this.series.get(key) as TaskSeries;
      if (s.train.length === 0 && s.val.length === 0 && s.loss.length === 0 && s.bits.length === 0 && !this.hasTask(key)) continue;
      lists.accuracy.push(this.dataset(`acc:train:${key}`, { chart: 'accuracy', kind: 'train', task: key }, `${key} train`, s.train));
      if (s.val.length) lists.accuracy.push(this.dataset(`acc:val:${key}`, { chart: 'accuracy', kind: 'val', task: key }, `${key} val`, s.val));
      if (s.loss.length) lists.loss.push(this.dataset(`loss:${key}`, { chart: 'loss', kind: 'loss', task: key }, `${key} loss`, s.loss));
      lists.bits.push(this.dataset(`bits:${key}`, { chart: 'bits', kind: 'bits', task: key }, `${key} bits flipped`, s.bits));
      for (const p of s.train) maxEpoch = Math.max(maxEpoch, p.x);
    }
    for (const t of this.stats?.tasks ?? []) {
      maxEpoch = Math.max(maxEpoch, t.options.epochs);
      for (const b of t.baselines) {
        const key = `base:${t.name}:${b.method}`;
        const ds = this.dataset(key, { chart: 'accuracy', kind: 'baseline', task: t.name }, `${t.name} ${b.method} (test)`, []);
        ds.data.splice(0, ds.data.length, { x: 1, y: b.testAccuracy }, { x: maxEpoch, y: b.testAccuracy });
        lists.accuracy.push(ds);
      }
    }
    // Baselines were sized before maxEpoch was final for later tasks: stretch them all.
    for (const ds of lists.accuracy) if (this.info.get(ds)?.kind === 'baseline') ds.data[1].x = maxEpoch;
    for (const id of Object.keys(lists) as ChartId[]) this.charts[id].data.datasets = lists[id];
    this.recolor(this.ctx.theme());
    this.renderToggles();
    this.schedule();
  }

  private hasTask(key: string): boolean {
    return this.stats?.tasks.some((t) => t.name === key) ?? false;
  }

  private colorOf(task: string, t: Theme): string {
    const base = task.replace(/ \((classifier|finetune)\)$/, '');
    const names = this.stats?.tasks.map((x) => x.name) ?? [];
    let i = names.indexOf(base);
    if (i < 0) i = names.length + this.order.filter((k) => !names.includes(k)).indexOf(base);
    return t.series[Math.max(0, i) % t.series.length];
  }

  private recolor(t: Theme): void {
    for (const chart of Object.values(this.charts)) {
      chart.data.datasets.forEach((ds, i) => {
        const inf = this.info.get(ds);
        if (!inf) return;
        const c = this.colorOf(inf.task, t);
        ds.borderColor = c;
        ds.backgroundColor = c;
        ds.pointBackgroundColor = c;
        ds.pointBorderColor = c;
        ds.borderDash = inf.kind === 'val' ? [2, 3] : inf.kind === 'baseline' ? [8, 5] : [];
        ds.pointRadius = inf.kind === 'baseline' || inf.kind === 'loss' ? 0 : 2.5;
        ds.pointStyle = inf.kind === 'val' ? 'triangle' : 'circle';
        ds.borderWidth = inf.kind === 'baseline' ? 1.5 : 2;
        chart.setDatasetVisibility(i, !this.hidden.has(baseTask(inf.task)) && chart.isDatasetVisible(i));
      });
    }
  }

  /** Keyboard-reachable counterpart of the canvas legends: one checkbox per task. */
  private renderToggles(): void {
    const tasks = [...new Set(Object.values(this.charts).flatMap((c) => c.data.datasets.map((d) => baseTask(this.info.get(d)?.task ?? ''))))];
    if (this.toggles.dataset.tasks === tasks.join('\n')) return;
    this.toggles.dataset.tasks = tasks.join('\n');
    this.toggles.replaceChildren(
      ...tasks.map((task) => {
        const box = h('input', { type: 'checkbox', checked: !this.hidden.has(task), 'data-task': task });
        box.addEventListener('change', () => {
          if (box.checked) this.hidden.delete(task);
          else this.hidden.add(task);
          for (const chart of Object.values(this.charts))
            chart.data.datasets.forEach((ds, i) => {
              if (baseTask(this.info.get(ds)?.task ?? '') === task) chart.setDatasetVisibility(i, box.checked);
            });
          this.schedule();
        });
        return h('label', { class: 'check' }, box, task);
      }),
    );
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
        const n = chart.data.datasets.reduce((a, d) => a + d.data.length, 0);
        this.canvases[id as ChartId].dataset.points = String(n);
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

  exportCsv(): void {
    const rows: (string | number)[][] = [['chart', 'series', 'task', 'x', 'y']];
    for (const [id, chart] of Object.entries(this.charts))
      for (const ds of chart.data.datasets) {
        const inf = this.info.get(ds);
        if (inf) for (const p of ds.data) rows.push([id, inf.kind, inf.task, p.x, p.y]);
      }
    exportCsv('training-curves', rows);
  }
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
