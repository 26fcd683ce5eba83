/** Renders a reproduce run as docs/results.csv (one row per task and method) and docs/results.md. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../project/atomic';
import { maskFileBytes } from '../project/maskFile';
import { DEFAULT_TRAIN_OPTIONS } from '../types';
import type { ReproduceResult, ResultRow } from './run';

export const CSV_COLUMNS: Array<keyof ResultRow> = [
  'task', 'method', 'test_accuracy', 'train_seconds', 'sparsity', 'bits_per_weight', 'bytes',
  'backbone', 'stage', 'val_accuracy', 'raw_bits_per_weight', 'negative_fraction', 'mask_bytes', 'epochs', 'batch_size', 'lr_mask', 'lr_head', 'mask_scale', 'mask_kind', 'bn_mode',
  'train_images', 'val_images', 'test_images', 'project_task',
];

/** Fills raw_bits_per_weight where a row lacks it (results of older runs), from the layer sizes. */
function withRawBits(r: ReproduceResult): ReproduceResult {
  const rows = r.rows.map((row) => {
    if (row.raw_bits_per_weight !== undefined && row.raw_bits_per_weight !== null) return row;
    if (row.mask_kind !== 'binary' && row.mask_kind !== 'ternary') return { ...row, raw_bits_per_weight: row.bits_per_weight };
    const layers = r.layerSparsity.find((t) => t.backbone === row.backbone)?.layers;
    const bb = r.backbones.find((b) => b.id === row.backbone);
    if (!layers || !bb) return { ...row, raw_bits_per_weight: null };
    return { ...row, raw_bits_per_weight: (maskFileBytes(row.mask_kind, layers) * 8) / bb.maskedParams };
  });
  return { ...r, rows };
}

const pct = (x: number | null | undefined, d = 2): string => (x === null || x === undefined || Number.isNaN(x) ? '-' : `${(100 * x).toFixed(d)}%`);
const pts = (x: number): string => `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(2)}`;
/** 0.0030000000000000005 -> 0.003 inside free text. */
const tidy = (s: string): string => s.replace(/\d+\.\d{7,}/g, (m) => String(Number(Number(m).toPrecision(3))));
const plural = (n: number, w: string): string => `${n} ${w}${n === 1 ? '' : 's'}`;

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

export function toCsv(rows: ResultRow[]): string {
  const lines = [CSV_COLUMNS.join(',')];
  for (const r of rows) lines.push(CSV_COLUMNS.map((c) => csvCell(r[c])).join(','));
  return `${lines.join('\n')}\n`;
}

