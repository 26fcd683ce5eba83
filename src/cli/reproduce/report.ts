/**
 * Renders the merged per-architecture results as docs/results.csv (one row per backbone, task
 * and method), docs/results.md (one row per task, one column group per backbone) and the
 * sparsity heatmap PNG. Every number comes from the ArchResult files; nothing is typed in.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../../core/project/atomic';
import { domainOf } from './plan';
import type { ArchResult, ResultRow } from './types';
import { writeHeatmapPng } from './figure';

export const CSV_COLUMNS: Array<keyof ResultRow> = [
  'backbone', 'task', 'method', 'test_accuracy', 'val_accuracy', 'train_seconds', 'sparsity', 'bits_per_weight', 'bytes', 'finetune_bytes',
  'optimizer', 'lr', 'lr_mask', 'epochs', 'steps', 'batch_size', 'decay_every', 'train_images', 'val_images', 'test_images', 'project_task',
];

export const FIGURE_FILE = 'results-sparsity.png';

const pct = (x: number | null | undefined, d = 2): string => (x === null || x === undefined || Number.isNaN(x) ? '-' : `${(100 * x).toFixed(d)}%`);
const pts = (x: number): string => `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(2)}`;
const mean = (xs: number[]): number => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);

export function humanBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(2)} MiB`;
}

function csvCell(v: unknown): string {
  if (v === null || v === undefined || (typeof v === 'number' && Number.isNaN(v))) return '';
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(6)));
  const s = String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function toCsv(results: ArchResult[]): string {
  const lines = [CSV_COLUMNS.join(',')];
  for (const r of results) for (const row of r.rows) lines.push(CSV_COLUMNS.map((c) => csvCell(row[c])).join(','));
  return `${lines.join('\n')}\n`;
}

function mdTable(header: string[], rows: string[][]): string {
  return [`| ${header.join(' | ')} |`, `|${header.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

const row = (r: ArchResult, task: string, method: string) => r.rows.find((x) => x.task === task && x.method === method);

function duration(s: number): string {
  return s < 90 ? `${s.toFixed(0)} s` : `${(s / 60).toFixed(1)} min`;
}

function mainTable(results: ArchResult[]): string {
  const tasks = [...new Set(results.flatMap((r) => r.rows.map((x) => x.task)))];
  const header = ['task'];
  for (const r of results) header.push(`${r.arch}: Piggyback`, `${r.arch}: classifier only`, `${r.arch}: fine-tune`, `${r.arch}: bits / weight`, `${r.arch}: bytes per task (vs fine-tuned copy)`);
  const body = tasks.map((t) => {
    const cells = [`${t} (${domainOf(t)})`];
    for (const r of results) {
      const pb = row(r, t, 'piggyback');
      const cl = row(r, t, 'classifier');
      const ft = row(r, t, 'finetune');
      if (!pb) {
        cells.push('-', '-', '-', '-', '-');
        continue;
      }
      const best = Math.max(pb.test_accuracy, cl?.test_accuracy ?? 0, ft?.test_accuracy ?? 0);
      const b = (x: ResultRow | undefined) => (x ? (x.test_accuracy === best ? `**${pct(x.test_accuracy)}**` : pct(x.test_accuracy)) : '-');
      cells.push(b(pb), b(cl), b(ft), pb.bits_per_weight.toFixed(3), `${humanBytes(pb.bytes)} (1/${Math.round(pb.finetune_bytes / pb.bytes)} of ${humanBytes(pb.finetune_bytes)})`);
    }
    return cells;
  });
  return mdTable(header, body);
}

function setup(results: ArchResult[]): string[] {
  const p = results[0].protocol;
  const out: string[] = ['## Setup', ''];
  out.push(mdTable(
    ['method', 'optimiser', 'learning rate', 'schedule', 'epochs', 'batch', 'trains'],
    [
      ['Piggyback', 'Adam', `mask scores ${p.piggyback.lrMask}, head ${p.headRateSelection ? `chosen per task from {${p.headRateSelection.candidates.join(', ')}} on validation (paper: ${p.piggyback.lrHead})` : p.piggyback.lrHead}`, `x0.1 after epoch ${p.decayAt}`, String(p.epochs), String(p.batchSize), `real-valued mask scores (start ${p.piggyback.maskScale}, threshold ${p.piggyback.threshold}) + a new head; backbone and its BN frozen`],
      ['classifier only', `SGD, momentum ${p.classifier.momentum}`, String(p.classifier.lr), p.classifier.decayEvery >= p.epochs ? `constant (its decay at epoch ${p.classifier.decayEvery} is the end)` : `x0.1 every ${p.classifier.decayEvery}`, String(p.epochs), String(p.batchSize), 'a new head on the frozen features'],
      ['fine-tune', `SGD, momentum ${p.finetune.momentum}`, String(p.finetune.lr), `x0.1 after epoch ${p.finetune.decayEvery}`, String(p.epochs), String(p.batchSize), 'every weight, BN trained, a new head (one float32 copy per task)'],
      ...(p.short ? [['Piggyback, 51 steps (ablation)', 'Adam', `mask ${p.short.lrMask}, head ${p.short.lrHead}`, p.short.decayEvery ? `x0.1 after epoch ${p.short.decayEvery}` : 'constant', String(p.short.epochs), String(p.batchSize), `the earlier short budget: ${p.short.trainPerClass} images per class (before the validation hold-out)`]] : []),
    ],
  ));
  out.push('', `Every method of a task gets the same training images, epochs, batch size, validation hold-out (${100 * p.valFraction}% of the training split, seed ${p.seed}) and seed; accuracy is top-1 on the task's whole test split. These are the official Piggyback scripts' settings; what differs from the paper:`, '');
  for (const c of p.changes) out.push(`- ${c}`);
  out.push('', '### Backbones', '');
  out.push(mdTable(
    ['backbone', 'what', 'pretrained on', 'base-task test accuracy', 'dead feature units (base task)', 'masked weights', 'masked layers', 'largest layer share', 'input'],
    results.map((r) => {
      const b = r.backbone;
      const pre = b.pretrain;
      return [
        `\`${r.arch}\``, b.description, pre ? `${pre.baseTask} (${pre.trainImages.toLocaleString('en-US')} images, ${pre.epochs} epochs, \`piggyback pretrain --arch ${pre.arch ?? r.arch}\`)` : b.origin,
        pre ? pct(pre.testAccuracy) : '-', pre?.deadUnits !== undefined ? `${pre.deadUnits} of ${pre.featureUnits}` : '-',
        b.maskedParams.toLocaleString('en-US'), String(b.maskedLayers), pct(b.largestLayerShare, 0), b.inputShape.join('x'),
      ];
    }),
  ));
  return out;
}

/** The one rate changed from the paper: each task's pilot runs, scored on validation, and the pick. */
function headRates(results: ArchResult[]): string[] {
  const rows: string[][] = [];
  for (const r of results) {
    for (const h of r.headRates ?? []) {
      const pb = row(r, h.task, 'piggyback');
      rows.push([r.arch, h.task, `${h.pilotEpochs}`, h.candidates.map((c) => `${c.lrHead}: ${pct(c.valAccuracy)}`).join(', '), `**${h.chosen}**`, pct(pb?.val_accuracy ?? null), pct(pb?.test_accuracy ?? null)]);
    }
  }
  if (!rows.length) return [];
  const p = results.find((r) => r.protocol.headRateSelection)?.protocol;
  return [
    '## Head learning rate, chosen on validation',
    '',
    `The only rate changed from the official scripts. Per task, a ${p?.headRateSelection?.epochs ?? '?'}-epoch Piggyback pilot run per candidate head rate (everything else as in the full run), scored on the validation split; the highest wins, a tie keeps the paper's ${p?.piggyback.lrHead}. The test split plays no part in the choice. The full ${p?.epochs ?? '?'}-epoch run then uses the winner.`,
    '',
    mdTable(['backbone', 'task', 'pilot epochs', 'pilot validation accuracy per head rate', 'chosen', 'full run: validation', 'full run: test'], rows),
    '',
  ];
}

