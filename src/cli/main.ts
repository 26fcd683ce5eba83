/**
 * `piggyback`: the command-line front end over the same engine the extension uses.
 * Human-readable output by default, `--json` for scripts; every user error exits non-zero
 * with one line saying what is wrong and what to do.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { isPiggybackError, PiggybackError } from '../core/errors';
import { errnoOf, fsError } from '../core/fsErrors';
import { MANIFEST_FILE, checkTaskName } from '../core/project/manifest';
import { storeNotices } from '../core/project/projectDir';
import { DEFAULT_TRAIN_OPTIONS, type TrainOptions } from '../core/types';
import { HYPERPARAMS, TRAIN_OPTION_KEYS, hyperProblem, hyperSpec, rangeText, type HyperSpec } from '../core/hyperparams';
import { ARCHITECTURES, ARCHITECTURE_DOCS } from '../core/model/architectureNames';
import { progressPrinter } from './progress';
import { addRethresholdCommand } from './rethresholdCommand';
import { addInferTaskCommand, addSimilarityCommand } from './similarityCommand';
import { addDynamicsCommand } from './dynamicsCommand';
import { registerAnalysisCommands } from './analyzeCommands';
import { bytes, formatEval, formatStats, formatTask, formatTopCut, pct, table } from './format';
import { backendOption, cancellation, print } from './options';

// The engine (and TF.js) load lazily so `--help` and `stats` stay instant.
const engine = () => import('../core/engine');

const int = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`${name} must be a positive whole number`);
  return n;
};



/** commander's attribute name for a flag: 'decay-every' -> 'decayEvery'. */
const camel = (flag: string) => flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

/** A CLI option generated from the hyperparameter table: its help, choices and range check. */
function hyperOption(s: HyperSpec): Option {
  const help = `${s.doc.replace(/\.$/, '')}${s.default === null ? '' : ` (default ${s.default})`}`;
  const arg = s.type === 'enum' ? (s.key.endsWith('Mode') ? 'mode' : 'kind') : s.type === 'integer' ? 'n' : 'x';
  const opt = new Option(`--${s.flag} <${arg}>`, help);
  if (s.type === 'enum') return opt.choices(s.choices as string[]);
  return opt.argParser((v: string) => {
    const n = Number(v);
    const problem = v.trim() === '' || Number.isNaN(n) ? `${s.key} must be ${rangeText(s)}, got '${v}'` : hyperProblem(s.key, n);
    if (problem) throw new InvalidArgumentError(problem);
    return n;
  });
}

/** Every per-run hyperparameter of the table (the threshold is the project's: init only). */
function trainOptionFlags(cmd: Command): Command {
  for (const s of HYPERPARAMS) if (s.key !== 'threshold') cmd.addOption(hyperOption(s));
  return cmd;
}

function trainOptions(o: Record<string, any>): Partial<TrainOptions> {
  return Object.fromEntries(TRAIN_OPTION_KEYS.filter((k) => k !== 'threshold').map((k) => [k, o[camel(hyperSpec(k).flag)]]));
}


