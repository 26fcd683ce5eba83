/**
 * `piggyback analyze …`, `piggyback export` and `piggyback import-mask`: analyses and
 * exchange formats over a project's stored masks (issue #10). Registered by buildProgram.
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { PiggybackError } from '../core/errors';
import type { FilterSummary, LayerFilterReport } from '../core/project/filters';
import type { ForgettingMatrixResult } from '../core/engine';
import { bytes, pct, table } from './format';
import { backendOption, cancellation, print } from './options';


/** Human rendering of a filter report: filters x tasks, then the diff or the kernel positions. */
export function formatFilterReport(r: LayerFilterReport): string {
  const l = r.layer;
  const out: string[] = [];
  out.push(`layer ${l.name} (${l.kind} [${l.shape.join(',')}]): ${r.filters} filters of ${r.weightsPerFilter} weights`);
  for (const s of r.skipped) out.push(`skipped task ${s.task}: ${s.reason}`);
  if (r.tasks.length === 0) {
    out.push('no readable task: train one first');
    return out.join('\n');
  }
  const dead = r.tasks.map((t) => new Set(t.dead));
  const rows = [['filter', ...r.tasks.map((t) => t.task)]];
  for (let f = 0; f < r.filters; f++) {
    rows.push([String(f), ...r.tasks.map((t, i) => (dead[i].has(f) ? 'dead' : pct(t.fraction[f], 1)))]);
  }
  out.push('kept per filter ("dead": no weight kept, the filter outputs its bias alone):');
  out.push(table(rows));
  out.push(`dead filters: ${r.tasks.map((t) => `${t.task} ${t.dead.length}/${r.filters}`).join(', ')}`);
  if (r.diff) {
    const d = r.diff;
    out.push('');
    out.push(`diff of ${d.a} and ${d.b}, weights per filter:`);
    const drows = [['filter', 'both', `${d.a} only`, `${d.b} only`, 'neither']];
    for (let f = 0; f < r.filters; f++) drows.push([String(f), String(d.both[f]), String(d.aOnly[f]), String(d.bOnly[f]), String(d.neither[f])]);
    const sum = (a: number[]) => a.reduce((s, v) => s + v, 0);
    drows.push(['total', String(sum(d.both)), String(sum(d.aOnly)), String(sum(d.bOnly)), String(sum(d.neither))]);
    out.push(table(drows));
  }
  if (r.positions && r.kernel) {
    const [kh, kw] = r.kernel;
    const p = r.positions;
    out.push('');
    out.push(`task ${p.task}: kept weights at each kernel position (rows y, columns x), out of ${p.perPosition} per position:`);
    const width = String(p.perPosition).length;
    for (let f = 0; f < r.filters; f++) {
      const grid = Array.from({ length: kh }, (_, y) => p.kept[f].slice(y * kw, (y + 1) * kw).map((v) => String(v).padStart(width)).join(' '));
      out.push(`filter ${String(f).padStart(String(r.filters - 1).length)}: ${grid.join(' | ')}`);
    }
  }
  return out.join('\n');
}

const points = (x: number | null): string => (x === null ? '-' : `${(100 * x).toFixed(2)} pts`);