function ablation(results: ArchResult[]): string[] {
  const rows: string[][] = [];
  for (const r of results) {
    for (const pb of r.rows.filter((x) => x.method === 'piggyback')) {
      const s = row(r, pb.task, 'piggyback-51-steps');
      if (!s) continue;
      rows.push([r.arch, pb.task, `${s.steps} steps (${s.train_images} images x ${s.epochs} epochs)`, pct(s.test_accuracy), pct(s.sparsity), `${pb.steps} steps (${pb.train_images} images x ${pb.epochs} epochs)`, pct(pb.test_accuracy), pct(pb.sparsity), pts(100 * (pb.test_accuracy - s.test_accuracy))]);
    }
  }
  if (!rows.length) return [];
  return ['## The schedule\'s effect: the earlier short run as an ablation', '', mdTable(['backbone', 'task', 'short run', 'test', 'sparsity', 'paper protocol', 'test', 'sparsity', 'gain (points)'], rows)];
}

function forgetting(results: ArchResult[]): string[] {
  const out = ['## No forgetting: every task re-evaluated after all tasks were trained', ''];
  out.push(mdTable(
    ['backbone', 'tasks re-evaluated', 'all accuracies exactly equal', 'task files unchanged', 'backbone files bit-identical (sha256)', 'result'],
    results.map((r) => {
      const f = r.forgetting;
      return [r.arch, String(f.tasks.length), f.tasks.every((t) => t.equal) ? 'yes' : 'NO', f.tasks.every((t) => t.filesUnchanged) ? 'yes' : 'NO', f.backboneUnchanged ? 'yes' : 'NO', f.passed ? '**PASSED**' : '**FAILED**'];
    }),
  ));
  return out;
}