function mdTable(header: string[], rows: string[][], align?: Array<'l' | 'r'>): string {
  const a = align ?? header.map((_, i) => (i === 0 ? 'l' : 'r'));
  return [
    `| ${header.join(' | ')} |`,
    `|${a.map((x) => (x === 'r' ? '---:' : '---')).join('|')}|`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
}

function duration(s: number): string {
  if (s < 90) return `${s.toFixed(0)} s`;
  return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

export interface TaskGap {
  backbone: string;
  task: string;
  piggyback: ResultRow;
  finetune?: ResultRow;
  classifier?: ResultRow;
  vsFinetune: number | null;
  vsClassifier: number | null;
  variants: ResultRow[];
  /** Piggyback with its BN mode (frozen or trainable) chosen on validation accuracy, when both ran. */
  bnByVal: ResultRow | null;
}

export function taskGaps(rows: ResultRow[]): TaskGap[] {
  const out: TaskGap[] = [];
  for (const pb of rows.filter((r) => r.method === 'piggyback' && r.stage === 'main')) {
    const same = rows.filter((r) => r.backbone === pb.backbone && r.task === pb.task);
    const finetune = same.find((r) => r.method === 'finetune');
    const classifier = same.find((r) => r.method === 'classifier');
    out.push({
      backbone: pb.backbone, task: pb.task, piggyback: pb, finetune, classifier,
      vsFinetune: finetune ? 100 * (pb.test_accuracy - finetune.test_accuracy) : null,
      vsClassifier: classifier ? 100 * (pb.test_accuracy - classifier.test_accuracy) : null,
      variants: same.filter((r) => r.stage === 'variant'),
      bnByVal: (() => {
        const bn = same.find((r) => r.method === 'piggyback-bn-trainable');
        if (!bn) return null;
        return (bn.val_accuracy ?? -1) > (pb.val_accuracy ?? -1) ? bn : pb;
      })(),
    });
  }
  return out;
}

function methodLabel(r: ResultRow): string {
  switch (r.method) {
    case 'piggyback': return `piggyback (${r.mask_kind}, BN ${r.bn_mode})`;
    case 'classifier': return 'classifier-only';
    case 'finetune': return 'full fine-tuning';
    default: return r.method;
  }
}

export function renderMarkdown(r: ReproduceResult): string {
  const out: string[] = [];
  const p = r.plan;
  const ref = r.backbones.find((b) => b.id === 'reference-cnn');
  const mob = r.backbones.find((b) => b.id !== 'reference-cnn');
  const gaps = taskGaps(r.rows);
  const refGaps = gaps.filter((g) => g.backbone === 'reference-cnn');

  out.push('# Piggyback on real data: masks vs classifier-only vs fine-tuning');
  out.push('');
  out.push(`Generated by \`${r.commandLine}\` (${r.mode} mode). Do not edit by hand: rerun the command.`);
  out.push('');
  out.push(mdTable(['', ''], [
    ['command', `\`${r.commandLine}\``],
    ['mode', r.mode === 'full' ? 'full (the committed result)' : 'quick (CI smoke run: tiny subsets, 1 epoch; the numbers mean little)'],
    ...(r.status && r.status !== 'complete' ? [['status', `**${r.status.toUpperCase()}**: an interrupted run; only the stages above were measured`]] : []),
    ['backend', r.backend],
    ['commit', `\`${r.commit}\``],
    ['date', r.date],
    ['machine', r.machine],
    ['node', r.node],
    ['total runtime', duration(r.seconds)],
  ], ['l', 'l']));
  out.push('');

  // --------------------------------------------------------------- setup
  out.push('## Setup');
  out.push('');
  if (ref) {
    const pre = ref.pretrain;
    out.push(`- **Backbone (reused, not retrained by this command):** \`${ref.modelPath}\`, ${ref.description}. ` +
      (pre ? `Base task ${pre.baseTask}, ${pre.trainImages.toLocaleString('en-US')} training images, ${pre.epochs} epochs, base-task test accuracy ${pct(pre.testAccuracy)} (created ${pre.createdAt}). ` : '') +
      `Input ${ref.inputShape.join('x')}, ${ref.totalParams.toLocaleString('en-US')} parameters, ${ref.maskedParams.toLocaleString('en-US')} of them masked in ${ref.maskedLayers} layers, sha256 \`${ref.sha256.slice(0, 16)}…\`.`);
  }
  if (mob) {
    out.push(`- **Third-party backbone:** ${mob.description}; ${mob.totalParams.toLocaleString('en-US')} parameters, ${mob.maskedParams.toLocaleString('en-US')} masked in ${mob.maskedLayers} layers (convolutions, depthwise convolutions).`);
  }
  out.push(`- **Tasks** (all real, all installed offline; one project per backbone, every task on the same frozen backbone):`);
  for (const t of p.tasks) {
    const row = r.rows.find((x) => x.backbone === 'reference-cnn' && x.task === t.dataset && x.method === 'piggyback');
    const n = row ? `${row.train_images} train / ${row.val_images} validation / ${row.test_images} test images` : 'not run';
    out.push(`  - \`${t.dataset}\`: ${t.domain}; ${n}, ${t.epochs} epoch${t.epochs === 1 ? '' : 's'}${t.trainPerClass ? ` (at most ${t.trainPerClass} training images per class before the validation hold-out)` : ''}.`);
  }
  if (p.mobilenet) {
    const row = r.rows.find((x) => x.backbone !== 'reference-cnn' && x.method === 'piggyback');
    out.push(`  - MobileNetV2: \`${p.mobilenet.dataset}\` at ${p.mobilenet.inputSize}x${p.mobilenet.inputSize}, ${row ? `${row.train_images} train / ${row.val_images} validation / ${row.test_images} test images` : 'not run'}, ${p.mobilenet.epochs} epochs, batch ${p.mobilenet.batchSize ?? p.batchSize}.`);
  }
  out.push(`- **Same budget for every method of a task:** same training images, validation hold-out (${(100 * p.valFraction).toFixed(0)}% of train, stratified), test images, epochs, batch size ${p.batchSize}, seed ${p.seed}, Adam. ` +
    `Adam rates per method (reference CNN): Piggyback mask scores ${r.taskLrMask && Object.keys(r.taskLrMask).length ? `chosen per task on its own validation split from {${(p.taskLrMask ?? []).join(', ')}}: ${Object.entries(r.taskLrMask).map(([k, v]) => `${k} ${v}`).join(', ')}` : r.lr.lrMask}, Piggyback head ${r.lr.lrHead}; classifier-only (a new head on frozen features) ${r.lr.lrClassifier}; full fine-tuning (every backbone weight, BN and a new head) ${r.lr.lrFinetune}. ` +
    (p.decayAtHalf ? 'Learning rates x0.1 for the second half of the epochs (the paper\'s 30-epoch schedule with a drop at 15, scaled). ' : 'Constant learning rates. ') +
    `Mask scale ${p.maskScale}, threshold ${DEFAULT_TRAIN_OPTIONS.threshold}, BN frozen unless stated.`);
  out.push('- **Storage:** Piggyback rows count the task\'s own files (bit-packed mask + float32 head, + BN parameters when trainable); bits/weight *stored* is the size of mask.bin in bits per masked backbone weight as the project store writes it (compressed when the store compresses and that is smaller), *packed* is the plain bit-packed mask (1 bit per weight + a small header; 2 bit-planes for the ternarizer). Fine-tuning rows count a float32 copy of the whole backbone plus head (32 bits/weight); classifier-only rows count the head alone.');
  if (r.tune) {
    out.push(`- **Learning rates were selected on validation data only** (\`${r.tune.dataset}\`, ${r.tune.trainImages} train / ${r.tune.valImages} validation images, ${plural(r.tune.epochs, 'epoch')}). See [Learning-rate selection](#learning-rate-selection-validation-split).`);
  } else {
    out.push('- Learning rates fixed by the plan (no selection stage in this mode).');
  }
  if (r.tuneMobilenet) {
    const c = r.tuneMobilenet.chosen;
    out.push(`- **MobileNetV2 rates**, selected the same way on its own validation split: mask scores ${c.lrMask}, head ${c.lrHead}, classifier-only ${c.lrClassifier}, fine-tuning ${c.lrFinetune}.`);
  }
  if (r.skipped.length) out.push(`- **Skipped:** ${r.skipped.join('; ')}.`);
  out.push('');

  // --------------------------------------------------------------- main table
  out.push('## Measured results');
  out.push('');
  const tableRows = r.rows.filter((x) => x.stage !== 'investigation');
  out.push(mdTable(
    ['backbone', 'task', 'method', 'test acc.', 'val acc.', 'train s', 'sparsity', 'bits/weight stored', 'bits/weight packed', 'bytes per task'],
    tableRows.map((x) => [
      x.backbone, x.task, methodLabel(x), pct(x.test_accuracy), pct(x.val_accuracy), x.train_seconds.toFixed(1),
      x.sparsity === null ? '-' : `${pct(x.sparsity)}${x.negative_fraction !== null ? ` (+${pct(x.negative_fraction)} negated)` : ''}`,
      x.bits_per_weight.toFixed(3), x.raw_bits_per_weight === null || x.raw_bits_per_weight === undefined ? '-' : x.raw_bits_per_weight.toFixed(3), humanBytes(x.bytes),
    ]),
    ['l', 'l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
  ));
  out.push('');
  out.push('Sparsity = fraction of masked weights switched off. The same rows are in [results.csv](results.csv).');
  out.push('');

  // --------------------------------------------------------------- gaps
  out.push('## Piggyback vs the baselines, per task');
  out.push('');
  out.push(mdTable(
    ['backbone', 'task', 'piggyback', 'fine-tune', 'classifier', 'piggyback − fine-tune (points)', 'piggyback − classifier (points)', 'piggyback, BN mode chosen on val', '… − fine-tune', 'piggyback bytes', 'fine-tuned copy bytes', 'ratio'],
    gaps.map((g) => [
      g.backbone, g.task, pct(g.piggyback.test_accuracy), pct(g.finetune?.test_accuracy), pct(g.classifier?.test_accuracy),
      g.vsFinetune === null ? '-' : pts(g.vsFinetune), g.vsClassifier === null ? '-' : pts(g.vsClassifier),
      g.bnByVal ? `${pct(g.bnByVal.test_accuracy)} (BN ${g.bnByVal.bn_mode})` : '-',
      g.bnByVal && g.finetune ? pts(100 * (g.bnByVal.test_accuracy - g.finetune.test_accuracy)) : '-',
      humanBytes(g.piggyback.bytes), g.finetune ? humanBytes(g.finetune.bytes) : '-',
      g.finetune ? `1/${(g.finetune.bytes / g.piggyback.bytes).toFixed(0)}` : '-',
    ]),
    ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
  ));
  out.push('');
  out.push('"BN mode chosen on val": for tasks that also ran the trainable-BN variant, the Piggyback run (frozen or trainable BN) with the better validation accuracy, a choice made without the test split.');
  out.push('');
  for (const g of gaps) {
    const vs = g.variants.map((v) => `${v.method} ${pct(v.test_accuracy)} (${pts(100 * (v.test_accuracy - g.piggyback.test_accuracy))} vs binary/frozen)`).join(', ');
    out.push(`- **${g.task}** (${g.backbone}): Piggyback ${pct(g.piggyback.test_accuracy)} is ${g.vsFinetune === null ? '?' : `${Math.abs(g.vsFinetune).toFixed(2)} points ${g.vsFinetune >= 0 ? 'above' : 'below'}`} fine-tuning and ${g.vsClassifier === null ? '?' : `${Math.abs(g.vsClassifier).toFixed(2)} points ${g.vsClassifier >= 0 ? 'above' : 'below'}`} classifier-only.${vs ? ` Variants: ${vs}.` : ''}`);
  }
  out.push('');

  // --------------------------------------------------------------- forgetting
  out.push('## No forgetting: every task re-evaluated after all tasks were trained');
  out.push('');
  for (const f of r.forgetting) {
    out.push(`**${f.backbone}: ${f.passed ? 'PASSED' : 'FAILED'}.** Backbone files ${f.backboneUnchanged ? 'bit-identical' : 'CHANGED'} before and after (sha256 of ${Object.keys(f.backboneFiles).length} files: ${Object.entries(f.backboneFiles).map(([k, v]) => `\`${k}\` ${v.slice(0, 12)}…`).join(', ')}).`);
    out.push('');
    out.push(mdTable(['task (training order)', 'accuracy right after training', 'accuracy at the end', 'identical', 'mask/head/BN files unchanged'],
      f.tasks.map((t) => [t.task, pct(t.accuracyAfterTraining, 3), pct(t.accuracyAtEnd, 3), t.equal ? 'yes' : '**NO**', t.filesUnchanged ? 'yes' : '**NO**'])));
    out.push('');
  }

  // --------------------------------------------------------------- per-layer sparsity
  out.push('## Per-layer sparsity (fraction of weights switched off)');
  out.push('');
  for (const t of r.layerSparsity) {
    out.push(`${t.backbone}:`);
    out.push('');
    if (t.layers.length <= 12) {
      out.push(mdTable(['task', ...t.layers.map((l) => `${l.name} (${l.size.toLocaleString('en-US')})`)], t.tasks.map((x) => [x.task, ...x.layerSparsity.map((s) => pct(s, 1))])));
    } else {
      // Wide backbones: layers as rows.
      out.push(mdTable(['layer', 'kind', 'weights', ...t.tasks.map((x) => x.task)], t.layers.map((l, i) => [l.name, l.kind, l.size.toLocaleString('en-US'), ...t.tasks.map((x) => pct(x.layerSparsity[i], 1))])));
    }
    out.push('');
  }

  // --------------------------------------------------------------- tuning
  if (r.tune || r.tuneMobilenet) {
    out.push('## Learning-rate selection (validation split)');
    out.push('');
    for (const [name, t] of [['reference CNN', r.tune], ['MobileNetV2', r.tuneMobilenet]] as const) {
      if (!t) continue;
      out.push(`**${name}**, on \`${t.dataset}\` (${t.trainImages} train / ${t.valImages} validation images), ${plural(t.epochs, 'epoch')}, same schedule, batch size and seed as the main runs; final-epoch validation accuracy. No test images were used to choose.`);
      out.push('');
      const label: Record<string, string> = { classifier: 'classifier-only head (lr)', piggyback: `Piggyback mask scores (lrMask; lrHead ${t.chosen.lrHead})`, finetune: 'full fine-tuning (lr)' };
      const chosenOf: Record<string, number> = { classifier: t.chosen.lrClassifier, piggyback: t.chosen.lrMask, finetune: t.chosen.lrFinetune };
      out.push(mdTable(['method', 'rate', 'val acc.', 'train s', 'chosen'],
        t.rows.map((x) => [label[x.method], String(x.lr), pct(x.valAccuracy), x.seconds.toFixed(0), x.lr === chosenOf[x.method] ? '**yes**' : '']), ['l', 'r', 'r', 'r', 'l']));
      out.push('');
    }
    out.push(`Rule: ${(r.tune ?? r.tuneMobilenet)!.rule}`);
    out.push('');
  }

  // --------------------------------------------------------------- investigation
  out.push('## Where Piggyback is more than 2 points below fine-tuning');
  out.push('');
  const big = refGaps.filter((g) => g.vsFinetune !== null && g.vsFinetune < -2);
  const bigAll = gaps.filter((g) => g.vsFinetune !== null && g.vsFinetune < -2);
  if (!bigAll.length) out.push('No task: Piggyback is within 2 points of fine-tuning (or above it) everywhere.');
  else out.push(`Tasks: ${bigAll.map((g) => `${g.task} on ${g.backbone} (${pts(g.vsFinetune!)})`).join(', ')}.`);
  out.push('');
  if (r.investigations.length) {
    out.push('Each follow-up run changes one thing relative to the main Piggyback run and is judged on **validation** accuracy (test shown for information only; the main table is not replaced by the best test number).');
    out.push('');
    for (const inv of r.investigations) {
      out.push(`**${inv.task}** (gap ${pts(inv.gapPoints)} points; main run val ${pct(inv.baseline.valAccuracy)} / test ${pct(inv.baseline.testAccuracy)}; fine-tuning val ${pct(inv.finetune.valAccuracy)} / test ${pct(inv.finetune.testAccuracy)}):`);
      out.push('');
      out.push(mdTable(['change', 'val acc.', 'Δ val (points)', 'test acc.', 'sparsity'],
        inv.runs.map((x) => [tidy(x.change), pct(x.valAccuracy), x.valAccuracy === null || inv.baseline.valAccuracy === null ? '-' : pts(100 * (x.valAccuracy - inv.baseline.valAccuracy)), pct(x.testAccuracy), pct(x.sparsity)]), ['l', 'r', 'r', 'r', 'r']));
      const best = inv.runs.filter((x) => x.valAccuracy !== null).sort((a, b) => (b.valAccuracy as number) - (a.valAccuracy as number))[0];
      if (best && inv.baseline.valAccuracy !== null) {
        const dv = 100 * ((best.valAccuracy as number) - inv.baseline.valAccuracy);
        out.push('');
        out.push(dv > 0.5
          ? `Best on validation: ${tidy(best.change)} (${pts(dv)} val points; on test ${pct(best.testAccuracy)}, i.e. ${pts(100 * (best.testAccuracy - inv.finetune.testAccuracy))} vs fine-tuning).`
          : `No single change gains more than half a validation point (best: ${tidy(best.change)}, ${pts(dv)}): the gap is not a matter of these settings.`);
      }
      out.push('');
    }
  } else if (big.length) {
    out.push('No follow-up runs in this mode.');
    out.push('');
  }

  // --------------------------------------------------------------- backbone features
  if (r.features?.length) {
    out.push('### What the frozen backbone gives each task');
    out.push('');
    out.push('Feature units of the frozen backbone (what a head sees) that are 0 on every training image of the task, and the fraction of all feature values that are 0. A masked weight can only be switched off, so a unit the backbone leaves silent stays silent for classifier-only and (nearly always) for Piggyback with frozen BN; fine-tuning can revive it.');
    out.push('');
    out.push(mdTable(['backbone', 'task', 'feature units', 'silent on every image', 'zero values'],
      r.features.map((f) => [f.backbone, f.task, String(f.units), `${f.deadUnits} (${pct(f.deadUnits / f.units, 0)})`, pct(f.zeroFraction, 1)])));
    out.push('');
  }

  // --------------------------------------------------------------- discussion (from the numbers)
  out.push('## Discussion');
  out.push('');
  out.push(...discussion(r, gaps));
  out.push('');
  out.push('## Rerun');
  out.push('');
  out.push('```sh');
  out.push('npm run reproduce            # full mode (this file): see "total runtime" above; writes docs/results.md + .csv');
  out.push('npm run reproduce -- --quick # CI smoke run, about a minute; writes to .cache/reproduce/quick/');
  out.push('```');
  out.push('');
  out.push('Scratch projects (masks, heads, task.json with every epoch\'s metrics) stay under `.cache/reproduce/` and open in the extension or with `piggyback stats`.');
  out.push('');
  return out.join('\n');
}

