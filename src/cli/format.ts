/** Human-readable renderings of engine results for the terminal. */
import type { EvalResult, ProjectStats, TaskStats } from '../core/types';
import type { ClassifierTop } from '../core/model/modelIO';

export const pct = (x: number | null | undefined, digits = 2): string => (x === null || x === undefined || Number.isNaN(x) ? '-' : `${(100 * x).toFixed(digits)}%`);

/** `x` with `digits` decimals, '-' when unknown. */
export const fixed = (x: number | null | undefined, digits = 3): string => (x === null || x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(digits));

export function bytes(n: number | null): string {
  if (n === null || !Number.isFinite(n)) return '-';
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(2)} MiB`;
}

/** Plain-text table: numbers right-aligned, text left-aligned, the first column always left. */
export function table(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  const numeric = (cell: string) => /^[-+]?[\d.,]+\s?(%|[KM]?i?B|s)?$/.test(cell) || cell === '-';
  return rows
    .map((r) => r.map((cell, c) => (c > 0 && numeric(cell) ? cell.padStart(widths[c]) : cell.padEnd(widths[c]))).join('  ').trimEnd())
    .join('\n');
}

export function formatTask(t: TaskStats): string {
  if (t.state === 'failed') return `task "${t.name}" is damaged: ${t.damage}`;
  return `task "${t.name}" on ${t.dataset}: test accuracy ${pct(t.testAccuracy)}, ${pct(t.sparsity, 1)} of masked weights off, ${bytes(t.bytes)} on disk (mask ${fixed(t.bitsPerMaskedWeight)} bits per masked weight; ${fixed(t.rawBitsPerMaskedWeight)} bit-packed)`;
}

export function formatEval(task: string, r: EvalResult, classNames: string[]): string {
  const lines = [`task "${task}": top-1 accuracy ${pct(r.accuracy)} on ${r.count} images (${r.imagesPerSecond.toFixed(0)} img/s)`, 'per class:'];
  lines.push(table([['class', 'accuracy'], ...r.perClassAccuracy.map((a, i) => [classNames[i] ?? String(i), pct(a, 1)])]));
  return lines.join('\n');
}

export function formatStats(s: ProjectStats): string {
  const out: string[] = [];
  out.push(`project ${s.dir}`);
  const name = s.backbone.alias ? `${s.backbone.alias} (${s.backbone.modelPath})` : s.backbone.modelPath;
  out.push(`backbone ${name}${s.backbone.cutAt ? ` cut at ${s.backbone.cutAt}` : ''}: input ${s.backbone.inputShape.join('x')}, ${s.backbone.totalParams.toLocaleString('en-US')} parameters, ${s.backbone.maskedParams.toLocaleString('en-US')} masked in ${s.layers.length} layers`);
  if (s.backbone.missing) out.push(`BACKBONE MISSING: no model.json at ${s.backbone.modelPath} (run \`piggyback relink ${s.dir} --backbone <model.json>\`)`);
  if (!s.tasks.length) {
    out.push('no tasks yet: run `piggyback train`');
    return out.join('\n');
  }
  out.push('');
  out.push(
    table([
      ['task', 'dataset', 'accuracy', 'sparsity', 'bytes', 'bits/weight', 'classifier', 'finetune'],
      ...s.tasks.map((t) => [
        t.state === 'failed' ? `${t.name} (DAMAGED)` : t.name, t.dataset, pct(t.testAccuracy), pct(t.sparsity, 1), bytes(t.bytes), fixed(t.bitsPerMaskedWeight),
        pct(t.baselines.find((b) => b.method === 'classifier')?.testAccuracy), pct(t.baselines.find((b) => b.method === 'finetune')?.testAccuracy),
      ]),
    ]),
  );
  for (const t of s.tasks.filter((x) => x.state === 'failed')) out.push(`damaged: ${t.name}: ${t.damage}`);
  out.push('');
  out.push('sparsity per layer (fraction of weights switched off):');
  out.push(table([['layer', ...s.tasks.map((t) => t.name)], ...s.layers.map((l, i) => [l.name, ...s.tasks.map((t) => pct(t.layerSparsity[i], 1))])]));
  if (s.tasks.length > 1) {
    out.push('');
    out.push('overlap of kept weights (Jaccard), whole network:');
    out.push(table([['', ...s.tasks.map((t) => t.name)], ...s.tasks.map((t, i) => [t.name, ...s.overlap.overall.jaccard[i].map((v) => fixed(v))])]));
  }
  return out.join('\n');
}

/** What init did with a model's classification top (one line). */
export function formatTopCut(top: ClassifierTop): string {
  const others = top.dropped.filter((n) => n !== top.classifier);
  return `cut before the classifier layer ${top.classifier}${others.length ? ` (also dropped ${others.join(', ')})` : ''}: the backbone ends at ${top.cutAt} and each task trains its own head (\`piggyback init --keep-top\` keeps the whole model, \`--cut-at L\` ends it elsewhere)`;
}