/** Sparsity by layer position and by distance of the task from the base (classifier-only accuracy as the proxy). */
function sparsityObservations(results: ArchResult[], figure: string | null): string[] {
  const out = ['## Per-layer sparsity: where the masks cut, and for which tasks', ''];
  out.push(figure === null ? `![Per-layer sparsity heatmap: tasks x layers per backbone](${FIGURE_FILE})` : `(The heatmap PNG was not drawn: ${figure}. The numbers are in the tables below.)`, '');
  for (const r of results) {
    const ls = r.layerSparsity;
    const main = ls.tasks.filter((t) => !t.task.includes('.'));
    if (!main.length) continue;
    out.push(`### ${r.arch}`, '');
    out.push(mdTable(['task', ...ls.layers.map((l) => l.name)], main.map((t) => [t.task, ...t.layerSparsity.map((v) => pct(v, 1))])));
    const third = Math.max(1, Math.floor(ls.layers.length / 3));
    const early = mean(main.flatMap((t) => t.layerSparsity.slice(0, third)));
    const late = mean(main.flatMap((t) => t.layerSparsity.slice(-third)));
    const byDistance = main
      .map((t) => ({ task: t.task, cls: row(r, t.task, 'classifier')?.test_accuracy ?? NaN, sparsity: row(r, t.task, 'piggyback')?.sparsity ?? NaN }))
      .sort((a, b) => b.cls - a.cls);
    out.push('', `- By layer: the first ${third} masked layers lose ${pct(early, 1)} of their weights on average, the last ${third} ${pct(late, 1)}.`);
    out.push(`- By distance from the base task (tasks ordered by classifier-only accuracy on the frozen features: the higher, the closer the task is to what the backbone already computes): ${byDistance.map((d) => `${d.task} ${pct(d.cls, 1)} → ${pct(d.sparsity, 1)} off`).join('; ')}.`, '');
  }
  return out;
}

function discussion(results: ArchResult[]): string[] {
  const out = ['## What this shows', ''];
  for (const r of results) {
    const tasks = r.rows.filter((x) => x.method === 'piggyback');
    const gapFt = tasks.map((pb) => 100 * (pb.test_accuracy - (row(r, pb.task, 'finetune')?.test_accuracy ?? NaN)));
    const gapCl = tasks.map((pb) => 100 * (pb.test_accuracy - (row(r, pb.task, 'classifier')?.test_accuracy ?? NaN)));
    const bits = mean(tasks.map((x) => x.bits_per_weight));
    out.push(`- **${r.arch}**: Piggyback is ${pts(mean(gapFt))} points from fine-tuning on average (per task: ${tasks.map((t, i) => `${t.task} ${pts(gapFt[i])}`).join(', ')}) and ${pts(mean(gapCl))} from classifier-only (${tasks.map((t, i) => `${t.task} ${pts(gapCl[i])}`).join(', ')}), storing ${bits.toFixed(3)} bits per backbone weight per task; no-forgetting check ${r.forgetting.passed ? 'passed' : 'FAILED'}.`);
  }
  out.push('', 'The paper reports Piggyback within a few points of fine-tuning and far above classifier-only, at 1 bit per weight, with no forgetting. Where a row above does not match that, the gap is measured, not explained away: see the dead units, the sparsity by layer and the ablation.');
  return out;
}

/** docs/base-choice.json, written by experiments/choose-base.ts. */
interface BaseChoice {
  rule: string;
  backend: string;
  commands?: string[];
  candidates?: Array<{ baseTask: string; trainImages: number; steps: number; testAccuracy: number }>;
  rows: Array<{ backbone: string; baseTask: string; task: string; valAccuracy: number; deadUnits: number; units: number }>;
}