function mean(xs: number[]): number {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN;
}

function discussion(r: ReproduceResult, gaps: TaskGap[]): string[] {
  const lines: string[] = [];
  const backbones = [...new Set(gaps.map((g) => g.backbone))];
  for (const bb of backbones) {
    const gs = gaps.filter((g) => g.backbone === bb);
    const withFt = gs.filter((g) => g.vsFinetune !== null);
    const within2 = withFt.filter((g) => (g.vsFinetune as number) >= -2);
    const aboveCl = gs.filter((g) => g.vsClassifier !== null && (g.vsClassifier as number) > 0);
    const degenerate = gs.every((g) => g.piggyback.sparsity === 0 || (g.finetune && g.classifier && g.finetune.test_accuracy < g.classifier.test_accuracy));
    const verdict = degenerate
      ? 'inconclusive: at this budget neither the mask nor fine-tuning learned anything beyond the frozen features (details below)'
      : within2.length === withFt.length
      ? 'the paper\'s claim holds here: Piggyback is within 2 points of fine-tuning on every task'
      : within2.length === 0
        ? 'with the paper\'s defaults (binary mask, frozen BN), "close to fine-tuning" does not hold at this budget: Piggyback is more than 2 points below fine-tuning on every task'
        : `the claim holds on ${within2.length} of ${withFt.length} tasks only`;
    lines.push(`- **${bb}: ${verdict}** (mean Piggyback − fine-tuning ${pts(mean(withFt.map((g) => g.vsFinetune as number)))} points; ` +
      `Piggyback − classifier-only ${pts(mean(gs.map((g) => g.vsClassifier ?? 0)))} points, above classifier-only on ${aboveCl.length} of ${gs.length}).`);
  }
  for (const g of gaps) {
    const notes: string[] = [];
    if (g.piggyback.sparsity === 0) notes.push(`its selected mask switched no weight off (sparsity 0), so Piggyback there is exactly classifier-only with a Piggyback head; higher mask rates collapsed on validation (see the selection table)`);
    if (g.finetune && g.classifier && g.finetune.test_accuracy < g.classifier.test_accuracy) notes.push(`fine-tuning ends below classifier-only (${pct(g.finetune.test_accuracy)} vs ${pct(g.classifier.test_accuracy)}): updating every weight and BN statistic of this network on ${g.finetune.train_images} images for ${plural(g.finetune.epochs, 'epoch')} does not train well, so "above fine-tuning" here says little about Piggyback`);
    if (notes.length) lines.push(`- **${g.task} on ${g.backbone}:** ${notes.join('; ')}.`);
  }
  const sel = gaps.filter((g) => g.bnByVal && g.finetune);
  if (sel.length) {
    const close = sel.filter((g) => 100 * ((g.bnByVal as ResultRow).test_accuracy - (g.finetune as ResultRow).test_accuracy) >= -2);
    lines.push(`- **With the BN mode chosen per task on validation** (frozen or trainable), Piggyback is within 2 points of fine-tuning on ${close.length} of ${sel.length} tasks: ${sel.map((g) => `${g.task} ${pct((g.bnByVal as ResultRow).test_accuracy)} (BN ${(g.bnByVal as ResultRow).bn_mode}, ${pts(100 * ((g.bnByVal as ResultRow).test_accuracy - (g.finetune as ResultRow).test_accuracy))} vs fine-tuning, ${pts(100 * ((g.bnByVal as ResultRow).test_accuracy - (g.classifier?.test_accuracy ?? 0)))} vs classifier-only)`).join('; ')}.`);
  }
  // What closes the gap: variants and follow-ups, judged on validation.
  for (const g of gaps.filter((x) => x.vsFinetune !== null && (x.vsFinetune as number) < -2)) {
    const cands: Array<{ what: string; val: number | null; test: number }> = [];
    for (const v of g.variants) cands.push({ what: v.method.replace('piggyback-', ''), val: v.val_accuracy, test: v.test_accuracy });
    const inv = r.investigations.find((i) => i.task === g.task && g.backbone === 'reference-cnn');
    for (const x of inv?.runs ?? []) if (x.kind !== 'bn-trainable') cands.push({ what: tidy(x.change), val: x.valAccuracy, test: x.testAccuracy });
    if (!cands.length) continue;
    const base = g.piggyback.val_accuracy;
    const ranked = cands.filter((c) => c.val !== null).sort((a, b) => (b.val as number) - (a.val as number));
    const parts = ranked.map((c) => `${c.what}: val ${base === null ? pct(c.val) : pts(100 * ((c.val as number) - base))}, test gap to fine-tuning ${pts(100 * (c.test - (g.finetune?.test_accuracy ?? 0)))}`);
    lines.push(`- **${g.task} (${g.backbone}), gap ${pts(g.vsFinetune as number)}:** one change at a time, best validation first: ${parts.join('; ')}.`);
  }
  const bin = r.rows.filter((x) => x.method.startsWith('piggyback') && x.mask_kind === 'binary');
  const sparsities = r.rows.filter((x) => x.method === 'piggyback' && x.sparsity !== null).map((x) => x.sparsity as number);
  const range = (a: string, b: string) => (a === b ? a : `${a}–${b}`);
  const ratios = gaps.filter((g) => g.finetune).map((g) => (g.finetune as ResultRow).bytes / g.piggyback.bytes);
  if (bin.length && ratios.length) {
    const stored = bin.map((x) => x.bits_per_weight);
    const packed = bin.map((x) => x.raw_bits_per_weight ?? x.bits_per_weight);
    lines.push(`- **Storage:** binary masks take ${range(Math.min(...packed).toFixed(3), Math.max(...packed).toFixed(3))} bits per masked weight bit-packed (${range(Math.min(...stored).toFixed(3), Math.max(...stored).toFixed(3))} as stored), against 32 for a fine-tuned float32 copy (a task's own files, head included, are ${range(`1/${Math.round(Math.min(...ratios))}`, `1/${Math.round(Math.max(...ratios))}`)} of a fine-tuned copy); learned masks switch off ${range(pct(Math.min(...sparsities), 1), pct(Math.max(...sparsities), 1))} of the weights.`);
  }
  const fpass = r.forgetting.every((f) => f.passed);
  lines.push(`- **No forgetting:** ${fpass ? 'after all tasks (and variants) were trained, every task re-evaluated to exactly the accuracy it had right after its own training, its mask/head/BN files were byte-identical, and the backbone files hashed the same before and after.' : 'the check FAILED; see the table above.'}`);
  const vsBase = (method: string) => r.rows.filter((x) => x.method === method).map((b) => {
    const base = r.rows.find((x) => x.backbone === b.backbone && x.task === b.task && x.method === 'piggyback');
    return base ? { task: b.task, d: 100 * (b.test_accuracy - base.test_accuracy), dv: b.val_accuracy !== null && base.val_accuracy !== null ? 100 * (b.val_accuracy - base.val_accuracy) : null, row: b } : null;
  }).filter((x): x is NonNullable<typeof x> => x !== null);
  const bn = vsBase('piggyback-bn-trainable');
  if (bn.length) lines.push(`- **Trainable BN** (per-task BN parameters, as fine-tuning has) vs frozen BN: ${bn.map((b) => `${b.task} ${pts(b.d)} test / ${b.dv === null ? '-' : pts(b.dv)} val`).join(', ')} points.`);
  const ter = vsBase('piggyback-ternary');
  if (ter.length) lines.push(`- **Ternarizer** vs binary: ${ter.map((b) => `${b.task} ${pts(b.d)} test / ${b.dv === null ? '-' : pts(b.dv)} val (${pct(b.row.negative_fraction, 1)} of weights negated)`).join(', ')} points, at 2 bit-planes.`);
  const feats = (r.features ?? []).filter((f) => f.backbone === 'reference-cnn');
  if (feats.length) {
    lines.push(`- **The reference backbone is a weak starting point:** its 128-unit feature layer leaves ${range(String(Math.min(...feats.map((f) => f.deadUnits))), String(Math.max(...feats.map((f) => f.deadUnits))))} units silent on every training image of every task, so classifier-only and frozen-BN Piggyback work with a few dozen live features, while fine-tuning can revive the rest; masks can only remove weights.`);
  }
  const main = r.rows.filter((x) => x.stage === 'main' && x.method === 'piggyback');
  const trainN = main.map((x) => x.train_images);
  const valN = main.map((x) => x.val_images);
  const epochs = main.map((x) => x.epochs);
  lines.push(`- **Caveats:** small data (${range(String(Math.min(...trainN)), String(Math.max(...trainN)))} training images per task) and ${range(String(Math.min(...epochs)), String(Math.max(...epochs)))} epochs on 2 CPU cores, where the paper trains 30 epochs on ImageNet-scale data; one seed; on a 200-image test split one image is 0.5 points, and the validation splits behind every choice hold only ${range(String(Math.min(...valN)), String(Math.max(...valN)))} images.`);
  return lines;
}

export function writeReports(result: ReproduceResult, outDir: string): void {
  const r = withRawBits(result);
  fs.mkdirSync(outDir, { recursive: true });
  writeFileAtomic(path.join(outDir, 'results.csv'), toCsv(r.rows));
  writeFileAtomic(path.join(outDir, 'results.md'), renderMarkdown(r));
}

/** Re-renders the reports from the result.json a run leaves in its scratch folder. */
export function writeReportsFromJson(resultJson: string, outDir: string): ReproduceResult {
  const r = JSON.parse(fs.readFileSync(resultJson, 'utf8')) as ReproduceResult;
  writeReports(r, outDir);
  return r;
}