export function buildProgram(): Command {
  const program = new Command('piggyback')
    .description('Piggyback masks: adapt one frozen network to many tasks with one bit per weight per task')
    .showHelpAfterError('(add --help for usage)');

  program
    .command('init')
    .description('create a mask project over a backbone')
    .argument('<project>', 'project folder to create')
    .option('--backbone <model>', "model.json path, an embedded backbone ('reference-cnn' default, 'vgg6', 'resnet8') or 'nsfwjs-mobilenetv2'", 'reference-cnn')
    .option('--cut-at <layer>', 'end the backbone at this layer (inclusive); default: before a final classifier (Dense + softmax/sigmoid/logits, and its dropout)')
    .option('--keep-top', 'keep the whole model, classifier layer included (no automatic cut)')
    .option('--input-size <n>', 'rebuild a fully convolutional backbone for n x n inputs', int('input-size'))
    .addOption(hyperOption(hyperSpec('threshold')))
    .option('--no-scores', "do not keep tasks' real-valued scores (scores.bin, for re-thresholding without retraining)")
    .addOption(backendOption())
    .option('--json', 'machine-readable output')
    .action(async (project: string, o) => {
      const e = await engine();
      const stats = await e.createProject({ projectDir: project, modelPath: o.backbone, cutAt: o.cutAt, keepTop: o.keepTop, inputSize: o.inputSize, threshold: o.threshold, storeScores: o.scores !== false, backend: o.backend });
      print(o.json, stats, () => (stats.classifierTop ? `${formatTopCut(stats.classifierTop)}\n` : '') + formatStats(stats));
    });

  trainOptionFlags(
    program
      .command('train')
      .description('learn a mask (and head) for a task; creates the project with --backbone if it does not exist')
      .argument('<project>', 'mask project folder')
      .requiredOption('--task <name>', 'task name')
      .requiredOption('--dataset <spec>', "built-in id (see `piggyback datasets`), an IDX folder or an image folder")
      .option('--backbone <model>', 'backbone for a new project (see init)', 'reference-cnn')
      .option('--overwrite', 'replace an existing task of that name'),
  )
    .addOption(backendOption())
    .option('--json', 'machine-readable output')
    .action(async (project: string, o) => {
      const e = await engine();
      if (!fs.existsSync(path.join(project, MANIFEST_FILE))) {
        // Check what would fail the run before leaving a new project folder behind.
        checkTaskName(o.task);
        (await import('../core/data')).checkDatasetSpec(o.dataset);
        const created = await e.createProject({ projectDir: project, modelPath: o.backbone, backend: o.backend });
        if (!o.json) process.stderr.write(`created project ${project} over ${o.backbone}${created.classifierTop ? `; ${formatTopCut(created.classifierTop)}` : ''}\n`);
      }
      const t = await e.trainTask(
        { projectDir: project, task: o.task, dataset: o.dataset, options: trainOptions(o), trainPerClass: o.trainPerClass, testLimit: o.testLimit, valFraction: o.valFraction, overwrite: o.overwrite, backend: o.backend },
        progressPrinter({ json: o.json }),
        cancellation(),
      );
      print(o.json, t, () => formatTask(t));
    });

  program
    .command('eval')
    .description('evaluate a stored task: top-1, per-class accuracy, confusion matrix')
    .argument('<project>', 'mask project folder')
    .requiredOption('--task <name>', 'task name')
    .option('--dataset <spec>', "defaults to the task's own dataset")
    .addOption(hyperOption(hyperSpec('testLimit')))
    .option('--confusion', 'print the confusion matrix')
    .addOption(backendOption())
    .option('--json', 'machine-readable output')
    .action(async (project: string, o) => {
      const e = await engine();
      const r = await e.evaluateTask({ projectDir: project, task: o.task, dataset: o.dataset, testLimit: o.testLimit, backend: o.backend }, cancellation());
      const names = e.projectStats(project).tasks.find((t) => t.name === o.task)?.classNames ?? [];
      print(o.json, r, () => {
        let s = formatEval(o.task, r, names);
        if (o.confusion) s += `\nconfusion (rows true, columns predicted):\n${table([['', ...names.map((_, i) => String(i))], ...r.confusion.map((row, i) => [names[i] ?? String(i), ...row.map(String)])])}`;
        return s;
      });
    });

  program
    .command('baseline')
    .description("train the paper's baselines on a task's data and budget: classifier-only and full fine-tuning")
    .argument('<project>', 'mask project folder')
    .requiredOption('--task <name>', 'task whose data, epochs and seed to use')
    .addOption(new Option('--methods <list>', 'comma-separated').default('classifier,finetune'))
    .addOption(backendOption())
    .option('--json', 'machine-readable output')
    .action(async (project: string, o) => {
      const methods = String(o.methods).split(',').map((m) => m.trim());
      for (const m of methods) if (m !== 'classifier' && m !== 'finetune') throw new PiggybackError('BAD_ARGUMENT', `unknown baseline "${m}"`, 'use classifier and/or finetune');
      const e = await engine();
      const rs = await e.runBaselines({ projectDir: project, task: o.task, methods: methods as Array<'classifier' | 'finetune'>, backend: o.backend }, progressPrinter({ json: o.json }), cancellation());
      print(o.json, rs, () => table([['method', 'test accuracy', 'train s', 'bytes if stored'], ...rs.map((r) => [r.method, pct(r.testAccuracy), r.trainSeconds.toFixed(1), bytes(r.bytesIfStored)])]));
    });

  program
    .command('stats')
    .description('sparsity per layer and task, storage, and mask overlap between tasks (from disk)')
    .argument('<project>', 'mask project folder')
    .option('--json', 'machine-readable output')
    .action(async (project: string, o) => {
      const { readProjectStats } = await import('../core/project/stats');
      const s = readProjectStats(project);
      print(o.json, s, () => formatStats(s));
    });

  addRethresholdCommand(program, backendOption, cancellation);
  addSimilarityCommand(program, backendOption);
  addInferTaskCommand(program, backendOption);
  addDynamicsCommand(program);

  program
    .command('relink')
    .description('point a project at another copy of its backbone (moved checkout, other machine); checks weights and layers')
    .argument('<project>', 'mask project folder')
    .requiredOption('--backbone <model>', "model.json of the same backbone, or an embedded backbone's alias ('reference-cnn', 'vgg6', 'resnet8')")
    .addOption(backendOption())
    .option('--json', 'machine-readable output')
    .action(async (project: string, o) => {
      const e = await engine();
      const s = await e.relinkBackbone({ projectDir: project, modelPath: o.backbone, backend: o.backend });
      print(o.json, s, () => `relinked ${s.dir} to ${s.backbone.alias ?? s.backbone.modelPath} (sha256 ${s.backbone.sha256.slice(0, 12)}.. and ${s.layers.length} masked layers match)`);
    });

  program
    .command('datasets')
    .description('list the built-in datasets and whether they are installed')
    .option('--json', 'machine-readable output')
    .action(async (o) => {
      const { listBuiltinDatasets } = await import('../core/data/builtin');
      const list = listBuiltinDatasets();
      print(o.json, list, () => table([['id', 'classes', 'available', 'description'], ...list.map((d) => [d.id, String(d.classes), d.available ? 'yes' : `no: ${d.hint ?? ''}`, d.description])]));
    });

  program
    .command('delete')
    .description('delete a task from a project')
    .argument('<project>', 'mask project folder')
    .requiredOption('--task <name>', 'task name')
    .action(async (project: string, o) => {
      const { deleteTask } = await import('../core/project/taskFiles');
      deleteTask(project, o.task);
      process.stdout.write(`deleted task "${o.task}"\n`);
    });

  trainOptionFlags(
    program
      .command('pretrain')
      .description('pretrain a backbone (--arch) on a base task and save it as a TF.js LayersModel with pretrain.json')
      .requiredOption('--dataset <spec>', 'base-task dataset')
      .addOption(new Option('--arch <name>', `architecture: ${ARCHITECTURES.map((a) => `${a} (${ARCHITECTURE_DOCS[a]})`).join('; ')}`).choices([...ARCHITECTURES]).default('reference'))
      .option('--out <dir>', 'output folder', 'models/reference-cnn'),
  )
    .addOption(backendOption())
    .option('--json', 'machine-readable output')
    .action(async (o) => {
      const [{ initBackend }, { loadDataset }, { pretrainBackbone }] = await Promise.all([import('../core/backend'), import('../core/data'), import('../core/train/pretrain')]);
      const info = await initBackend(o.backend);
      const opts = { ...DEFAULT_TRAIN_OPTIONS, lrDecayEvery: 0, ...Object.fromEntries(Object.entries(trainOptions(o)).filter(([, v]) => v !== undefined)) };
      const data = await loadDataset(o.dataset, { height: 28, width: 28, channels: 1 }, { trainPerClass: o.trainPerClass, testLimit: o.testLimit, valFraction: o.valFraction ?? 0.05, seed: opts.seed });
      const r = await pretrainBackbone(o.arch, data, o.out, opts, info.detail, progressPrinter({ json: o.json }), cancellation());
      print(o.json, { modelPath: r.modelPath, testAccuracy: r.test.accuracy, seconds: r.seconds, backend: info.detail }, () => `saved ${r.modelPath}: base-task test accuracy ${pct(r.test.accuracy)} in ${r.seconds.toFixed(0)} s on ${info.detail}`);
    });

  program
    .command('bench')
    .description('measure mask-training and fine-tuning speed (and PyTorch on the same net when installed), overlap speed, memory')
    .option('--quick', 'fewer steps')
    .option('--no-matrix', 'only the reference CNN (skip the ResNet-18 and MobileNetV2 rows)')
    .addOption(backendOption())
    .option('--json', 'print one JSON object')
    .action(async (o) => {
      const { runBench, formatBench } = await import('./bench');
      const r = await runBench({ quick: Boolean(o.quick), backend: o.backend, matrix: o.matrix !== false, log: o.json ? () => {} : (s: string) => process.stderr.write(`${s}\n`) });
      print(o.json, r, () => formatBench(r));
    });

  program
    .command('reproduce')
    .description("the paper's table with the paper's protocol on real offline data: Piggyback vs classifier-only vs fine-tuning per backbone, no-forgetting check; writes docs/results/<arch>.json, docs/results.md, .csv and the sparsity heatmap PNG")
    .option('--quick', 'CI mode: tiny subsets, 2 epochs, under 2 minutes (writes to the scratch folder)')
    .option('--arch <ids>', 'comma-separated backbones to run (vgg6, resnet8, mobilenetv2); the report merges every docs/results/<arch>.json present')
    .option('--out <dir>', 'folder for results/ and the report (default: docs; with --quick, the scratch folder, so a smoke run never replaces the committed results)')
    .option('--work <dir>', 'scratch folder for the mask projects (wiped first); default .cache/reproduce/<mode>')
    .option('--render', 'only redraw results.md/.csv/.png from the results/<arch>.json already in --out')
    .addOption(backendOption())
    .option('--json', 'print the results as JSON')
    .action(async (o) => {
      const { runReproduce, readArchResults, writeReports, quickPlan, fullPlan, ARCH_IDS } = await import('./reproduce');
      const log = (s: string) => process.stderr.write(`${s}\n`);
      if (o.render) {
        const out = o.out ?? 'docs';
        const rs = readArchResults(out, ARCH_IDS);
        if (!rs.length) throw new PiggybackError('FILE_NOT_FOUND', `no results/<arch>.json under ${out}`, 'run `piggyback reproduce` first');
        await writeReports(rs, out, log);
        print(o.json, rs, () => `wrote ${path.join(out, 'results.md')}, results.csv and the heatmap from ${rs.map((r) => r.arch).join(', ')}`);
        return;
      }
      const plan = o.quick ? quickPlan() : fullPlan();
      if (o.arch) {
        const want = String(o.arch).split(',').map((x: string) => x.trim()).filter(Boolean);
        const unknown = want.filter((w: string) => !plan.archs.some((a) => a.id === w));
        if (unknown.length) throw new PiggybackError('BAD_ARGUMENT', `unknown --arch ${unknown.join(', ')}`, `choose from ${plan.archs.map((a) => a.id).join(', ')}`);
        plan.archs = plan.archs.filter((a) => want.includes(a.id));
      }
      const args = process.argv.slice(2).join(' ').replace(/^reproduce\s*/, '');
      const workDir = o.work ?? path.join('.cache', 'reproduce', plan.mode);
      const rs = await runReproduce({
        plan,
        workDir,
        outDir: o.out ?? (o.quick ? workDir : 'docs'),
        backend: o.backend,
        commandLine: process.env.npm_lifecycle_event === 'reproduce' ? `npm run reproduce${args ? ` -- ${args}` : ''}` : `piggyback reproduce ${args}`.trim(),
        log,
        signal: cancellation(),
      });
      print(o.json, rs, () => {
        const rows = rs.flatMap((r) => r.rows);
        const lines = [table([['backbone', 'task', 'method', 'test accuracy', 'train s', 'sparsity', 'bits/weight', 'bytes'], ...rows.map((x) => [x.backbone, x.task, x.method, pct(x.test_accuracy), x.train_seconds.toFixed(1), x.sparsity === null ? '-' : pct(x.sparsity, 1), x.bits_per_weight.toFixed(3), bytes(x.bytes)])])];
        lines.push(`no forgetting: ${rs.map((r) => `${r.arch} ${r.forgetting.passed ? 'passed' : 'FAILED'}`).join(', ')}; ${rs.map((r) => `${r.arch} ${(r.seconds / 60).toFixed(1)} min`).join(', ')} on ${rs[0]?.backend ?? '-'}`);
        return lines.join('\n');
      });
      if (rs.some((r) => !r.forgetting.passed)) throw new PiggybackError('BAD_PROJECT', 'the no-forgetting check failed', 'see the no-forgetting section of results.md');
    });

  registerAnalysisCommands(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  storeNotices.sink = (line) => process.stderr.write(`note: ${line}\n`);
  try {
    await buildProgram().parseAsync(argv);
    return 0;
  } catch (e) {
    if (isPiggybackError(e)) {
      process.stderr.write(`error: ${e.oneLine()}\n`);
      return e.code === 'CANCELLED' ? 130 : 1;
    }
    // Filesystem failures that reached here still get one line, not a stack trace.
    if (errnoOf(e)) {
      process.stderr.write(`error: ${(fsError(e) as PiggybackError).oneLine()}\n`);
      return 1;
    }
    if (e && typeof e === 'object' && 'exitCode' in e && (e as { code?: string }).code?.startsWith('commander.')) return (e as { exitCode: number }).exitCode;
    process.stderr.write(`internal error: ${(e as Error)?.stack ?? e}\n`);
    return 2;
  }
}

if (require.main === module) {
  main(process.argv).then((code) => {
    process.exitCode = code;
  });
}