function baseChoice(choice: BaseChoice | null): string[] {
  if (!choice) return [];
  const tasks = [...new Set(choice.rows.map((r) => r.task))];
  const bases = [...new Set(choice.rows.map((r) => r.baseTask))];
  const body = bases.map((b) => {
    const rs = choice.rows.filter((r) => r.baseTask === b);
    return [b, ...tasks.map((t) => {
      const r = rs.find((x) => x.task === t);
      return r ? `${pct(r.valAccuracy, 1)} (${r.deadUnits} of ${r.units} dead)` : '-';
    }), pct(mean(rs.map((r) => r.valAccuracy)), 1)];
  });
  const cands = choice.candidates ?? [];
  const trained = cands.length ? ` (${cands.map((c) => `${c.baseTask}: ${c.trainImages.toLocaleString('en-US')} images, ${c.steps.toLocaleString('en-US')} steps, ${pct(c.testAccuracy, 1)} on its own test split`).join('; ')})` : '';
  const out = ['## Choosing the base task', '', `Two vgg6 backbones, one per candidate base task, trained for about the same number of steps${trained}; then ${choice.rule}, on ${choice.backend}. The higher mean wins; resnet8 was then pretrained on the winner with the same settings.`, '', mdTable(['base task', ...tasks, 'mean'], body), ''];
  if (choice.commands?.length) out.push('```', ...choice.commands, '```', '');
  return out;
}

export function renderMarkdown(results: ArchResult[], figureProblem: string | null, choice: BaseChoice | null = null): string {
  const out: string[] = ['# Piggyback on real offline data, with the paper\'s protocol', ''];
  out.push('Generated by `piggyback reproduce` from the per-backbone results in `docs/results/*.json`; every number below is in `docs/results.csv` (one row per backbone, task and method). Do not edit by hand.', '');
  out.push(mdTable(
    ['backbone', 'command', 'commit', 'date', 'backend', 'wall time', 'load average (start → end)', 'machine'],
    results.map((r) => [r.arch, `\`${r.commandLine}\``, r.commit, r.date.slice(0, 16).replace('T', ' '), r.backend, duration(r.seconds), `${r.loadAverage[0]} → ${r.loadAverage[1]}`, r.machine]),
  ));
  if (results.some((r) => r.mode === 'quick')) out.push('', '**Quick mode: a smoke test on tiny subsets. These numbers are not results.**');
  out.push('', '## Test accuracy per task (best of a task and backbone in bold)', '', mainTable(results), '');
  out.push('Bits per weight: the task\'s mask.bin as stored (1 bit per weight packed, run-length coded when smaller), per masked backbone weight. A fine-tuned copy stores 32. Bytes per task: the mask, the new head and BN files, against a fine-tuned float32 copy of the whole network and its head.', '');
  out.push(...setup(results), '');
  out.push(...headRates(results));
  out.push(...baseChoice(choice));
  out.push(...ablation(results), '');
  out.push(...forgetting(results), '');
  out.push(...sparsityObservations(results, figureProblem));
  out.push('## Dead feature units of the frozen backbone, per task (0 on every training image)', '');
  out.push(mdTable(['backbone', ...[...new Set(results.flatMap((r) => r.features.map((f) => f.task)))]], results.map((r) => [r.arch, ...[...new Set(results.flatMap((x) => x.features.map((f) => f.task)))].map((t) => {
    const f = r.features.find((x) => x.task === t);
    return f ? `${f.deadUnits} of ${f.units}` : '-';
  })])), '');
  out.push(...discussion(results), '');
  out.push('## Rerun', '', '```', 'npm run reproduce                      # every backbone, one after another', 'npm run reproduce -- --arch resnet8    # one backbone; the table merges docs/results/*.json', 'npm run reproduce -- --render          # only redraw results.md/.csv/.png from docs/results/*.json', 'npm run reproduce -- --quick           # CI smoke test, tiny subsets, writes to .cache', '```', '');
  const skipped = results.flatMap((r) => r.skipped);
  if (skipped.length) out.push('## Skipped', '', ...skipped.map((s) => `- ${s}`), '');
  return `${out.join('\n')}`;
}

export async function writeReports(results: ArchResult[], outDir: string, log: (s: string) => void = () => {}): Promise<void> {
  fs.mkdirSync(outDir, { recursive: true });
  let figure: string | null;
  try {
    figure = await writeHeatmapPng(results, path.join(outDir, FIGURE_FILE));
  } catch (e) {
    figure = `drawing failed: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`;
  }
  if (figure) log(`sparsity heatmap not drawn: ${figure}`);
  writeFileAtomic(path.join(outDir, 'results.csv'), toCsv(results));
  const choiceFile = path.join(outDir, 'base-choice.json');
  const choice = fs.existsSync(choiceFile) ? (JSON.parse(fs.readFileSync(choiceFile, 'utf8')) as BaseChoice) : null;
  writeFileAtomic(path.join(outDir, 'results.md'), renderMarkdown(results, figure, choice));
}
