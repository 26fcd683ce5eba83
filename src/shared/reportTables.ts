/**
 * The project's tables as rows, without DOM or VS Code: the webview's CSV exports and the
 * host's Export Report write the same tables (runs, sparsity, overlap, curves).
 */
import { HYPERPARAMS, type HyperKey } from '../core/hyperparams';
import type { ProjectStats, TaskStats } from '../core/types';

export type Cell = string | number | null;

/** RFC 4180 quoting; text a spreadsheet would run as a formula gets an apostrophe; numbers at full precision. */
export function toCsv(rows: Cell[][]): string {
  const cell = (v: Cell): string => {
    if (v === null) return '';
    if (typeof v === 'number') return Number.isFinite(v) ? String(v) : '';
    const s = /^[=+\-@\t\r]/.test(v) ? `'${v}` : v;
    return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return rows.map((r) => r.map(cell).join(',')).join('\r\n') + '\r\n';
}

export interface RunRow {
  task: string;
  method: 'piggyback' | 'classifier' | 'finetune';
  values: Record<string, Cell>;
}

export const RUN_RESULT_KEYS = ['task', 'method', 'dataset', 'state', 'testAccuracy', 'sparsity', 'bytes', 'trainSeconds', 'trainImages'] as const;

export function hyperValues(t: TaskStats): Record<HyperKey, Cell> {
  const out = {} as Record<HyperKey, Cell>;
  for (const s of HYPERPARAMS) {
    if (s.key === 'trainPerClass' || s.key === 'testLimit' || s.key === 'valFraction') out[s.key] = t.dataLimits ? (t.dataLimits[s.key] ?? null) : null;
    else out[s.key] = t.options[s.key];
  }
  return out;
}

/** One row per task and per baseline: results, then every hyperparameter of the table. */
export function runRows(stats: ProjectStats | undefined): RunRow[] {
  const rows: RunRow[] = [];
  for (const t of stats?.tasks ?? []) {
    const base = { task: t.name, dataset: t.dataset, trainImages: t.trainImages, ...hyperValues(t) };
    rows.push({
      task: t.name,
      method: 'piggyback',
      values: {
        ...base, method: 'piggyback', state: t.state === 'failed' ? 'damaged' : t.state, testAccuracy: t.testAccuracy, sparsity: t.sparsity, bytes: t.bytes,
        trainSeconds: t.history.length ? t.history.reduce((a, m) => a + m.seconds, 0) : null,
      },
    });
    for (const b of t.baselines) {
      rows.push({
        task: t.name,
        method: b.method,
        values: { ...base, method: b.method, state: 'trained', testAccuracy: b.testAccuracy, sparsity: null, bytes: b.bytesIfStored, trainSeconds: b.trainSeconds },
      });
    }
  }
  return rows;
}

export function runsTable(stats: ProjectStats): Cell[][] {
  const keys = [...RUN_RESULT_KEYS, ...HYPERPARAMS.map((s) => s.key)];
  return [keys, ...runRows(stats).map((r) => keys.map((k) => r.values[k] ?? null))];
}

export function sparsityTable(s: ProjectStats, shape: (dims: number[]) => string = (d) => d.join('×')): Cell[][] {
  // weights_negated: ternary masks only (-1 entries); empty for binary ones.
  const rows: Cell[][] = [['task', 'layer', 'layer_index', 'shape', 'weights_total', 'weights_off', 'sparsity', 'weights_negated']];
  for (const t of s.tasks)
    s.layers.forEach((l, i) => {
      const v = t.layerSparsity[i];
      const neg = t.layerNegated?.[i];
      rows.push([t.name, l.name, i, shape(l.shape), l.size, v === undefined ? '' : Math.round(v * l.size), v === undefined ? '' : v, neg === undefined ? '' : Math.round(neg * l.size)]);
    });
  return rows;
}

export function overlapTable(s: ProjectStats, metric: 'jaccard' | 'hamming', layer = -1): Cell[][] {
  const m = (layer >= 0 ? s.overlap.perLayer[layer] : s.overlap.overall)[metric];
  const names = s.tasks.map((t) => t.name);
  return [['task', ...names], ...m.map((r, i) => [names[i], ...r.map((v) => (v === null ? '' : v))])];
}

/** Every stored curve point: accuracy, validation, bits flipped per epoch, loss per step, baselines. */
export function curvesTable(s: ProjectStats): Cell[][] {
  const rows: Cell[][] = [['chart', 'series', 'task', 'x', 'y']];
  for (const t of s.tasks) {
    for (const m of t.history) rows.push(['accuracy', 'train', t.name, m.epoch, m.trainAccuracy]);
    for (const m of t.history) if (m.valAccuracy !== null) rows.push(['accuracy', 'val', t.name, m.epoch, m.valAccuracy]);
    for (const b of t.baselines) rows.push(['accuracy', b.method, t.name, null, b.testAccuracy]);
    if (t.stepLoss) t.stepLoss.step.forEach((x, i) => rows.push(['loss', 'loss', t.name, x, t.stepLoss!.loss[i]]));
    for (const b of t.baselines) if (b.stepLoss) b.stepLoss.step.forEach((x, i) => rows.push(['loss', b.method, t.name, x, b.stepLoss!.loss[i]]));
    for (const m of t.history) rows.push(['bits', 'bits', t.name, m.epoch, m.bitsFlipped]);
  }
  return rows;
}