/** Human rendering of the forgetting matrix. */
export function formatForgetting(r: ForgettingMatrixResult): string {
  if (r.tasks.length === 0) return 'no tasks yet: train one first';
  const out: string[] = [];
  out.push("accuracy after each task was added (rows: tasks in training order; Avalanche's accuracy matrix):");
  const rows = [['task', ...r.tasks.map((t) => `after ${t}`), 'classifier-only', 'fine-tune']];
  r.tasks.forEach((t, i) => rows.push([t, ...r.accuracy[i].map((a) => pct(a)), pct(r.baselines[i].classifier), pct(r.baselines[i].finetune)]));
  out.push(table(rows));
  out.push('(diagonal: measured when the task was trained; right of it: re-evaluated now from the stored files, which later tasks never touch. Baselines: separate copies, stored by `baseline`.)');
  for (const d of r.damaged) out.push(`could not evaluate ${d.task}: ${d.reason}`);
  out.push(`forgetting: ${r.tasks.slice(0, -1).map((t, i) => `${t} ${points(r.forgetting[i])}`).join(', ') || '- (one task)'}; BWT ${points(r.bwt)}`);
  if (r.zeroForgetting) {
    out.push('zero forgetting: every task re-evaluates to exactly the accuracy it had when trained (Piggyback never changes the backbone or an earlier task)');
  } else {
    const diffs = r.tasks.flatMap((t, i) => (r.trainedAccuracy[i] !== null && r.reevaluated[i] !== null && r.trainedAccuracy[i] !== r.reevaluated[i] ? [`${t} ${pct(r.trainedAccuracy[i])} -> ${pct(r.reevaluated[i])}`] : []));
    const unknown = r.tasks.filter((_, i) => r.trainedAccuracy[i] === null);
    out.push(`not exactly zero forgetting${diffs.length ? `: ${diffs.join(', ')}` : ''}${unknown.length ? `; no accuracy recorded at training for ${unknown.join(', ')} (imported? run \`eval\`)` : ''}`);
  }
  return out.join('\n');
}

const number = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n)) throw new InvalidArgumentError(`${name} must be a number`);
  return n;
};
const posInt = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`${name} must be a positive whole number`);
  return n;
};


/** Human rendering of the per-layer dead-filter summary. */
export function formatFilterSummary(s: FilterSummary): string {
  const out = s.skipped.map((x) => `skipped task ${x.task}: ${x.reason}`);
  if (s.tasks.length === 0) return [...out, 'no readable task: train one first'].join('\n');
  out.push('dead filters (no weight kept) per layer and task; `--layer L` shows every filter:');
  out.push(table([['layer', 'kind', 'filters', 'weights/filter', ...s.tasks], ...s.layers.map((l) => [l.layer, l.kind, String(l.filters), String(l.weightsPerFilter), ...l.dead.map(String)])]));
  return out.join('\n');
}

function parsePair(v: string): [string, string] {
  const parts = v.split(',').map((s) => s.trim());
  if (parts.length !== 2 || !parts[0] || !parts[1]) {
    throw new PiggybackError('BAD_ARGUMENT', `--diff takes two task names separated by a comma, got ${JSON.stringify(v)}`, 'e.g. --diff mnist,fashion');
  }
  return [parts[0], parts[1]];
}

export function registerAnalysisCommands(program: Command): void {
  const analyze = program.command('analyze').description('analyses of stored masks beyond `stats`: per-filter views, the forgetting matrix');

  analyze
    .command('filters')
    .description('per output filter of a layer: kept fraction for every task, dead filters; a filter-level diff of two tasks; kept count per kernel position for one task')
    .argument('<project>', 'mask project folder')
    .option('--layer <name>', 'masked layer (as `stats` lists them); without it, the dead filters of every layer and task')
    .option('--task <name>', 'also show the kept count at each kernel position of every filter for this task (conv and depthwise layers)')
    .option('--diff <a,b>', 'also show, per filter, the weights kept by both tasks, by a only and by b only')
    .option('--json', 'machine-readable output')
    .action(async (project: string, o) => {
      const { analyzeLayerFilters, summarizeFilters } = await import('../core/project/filters');
      if (!o.layer) {
        if (o.task || o.diff) throw new PiggybackError('BAD_ARGUMENT', `${o.task ? '--task' : '--diff'} needs --layer`, 'name the layer with --layer L (`piggyback stats` lists them)');
        const s = summarizeFilters(project);
        print(o.json, s, () => formatFilterSummary(s));
        return;
      }
      const r = analyzeLayerFilters(project, o.layer, { diff: o.diff ? parsePair(o.diff) : undefined, positionsOf: o.task });
      print(o.json, r, () => formatFilterReport(r));
    });

  analyze
    .command('forgetting')
    .description("the accuracy matrix (rows: tasks in training order; columns: after task k was added), forgetting and BWT, re-evaluating every task; for Piggyback exactly zero")
    .argument('<project>', 'mask project folder')
    .addOption(backendOption())
    .option('--json', 'machine-readable output')
    .action(async (project: string, o) => {
      const { forgettingMatrix } = await import('../core/engine');
      const r = await forgettingMatrix({ projectDir: project, backend: o.backend }, (t, i, n) => {
        if (!o.json) process.stderr.write(`evaluating ${t} (${i + 1}/${n})\n`);
      }, cancellation());
      print(o.json, r, () => formatForgetting(r));
    });

  program
    .command('export')
    .description("write a task in a format other tools load: a standalone TF.js LayersModel, or its masks as a NumPy .npz")
    .argument('<project>', 'mask project folder')
    .requiredOption('--task <name>', 'task to export')
    .addOption(new Option('--format <format>', 'layers-model: a folder with model.json + weights.bin (W⊙m baked into the kernels, the task\'s BN, the head as a final Dense; outputs logits). npz: one array per masked layer named as the layer, in the Keras kernel layout, uint8 0/1 (int8 -1/0/+1 for ternary), plus __meta__').choices(['layers-model', 'npz']).makeOptionMandatory())
    .requiredOption('--out <path>', 'folder (layers-model) or .npz file (npz) to write')
    .option('--overwrite', 'replace an existing export')
    .addOption(backendOption())
    .option('--json', 'machine-readable output')
    .action(async (project: string, o) => {
      if (o.format === 'npz') {
        const [{ exportMasksNpz }, { readTaskMeta, loadTaskScores }] = await Promise.all([import('../core/project/maskExchange'), import('../core/project/taskFiles')]);
        // The task's stored scores (scores.bin) go beside the masks, as float32 under scores/<layer>.
        const scores = readTaskMeta(project, o.task).files.scores ? loadTaskScores(project, o.task).scores : undefined;
        const r = exportMasksNpz(project, o.task, o.out, { overwrite: o.overwrite, scores });
        print(o.json, r, () => {
          const kept = r.layers.reduce((s, l) => s + l.kept, 0);
          const size = r.layers.reduce((s, l) => s + l.size, 0);
          return [
            `wrote ${r.file} (${bytes(r.bytes)}): ${r.layers.length} ${r.maskKind} masks of task ${r.task}, ${kept} of ${size} weights kept (${pct(size ? kept / size : 0, 1)})`,
            ...(r.scores.reason ? [r.scores.reason] : []),
            `read it with numpy.load(${JSON.stringify(r.file)})[layer name]`,
          ].join('\n');
        });
        return;
      }
      const { exportTaskModel } = await import('../core/engine');
      const r = await exportTaskModel({ projectDir: project, task: o.task, outDir: o.out, overwrite: o.overwrite, backend: o.backend });
      print(o.json, r, () => [
        `wrote ${r.modelPath} (${bytes(r.bytes)} with its weights): task ${r.task}, ${r.classNames.length} classes, outputs logits (apply softmax for probabilities)`,
        `checked before writing: on ${r.check.images} random images it gives the engine's logits to within ${r.check.maxAbsLogitDiff.toExponential(1)} (${r.backend})`,
      ].join('\n'));
    });

  program
    .command('import-mask')
    .description('store a mask trained elsewhere (an .npz, one array per masked layer in Keras layout) as a new task. A mask needs a head: either --dataset D trains a fresh head on D with the mask fixed as imported (and the backbone\'s BN), and stores its test accuracy; or --head-from TASK copies TASK\'s head, classes, dataset and BN as they are: that head was trained for TASK\'s mask, so the accuracy stays unknown until `piggyback eval`')
    .argument('<project>', 'mask project folder')
    .requiredOption('--task <name>', 'name of the new task')
    .requiredOption('--npz <file>', 'the mask archive (numpy.savez or savez_compressed; see README for converting PyTorch masks)')
    .option('--dataset <spec>', 'train a fresh head on this dataset (built-in id, IDX folder or image folder); the mask is not changed')
    .option('--head-from <task>', 'instead, copy the head (same classes), dataset and BN of this existing task; no training')
    .option('--epochs <n>', 'with --dataset: epochs of head training (default 30)', posInt('epochs'))
    .option('--batch-size <n>', 'with --dataset: batch size (default 32)', posInt('batch size'))
    .option('--lr-head <x>', 'with --dataset: Adam learning rate of the head (default 1e-4)', number('lr-head'))
    .option('--seed <n>', 'with --dataset: random seed (default 1)', number('seed'))
    .option('--train-per-class <n>', 'with --dataset: at most n training images per class', posInt('train-per-class'))
    .option('--test-limit <n>', 'with --dataset: at most n test images', posInt('test-limit'))
    .option('--val-fraction <x>', 'with --dataset: fraction of training images held out (default 0.1)', number('val-fraction'))
    .addOption(backendOption())
    .option('--json', 'machine-readable output')
    .action(async (project: string, o) => {
      if (Boolean(o.dataset) === Boolean(o.headFrom)) {
        throw new PiggybackError('BAD_ARGUMENT', o.dataset ? 'pass either --dataset or --head-from, not both' : 'an imported mask needs a head: pass --dataset D (train a fresh head) or --head-from TASK (copy one)',
          'see `piggyback import-mask --help`');
      }
      if (o.dataset) {
        const { importMaskTrainHead } = await import('../core/engine');
        const { progressPrinter } = await import('./progress');
        const { formatTask } = await import('./format');
        const t = await importMaskTrainHead({
          projectDir: project, task: o.task, npzFile: o.npz, dataset: o.dataset, backend: o.backend,
          options: { epochs: o.epochs, batchSize: o.batchSize, lrHead: o.lrHead, seed: o.seed }, trainPerClass: o.trainPerClass, testLimit: o.testLimit, valFraction: o.valFraction,
        }, progressPrinter({ json: o.json }), cancellation());
        print(o.json, t, () => `imported the mask of ${o.npz} and trained a fresh head on ${o.dataset} (mask unchanged)\n${formatTask(t)}`);
        return;
      }
      const { importMaskNpz } = await import('../core/project/maskExchange');
      const r = importMaskNpz({ projectDir: project, task: o.task, npzFile: o.npz, headFrom: o.headFrom });
      print(o.json, r, () => {
        const kept = r.layers.reduce((s, l) => s + l.kept, 0);
        const size = r.layers.reduce((s, l) => s + l.size, 0);
        return [
          `imported task ${o.task}: ${r.layers.length} ${r.maskKind} masks, ${pct(size ? 1 - kept / size : 0, 1)} of masked weights off; head, classes and dataset from ${o.headFrom}`,
          ...(r.ignored.length ? [`not imported: ${r.ignored.join(', ')}`] : []),
          `its accuracy is unknown: run \`piggyback eval ${project} --task ${o.task}\``,
        ].join('\n');
      });
    });
}
