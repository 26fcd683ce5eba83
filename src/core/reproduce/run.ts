/**
 * `piggyback reproduce`: the paper's central comparison on real offline data, through the
 * engine API only (createProject, trainTask, runBaselines, evaluateTask, projectStats).
 *
 *   1. the backbone: the committed reference CNN (pretrained on Fashion-MNIST), reused as is;
 *   2. optional learning-rate selection on validation data (never the test split);
 *   3. per task: a Piggyback mask, the classifier-only and the full fine-tuning baselines with
 *      the same data, epochs, seed and head learning rate; variants (ternarizer, trainable BN);
 *   4. follow-up runs for tasks where Piggyback ends far below fine-tuning;
 *   5. the MobileNetV2 that ships in npm nsfwjs@4.3.0, on a small subset;
 *   6. no-forgetting: every task re-evaluated after all tasks were trained (must equal its
 *      accuracy right after training), its mask/head/BN files unchanged, and the backbone
 *      files bit-identical (sha256 before and after).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import * as engine from '../engine';
import { describeBackend, initBackend, type BackendPreference } from '../backend';
import { loadDataset } from '../data';
import { defaultBackbonePath, packageRoot } from '../paths';
import { PiggybackError } from '../errors';
import { Backbone } from '../model/backbone';
import { tf } from '../tf';
import { MANIFEST_FILE } from '../project/manifest';
import { maskFileBytes } from '../project/maskFile';
import { readRange } from '../data/dataset';
import { loadTask, readTaskMeta } from '../project/taskFiles';
import { DEFAULT_TRAIN_OPTIONS, type TaskStats, type TrainEvent, type TrainOptions } from '../types';
import type { InvestigationKind, ReproducePlan, TaskPlan, TunePlan, VariantKind } from './plan';
import { runBaselinesWithLr, taskBaselineData } from './baselines';
import { writeReports } from './report';

export interface ReproduceConfig {
  plan: ReproducePlan;
  /** Scratch folder for the mask projects (wiped at the start). */
  workDir: string;
  /** Where results.md and results.csv go (null: do not write). */
  outDir: string | null;
  backend?: BackendPreference;
  /** Reference backbone model.json; default the committed models/reference-cnn. */
  referenceModel?: string;
  /** The command line to print in the report header. */
  commandLine?: string;
  log?: (line: string) => void;
  signal?: AbortSignal;
}

/** One row of results.csv. */
export interface ResultRow {
  backbone: string;
  task: string;
  method: string;
  stage: 'main' | 'selection' | 'variant' | 'investigation';
  test_accuracy: number;
  val_accuracy: number | null;
  train_seconds: number;
  /** Fraction of masked weights switched off (Piggyback rows). */
  sparsity: number | null;
  /** Fraction of masked weights with flipped sign (ternary rows). */
  negative_fraction: number | null;
  /** Per-task storage per backbone weight: mask.bin bits per masked weight as stored; 32 for a float32 copy; 0 for a head only. */
  bits_per_weight: number;
  /** The same mask bit-packed without any compression (1 bit per weight, 2 for ternary, + header). */
  raw_bits_per_weight?: number | null;
  /** Bytes the task needs besides the shared backbone (Piggyback: mask + head + BN files). */
  bytes: number;
  mask_bytes: number | null;
  epochs: number;
  batch_size: number;
  lr_mask: number | null;
  lr_head: number;
  mask_scale: number | null;
  mask_kind: string | null;
  bn_mode: string;
  train_images: number;
  val_images: number;
  test_images: number;
  /** Task name inside the scratch project. */
  project_task: string;
}

export { CSV_COLUMNS } from './report';

export interface TuneRow {
  method: 'classifier' | 'piggyback' | 'finetune';
  /** The rate being selected (piggyback: lrMask, with lrHead fixed at the classifier's pick). */
  lr: number;
  valAccuracy: number | null;
  seconds: number;
}

export interface TuneResult {
  dataset: string;
  epochs: number;
  trainImages: number;
  valImages: number;
  rows: TuneRow[];
  chosen: { lrMask: number; lrHead: number; lrClassifier: number; lrFinetune: number };
  rule: string;
}

export interface ForgettingTask {
  task: string;
  accuracyAfterTraining: number;
  accuracyAtEnd: number;
  equal: boolean;
  filesUnchanged: boolean;
}

export interface ForgettingCheck {
  backbone: string;
  backboneFiles: Record<string, string>;
  backboneUnchanged: boolean;
  tasks: ForgettingTask[];
  passed: boolean;
}

export interface LayerSparsityTable {
  backbone: string;
  layers: Array<{ name: string; kind: string; size: number }>;
  tasks: Array<{ task: string; layerSparsity: number[] }>;
}

export interface BackboneInfo {
  id: string;
  description: string;
  modelPath: string;
  sha256: string;
  inputShape: number[];
  totalParams: number;
  maskedParams: number;
  maskedLayers: number;
  pretrain?: { baseTask: string; trainImages: number; epochs: number; testAccuracy: number; createdAt: string } | null;
}

export interface FeatureDiagnostic {
  backbone: string;
  task: string;
  units: number;
  /** Units that are 0 on every training image of the task under the frozen backbone. */
  deadUnits: number;
  /** Fraction of all (image, unit) feature values that are 0. */
  zeroFraction: number;
}

/** Feature statistics of the frozen backbone on a task's training images (no training). */
export async function featureDiagnostic(modelPath: string, opts: { cutAt?: string | null; inputHW?: [number, number] }, dataset: string, limits: { trainPerClass?: number; valFraction: number; seed: number }): Promise<Omit<FeatureDiagnostic, 'backbone' | 'task'>> {
  const bb = await Backbone.load(modelPath, opts);
  try {
    const [h, w, c] = bb.inputShape;
    const d = await loadDataset(dataset, { height: h, width: w, channels: c }, { trainPerClass: limits.trainPerClass, testLimit: 1, valFraction: limits.valFraction, seed: limits.seed });
    const F = bb.featureSize;
    const alive = new Uint8Array(F);
    let zeros = 0;
    const per = h * w * c;
    for (let s = 0; s < d.train.count; s += 128) {
      const e = Math.min(d.train.count, s + 128);
      const f = tf.tidy(() => bb.features(tf.tensor4d(readRange(d.train, s, e), [e - s, h, w, c]), bb.frozenContext()));
      const a = f.dataSync() as Float32Array;
      f.dispose();
      for (let i = 0; i < a.length; i++) {
        if (a[i] === 0) zeros++;
        else alive[i % F] = 1;
      }
    }
    return { units: F, deadUnits: F - alive.reduce((x, y) => x + y, 0), zeroFraction: zeros / (d.train.count * F) };
  } finally {
    bb.dispose();
  }
}

export interface Investigation {
  task: string;
  gapPoints: number;
  runs: Array<{ kind: InvestigationKind | VariantKind; change: string; valAccuracy: number | null; testAccuracy: number; sparsity: number | null }>;
  baseline: { valAccuracy: number | null; testAccuracy: number };
  finetune: { valAccuracy: number | null; testAccuracy: number };
}

export interface ReproduceResult {
  mode: 'quick' | 'full';
  /** 'complete', or 'partial: stopped after <stage>' for an interrupted run's scratch copy. */
  status?: string;
  commandLine: string;
  backend: string;
  commit: string;
  date: string;
  machine: string;
  node: string;
  seconds: number;
  plan: ReproducePlan;
  /** Learning rates every task used (selected on validation data when plan.tune is set). */
  lr: { lrMask: number; lrHead: number; lrClassifier: number; lrFinetune: number };
  backbones: BackboneInfo[];
  tune: TuneResult | null;
  /** Rates selected for the MobileNetV2 run on its own validation split. */
  tuneMobilenet?: TuneResult | null;
  /** Piggyback's mask rate per reference-CNN task, when selected per task. */
  taskLrMask?: Record<string, number>;
  rows: ResultRow[];
  forgetting: ForgettingCheck[];
  layerSparsity: LayerSparsityTable[];
  investigations: Investigation[];
  /** How many backbone feature units are silent (ReLU output 0 on every training image) per task. */
  features?: FeatureDiagnostic[];
  /** Stages that were skipped, with why (e.g. a dataset not installed). */
  skipped: string[];
}

// ---------------------------------------------------------------------------------------------

const REF = 'reference-cnn';
const MOBILENET = 'mobilenetv2-nsfwjs';

function sha256File(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

/** sha256 of every file under a folder, by relative path. */
export function snapshotFiles(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) out[path.relative(dir, p)] = sha256File(p);
    }
  };
  walk(dir);
  return out;
}

/** The binary files of a task (mask, head, BN): what must never change once it is trained. */
function taskPayloadSnapshot(projectDir: string, task: string): Record<string, string> {
  const meta = readTaskMeta(projectDir, task);
  const out: Record<string, string> = {};
  for (const f of [meta.files.mask, meta.files.head, meta.files.bn]) {
    if (f) out[f.file] = sha256File(path.join(projectDir, 'tasks', task, f.file));
  }
  return out;
}

function sameRecord(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a).sort();
  const kb = Object.keys(b).sort();
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && a[k] === b[k]);
}

function gitCommit(): string {
  const run = (args: string[]) => execFileSync('git', args, { cwd: packageRoot(), encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  try {
    const head = run(['rev-parse', '--short', 'HEAD']);
    let dirty = false;
    try {
      dirty = run(['status', '--porcelain', '--untracked-files=no']).length > 0;
    } catch {
      /* unknown: report clean */
    }
    return dirty ? `${head} (with uncommitted changes)` : head;
  } catch {
    return 'unknown (not a git checkout)';
  }
}

const pct = (x: number | null) => (x === null ? '-' : `${(100 * x).toFixed(1)}%`);

function lastVal(history: Array<{ valAccuracy: number | null }>): number | null {
  return history.length ? history[history.length - 1].valAccuracy : null;
}

function stopIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new PiggybackError('CANCELLED', 'reproduce cancelled');
}

// ---------------------------------------------------------------------------------------------

export async function runReproduce(cfg: ReproduceConfig): Promise<ReproduceResult> {
  const t0 = performance.now();
  const plan = cfg.plan;
  const log = cfg.log ?? (() => {});
  const backendPref = cfg.backend ?? 'auto';
  await initBackend(backendPref);
  const backend = describeBackend();
  log(`reproduce (${plan.mode}) on ${backend}; scratch projects in ${cfg.workDir}`);

  const workDir = path.resolve(cfg.workDir);
  fs.rmSync(workDir, { recursive: true, force: true });
  fs.mkdirSync(workDir, { recursive: true });

  const refModel = path.resolve(cfg.referenceModel ?? defaultBackbonePath());
  if (!fs.existsSync(refModel)) {
    throw new PiggybackError('FILE_NOT_FOUND', `reference backbone ${refModel} not found`, 'run `piggyback pretrain --dataset fashion-mnist` first (or pass --reference-model)');
  }
  const refDir = path.dirname(refModel);
  const skipped: string[] = [];
  const rows: ResultRow[] = [];
  const forgetting: ForgettingCheck[] = [];
  const layerSparsity: LayerSparsityTable[] = [];
  const investigations: Investigation[] = [];
  const features: FeatureDiagnostic[] = [];
  /** Piggyback's mask rate per task (selected on the task's validation split when plan.taskLrMask is set). */
  const taskLrMask = new Map<string, number>();
  const backbones: BackboneInfo[] = [];

  const baseOptions = (lrMask: number, lrHead: number, epochs: number, batchSize = plan.batchSize): Partial<TrainOptions> => ({
    epochs,
    batchSize,
    lrMask,
    lrHead,
    lrDecayEvery: plan.decayAtHalf && epochs > 1 ? Math.ceil(epochs / 2) : 0,
    lrDecayFactor: 0.1,
    maskScale: plan.maskScale,
    seed: plan.seed,
    maskKind: 'binary',
    bnMode: 'frozen',
  });

  const sink = (label: string) => (e: TrainEvent) => {
    if (e.type === 'epoch') {
      const val = e.valAccuracy === null ? '' : `, val ${(100 * e.valAccuracy).toFixed(1)}%`;
      log(`  ${label} epoch ${e.epoch}: loss ${e.trainLoss.toFixed(3)}, train ${(100 * e.trainAccuracy).toFixed(1)}%${val} (${e.seconds.toFixed(1)} s)`);
    }
  };

  /** Image counts of a task's splits (same loader, limits and seed as the engine). */
  const counts = new Map<string, { train: number; val: number; test: number }>();
  async function splitCounts(dataset: string, t: { trainPerClass?: number; testLimit?: number }, inputShape: number[]): Promise<{ train: number; val: number; test: number }> {
    const key = `${dataset}|${t.trainPerClass}|${t.testLimit}`;
    const known = counts.get(key);
    if (known) return known;
    const d = await loadDataset(dataset, { height: inputShape[0], width: inputShape[1], channels: inputShape[2] }, { trainPerClass: t.trainPerClass, testLimit: t.testLimit, valFraction: plan.valFraction, seed: plan.seed });
    const c = { train: d.train.count, val: d.val?.count ?? 0, test: d.test.count };
    counts.set(key, c);
    return c;
  }

  function available(dataset: string): boolean {
    const info = engine.listBuiltinDatasets().find((d) => d.id === dataset);
    if (!info) return true; // a quickdraw:<cats> spec or a path: let the loader decide
    const why = `${dataset}: not installed (${info.hint ?? 'see piggyback datasets'})`;
    if (!info.available && !skipped.includes(why)) skipped.push(why);
    return info.available;
  }

  // ---------------------------------------------------------------- 1. learning rates (validation only)
  let lrMask = plan.lrMask;
  let lrHead = plan.lrHead;
  let lrClassifier = plan.lrClassifier;
  let lrFinetune = plan.lrFinetune;
  let tune: TuneResult | null = null;
  let tuneMobilenet: TuneResult | null = null;

  type Rates = TuneResult['chosen'];
  /** Picks each method's rate on the validation split of `tp.dataset`, in a scratch project over the given backbone. */
  async function selectRates(dir: string, create: engine.CreateProjectRequest, tp: TunePlan, batchSize: number): Promise<TuneResult> {
    log(`selecting learning rates on the validation split of ${tp.dataset} (${tp.epochs} epochs) in ${path.basename(dir)}`);
    await engine.createProject({ ...create, projectDir: dir, backend: backendPref });
    const trows: TuneRow[] = [];
    const best = (method: TuneRow['method']) =>
      trows.filter((r) => r.method === method).reduce((x, y) => ((y.valAccuracy ?? -1) > (x.valAccuracy ?? -1) ? y : x)).lr;
    const data = (o: Partial<TrainOptions>) => ({ dataset: tp.dataset, trainPerClass: tp.trainPerClass, testLimit: tp.testLimit, valFraction: plan.valFraction, options: { ...DEFAULT_TRAIN_OPTIONS, ...o } as TrainOptions });
    // 1. the head on frozen features (also Piggyback's head rate)
    const cls = await runBaselinesWithLr(dir, { data: data(baseOptions(plan.lrMask, plan.lrHead, tp.epochs, batchSize)) }, tp.lrClassifier.map((lr) => ({ method: 'classifier' as const, lr })), backend, undefined, cfg.signal);
    for (const c of cls) trows.push({ method: 'classifier', lr: c.lr, valAccuracy: lastVal(c.history), seconds: c.trainSeconds });
    const head = best('classifier');
    log(`  classifier: ${cls.map((c) => `lr ${c.lr} val ${pct(lastVal(c.history))}`).join(', ')} -> ${head}`);
    // 2. the mask scores
    for (const m of tp.lrMask) {
      stopIfAborted(cfg.signal);
      const name = `tune-lrmask-${m}`.replace(/[^A-Za-z0-9._-]/g, '_');
      const s0 = performance.now();
      const t = await engine.trainTask(
        { projectDir: dir, task: name, dataset: tp.dataset, options: baseOptions(m, head, tp.epochs, batchSize), trainPerClass: tp.trainPerClass, testLimit: tp.testLimit, valFraction: plan.valFraction, backend: backendPref },
        sink(`tune piggyback lrMask ${m}`),
        cfg.signal,
      );
      trows.push({ method: 'piggyback', lr: m, valAccuracy: lastVal(t.history), seconds: (performance.now() - s0) / 1000 });
    }
    const mask = tp.lrMask.length ? best('piggyback') : plan.lrMask;
    // 3. full fine-tuning
    for (const lr of tp.lrFinetune) {
      stopIfAborted(cfg.signal);
      log(`  tune fine-tuning lr ${lr}`);
      const [f] = await runBaselinesWithLr(dir, { data: data(baseOptions(mask, head, tp.epochs, batchSize)) }, [{ method: 'finetune', lr }], backend, sink(`tune finetune lr ${lr}`), cfg.signal);
      trows.push({ method: 'finetune', lr, valAccuracy: lastVal(f.history), seconds: f.trainSeconds });
    }
    const chosen: Rates = { lrMask: mask, lrHead: head, lrClassifier: head, lrFinetune: best('finetune') };
    const s = engine.projectStats(dir);
    const c = await splitCounts(tp.dataset, tp, s.backbone.inputShape);
    log(`chose lrMask ${chosen.lrMask}, lrHead ${chosen.lrHead}, classifier ${chosen.lrClassifier}, fine-tuning ${chosen.lrFinetune}`);
    return {
      dataset: tp.dataset, epochs: tp.epochs, trainImages: c.train, valImages: c.val, rows: trows, chosen,
      rule: "each method's Adam rate is the one with the best final-epoch validation accuracy (ties: the smaller rate): first the classifier-only head's rate, which Piggyback's head also uses (the same new head on the same features when training starts); then Piggyback's mask-score rate with that head rate; then full fine-tuning's single rate. The test split of these runs is capped at a handful of images and never reported.",
    };
  }

  if (plan.tune && available(plan.tune.dataset)) {
    tune = await selectRates(path.join(workDir, 'tune'), { projectDir: '', modelPath: refModel }, plan.tune, plan.batchSize);
    ({ lrMask, lrHead, lrClassifier, lrFinetune } = tune.chosen);
    savePartial('learning-rate selection');
  } else if (plan.tune) {
    skipped.push(`learning-rate selection: ${plan.tune.dataset} not installed, used the plan's fixed rates`);
  }

  /** The result so far; `partial` runs are saved to the scratch folder after every stage. */
  function snapshot(status: string): ReproduceResult {
    return {
      mode: plan.mode,
      status,
      commandLine: cfg.commandLine ?? `piggyback reproduce${plan.mode === 'quick' ? ' --quick' : ''}`,
      backend,
      commit: gitCommit(),
      date: new Date().toISOString(),
      machine: `${os.cpus().length} CPU cores (${os.cpus()[0]?.model?.trim() ?? 'unknown'}), ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM, ${os.platform()} ${os.arch()}`,
      node: process.version,
      seconds: (performance.now() - t0) / 1000,
      plan,
      lr: { lrMask, lrHead, lrClassifier, lrFinetune },
      backbones,
      tune,
      tuneMobilenet,
      taskLrMask: Object.fromEntries(taskLrMask),
      rows,
      forgetting,
      layerSparsity,
      investigations,
      features,
      skipped,
    };
  }

  /** Keeps what was measured if a long run is interrupted: result.json + reports in the scratch folder. */
  function savePartial(stage: string): void {
    const r = snapshot(`partial: stopped after ${stage}`);
    fs.writeFileSync(path.join(workDir, 'result.json'), JSON.stringify(r, null, 1));
    writeReports(r, workDir);
  }

  // ---------------------------------------------------------------- shared per-backbone runner
  interface Trained {
    task: string;
    accuracy: number;
    payload: Record<string, string>;
  }

  async function trainPiggybackRow(
    backbone: string, dir: string, name: string, t: TaskPlan, opts: Partial<TrainOptions>, method: string, stage: ResultRow['stage'], inputShape: number[], trained: Trained[],
  ): Promise<{ stats: TaskStats; row: ResultRow }> {
    stopIfAborted(cfg.signal);
    log(`[${backbone}] ${name}: ${method} (${opts.epochs} epochs, lrMask ${opts.lrMask}, lrHead ${opts.lrHead}, ${opts.maskKind}, BN ${opts.bnMode})`);
    const stats = await engine.trainTask(
      { projectDir: dir, task: name, dataset: t.dataset, options: opts, trainPerClass: t.trainPerClass, testLimit: t.testLimit, valFraction: plan.valFraction, backend: backendPref },
      sink(`${name}`),
      cfg.signal,
    );
    const meta = readTaskMeta(dir, name);
    trained.push({ task: name, accuracy: stats.testAccuracy as number, payload: taskPayloadSnapshot(dir, name) });
    const c = await splitCounts(t.dataset, t, inputShape);
    let negative: number | null = null;
    if (stats.maskKind === 'ternary') {
      const masks = loadTask(dir, name).masks;
      let neg = 0;
      let n = 0;
      for (const m of masks) {
        n += m.length;
        for (let i = 0; i < m.length; i++) if (m[i] < 0) neg++;
      }
      negative = n ? neg / n : 0;
    }
    const payloadBytes = meta.files.mask.bytes + meta.files.head.bytes + (meta.files.bn?.bytes ?? 0);
    const row: ResultRow = {
      backbone, task: t.dataset, method, stage,
      test_accuracy: stats.testAccuracy as number,
      val_accuracy: lastVal(stats.history),
      train_seconds: meta.trainSeconds,
      sparsity: stats.sparsity,
      negative_fraction: negative,
      bits_per_weight: stats.bitsPerMaskedWeight ?? NaN,
      raw_bits_per_weight: (maskFileBytes(stats.maskKind, engine.projectStats(dir).layers) * 8) / engine.projectStats(dir).backbone.maskedParams,
      bytes: payloadBytes,
      mask_bytes: meta.files.mask.bytes,
      epochs: stats.options.epochs, batch_size: stats.options.batchSize, lr_mask: stats.options.lrMask, lr_head: stats.options.lrHead,
      mask_scale: stats.options.maskScale, mask_kind: stats.maskKind, bn_mode: stats.bnMode,
      train_images: c.train, val_images: c.val, test_images: meta.evaluation?.count ?? c.test, project_task: name,
    };
    log(`  -> test ${(100 * row.test_accuracy).toFixed(2)}%, sparsity ${(100 * (row.sparsity ?? 0)).toFixed(2)}%, ${row.bits_per_weight.toFixed(3)} bits/weight`);
    return { stats, row };
  }

  async function baselineRows(backbone: string, dir: string, name: string, t: TaskPlan, inputShape: number[], rates = { lrClassifier, lrFinetune }): Promise<ResultRow[]> {
    const { lrClassifier, lrFinetune } = rates;
    stopIfAborted(cfg.signal);
    log(`[${backbone}] ${name}: classifier-only (lr ${lrClassifier}) and fine-tuning (lr ${lrFinetune}) baselines`);
    const bs = await runBaselinesWithLr(
      dir, { task: name, data: taskBaselineData(dir, name) },
      [{ method: 'classifier', lr: lrClassifier, save: true }, { method: 'finetune', lr: lrFinetune, save: true }],
      backend, sink(`${name} baseline`), cfg.signal,
    );
    const meta = readTaskMeta(dir, name);
    const c = await splitCounts(t.dataset, t, inputShape);
    return bs.map((b) => {
      log(`  -> ${b.method}: test ${pct(b.testAccuracy)}`);
      return {
        backbone, task: t.dataset, method: b.method, stage: 'main' as const,
        test_accuracy: b.testAccuracy, val_accuracy: lastVal(b.history), train_seconds: b.trainSeconds,
        sparsity: null, negative_fraction: null,
        bits_per_weight: b.method === 'finetune' ? 32 : 0,
        raw_bits_per_weight: b.method === 'finetune' ? 32 : 0,
        bytes: b.bytesIfStored, mask_bytes: null,
        epochs: meta.options.epochs, batch_size: meta.options.batchSize, lr_mask: null, lr_head: b.lr, mask_scale: null, mask_kind: null,
        bn_mode: b.method === 'finetune' ? 'trainable' : 'frozen',
        train_images: c.train, val_images: c.val, test_images: meta.evaluation?.count ?? c.test, project_task: name,
      };
    });
  }

  async function checkForgetting(backbone: string, dir: string, backboneDir: string, before: Record<string, string>, trained: Trained[]): Promise<void> {
    log(`[${backbone}] no-forgetting check: re-evaluating ${trained.length} tasks, hashing the backbone`);
    const tasks: ForgettingTask[] = [];
    for (const t of trained) {
      const r = await engine.evaluateTask({ projectDir: dir, task: t.task, backend: backendPref }, cfg.signal);
      tasks.push({ task: t.task, accuracyAfterTraining: t.accuracy, accuracyAtEnd: r.accuracy, equal: r.accuracy === t.accuracy, filesUnchanged: sameRecord(taskPayloadSnapshot(dir, t.task), t.payload) });
    }
    const after = snapshotFiles(backboneDir);
    const backboneUnchanged = sameRecord(before, after);
    const passed = backboneUnchanged && tasks.every((t) => t.equal && t.filesUnchanged);
    forgetting.push({ backbone, backboneFiles: before, backboneUnchanged, tasks, passed });
    log(`  -> ${passed ? 'passed' : 'FAILED'}`);
  }

  function recordSparsity(backbone: string, dir: string, trained: Trained[]): void {
    const s = engine.projectStats(dir);
    layerSparsity.push({
      backbone,
      layers: s.layers.map((l) => ({ name: l.name, kind: l.kind, size: l.size })),
      tasks: trained.map((t) => ({ task: t.task, layerSparsity: s.tasks.find((x) => x.name === t.task)?.layerSparsity ?? [] })),
    });
  }

  function describeBackbone(id: string, description: string, dir: string, pretrainFile?: string): BackboneInfo {
    const s = engine.projectStats(dir);
    let pretrain: BackboneInfo['pretrain'] = null;
    if (pretrainFile && fs.existsSync(pretrainFile)) {
      try {
        const p = JSON.parse(fs.readFileSync(pretrainFile, 'utf8'));
        pretrain = { baseTask: p.baseTask, trainImages: p.trainImages, epochs: p.options?.epochs, testAccuracy: p.testAccuracy, createdAt: p.createdAt };
      } catch {
        pretrain = null;
      }
    }
    return {
      id, description, modelPath: path.relative(packageRoot(), s.backbone.modelPath) || s.backbone.modelPath, sha256: s.backbone.sha256,
      inputShape: s.backbone.inputShape, totalParams: s.backbone.totalParams, maskedParams: s.backbone.maskedParams, maskedLayers: s.layers.length, pretrain,
    };
  }

  // ---------------------------------------------------------------- 2-4. reference CNN
  {
    const dir = path.join(workDir, REF);
    const before = snapshotFiles(refDir);
    await engine.createProject({ projectDir: dir, modelPath: refModel, backend: backendPref });
    const isDefault = refModel === path.resolve(defaultBackbonePath());
    const info = describeBackbone(REF, '', dir, path.join(refDir, 'pretrain.json'));
    info.description = `reference CNN (4 conv + BN, fc 128)${info.pretrain ? `, pretrained on ${info.pretrain.baseTask} by \`piggyback pretrain\`` : ' (no pretrain.json beside it: pretraining unknown)'}${isDefault ? ', committed under models/reference-cnn and reused as is' : ', passed with --reference-model'}`;
    backbones.push(info);
    const inputShape = engine.projectStats(dir).backbone.inputShape;
    const trained: Trained[] = [];
    const tasks = plan.tasks.filter((t) => available(t.dataset));
    for (const t of tasks) {
      const d = await featureDiagnostic(refModel, {}, t.dataset, { trainPerClass: t.trainPerClass, valFraction: plan.valFraction, seed: plan.seed });
      features.push({ backbone: REF, task: t.dataset, ...d });
    }
    for (const t of tasks) {
      // Piggyback's mask rate is chosen per task on the task's own validation split (a rate
      // that suits one task can wreck another); the other candidates stay as 'selection' rows.
      const grid = plan.taskLrMask?.length ? plan.taskLrMask : [lrMask];
      const cands: ResultRow[] = [];
      for (const m of grid) {
        const name = grid.length > 1 ? `${t.dataset}.lrmask-${m}` : t.dataset;
        const { row } = await trainPiggybackRow(REF, dir, name, t, baseOptions(m, lrHead, t.epochs), 'piggyback', 'main', inputShape, trained);
        cands.push(row);
      }
      const best = cands.reduce((a, b) => ((b.val_accuracy ?? -1) > (a.val_accuracy ?? -1) ? b : a));
      for (const c of cands) {
        if (c !== best) {
          c.method = `piggyback-lrmask-${c.lr_mask}`;
          c.stage = 'selection';
        }
      }
      taskLrMask.set(t.dataset, best.lr_mask as number);
      if (grid.length > 1) log(`  ${t.dataset}: lrMask ${best.lr_mask} (val ${pct(best.val_accuracy)})`);
      rows.push(best, ...cands.filter((c) => c !== best));
      rows.push(...(await baselineRows(REF, dir, best.project_task, t, inputShape)));
      savePartial(`task ${t.dataset}`);
    }
    for (const v of plan.variants) {
      const t = tasks.find((x) => x.dataset === v.dataset);
      if (!t) continue;
      const o = baseOptions(taskLrMask.get(t.dataset) ?? lrMask, lrHead, t.epochs);
      if (v.kind === 'ternary') o.maskKind = 'ternary';
      else o.bnMode = 'trainable';
      const method = v.kind === 'ternary' ? 'piggyback-ternary' : 'piggyback-bn-trainable';
      const { row } = await trainPiggybackRow(REF, dir, `${t.dataset}.${v.kind}`, t, o, method, 'variant', inputShape, trained);
      rows.push(row);
    }
    // Follow-up on large gaps: one change at a time; judged on validation accuracy.
    if (plan.investigate) {
      const inv = plan.investigate;
      const gaps = tasks
        .map((t) => {
          const pb = rows.find((r) => r.backbone === REF && r.task === t.dataset && r.method === 'piggyback');
          const ft = rows.find((r) => r.backbone === REF && r.task === t.dataset && r.method === 'finetune');
          return { t, pb, ft, gap: pb && ft ? 100 * (pb.test_accuracy - ft.test_accuracy) : 0 };
        })
        .filter((g) => g.pb && g.ft && g.gap < -inv.thresholdPoints)
        .sort((a, b) => a.gap - b.gap)
        .slice(0, inv.maxTasks);
      for (const g of gaps) {
        const result: Investigation = {
          task: g.t.dataset, gapPoints: g.gap, runs: [],
          baseline: { valAccuracy: g.pb!.val_accuracy, testAccuracy: g.pb!.test_accuracy },
          finetune: { valAccuracy: g.ft!.val_accuracy, testAccuracy: g.ft!.test_accuracy },
        };
        for (const kind of inv.kinds) {
          const m = taskLrMask.get(g.t.dataset) ?? lrMask;
          const o = baseOptions(m, lrHead, g.t.epochs);
          let change = '';
          if (kind === 'epochs-x2') {
            Object.assign(o, baseOptions(m, lrHead, g.t.epochs * 2));
            change = `epochs ${g.t.epochs} -> ${g.t.epochs * 2}`;
          } else if (kind === 'lr-mask-x3') {
            o.lrMask = m * 3;
            change = `lrMask ${m} -> ${o.lrMask}`;
          } else {
            const tau = DEFAULT_TRAIN_OPTIONS.threshold;
            o.maskScale = Number((tau + (plan.maskScale - tau) / 5).toPrecision(3));
            change = `mask scale ${plan.maskScale} -> ${o.maskScale} (closer to the threshold ${tau}: a weight switches off after fewer steps)`;
          }
          const { row } = await trainPiggybackRow(REF, dir, `${g.t.dataset}.${kind}`, g.t, o, `piggyback-${kind}`, 'investigation', inputShape, trained);
          rows.push(row);
          result.runs.push({ kind, change, valAccuracy: row.val_accuracy, testAccuracy: row.test_accuracy, sparsity: row.sparsity });
        }
        const bn = rows.find((r) => r.backbone === REF && r.task === g.t.dataset && r.method === 'piggyback-bn-trainable');
        if (bn) result.runs.push({ kind: 'bn-trainable', change: 'BN frozen -> trainable per task (variant row)', valAccuracy: bn.val_accuracy, testAccuracy: bn.test_accuracy, sparsity: bn.sparsity });
        investigations.push(result);
      }
    }
    recordSparsity(REF, dir, trained);
    await checkForgetting(REF, dir, refDir, before, trained);
    savePartial('the reference-CNN stage');
  }

  // ---------------------------------------------------------------- 5. MobileNetV2 from nsfwjs
  if (plan.mobilenet && available(plan.mobilenet.dataset)) {
    const mp = plan.mobilenet;
    const dir = path.join(workDir, MOBILENET);
    try {
      await engine.createProject({ projectDir: dir, modelPath: 'nsfwjs-mobilenetv2', inputSize: mp.inputSize, cutAt: mp.cutAt, backend: backendPref });
    } catch (e) {
      if (e instanceof PiggybackError && e.code === 'FILE_NOT_FOUND') {
        skipped.push(`MobileNetV2: ${e.oneLine()}`);
      } else throw e;
    }
    if (fs.existsSync(path.join(dir, MANIFEST_FILE))) {
      const bbDir = path.join(dir, 'backbone');
      const before = snapshotFiles(bbDir);
      const s = engine.projectStats(dir);
      backbones.push(describeBackbone(MOBILENET, `MobileNetV2 (width 1.0) from npm nsfwjs@4.3.0, ImageNet-initialised lower blocks, cut at ${s.backbone.cutAt}, rebuilt for ${mp.inputSize}x${mp.inputSize}x3 input (gray images replicated to 3 channels)`, dir));
      const d = await featureDiagnostic(s.backbone.modelPath, { cutAt: s.backbone.cutAt, inputHW: [s.backbone.inputShape[0], s.backbone.inputShape[1]] }, mp.dataset, { trainPerClass: mp.trainPerClass, valFraction: plan.valFraction, seed: plan.seed });
      features.push({ backbone: MOBILENET, task: mp.dataset, ...d });
      const batch = mp.batchSize ?? plan.batchSize;
      let rates: Rates = { lrMask, lrHead, lrClassifier, lrFinetune };
      if (mp.tune) {
        tuneMobilenet = await selectRates(
          path.join(workDir, 'tune-mobilenet'),
          { projectDir: '', modelPath: s.backbone.modelPath, cutAt: s.backbone.cutAt ?? undefined, inputSize: mp.inputSize },
          { ...mp, ...mp.tune, testLimit: 10 },
          batch,
        );
        rates = tuneMobilenet.chosen;
      }
      const trained: Trained[] = [];
      const { row } = await trainPiggybackRow(MOBILENET, dir, mp.dataset, mp, baseOptions(rates.lrMask, rates.lrHead, mp.epochs, batch), 'piggyback', 'main', s.backbone.inputShape, trained);
      rows.push(row);
      rows.push(...(await baselineRows(MOBILENET, dir, mp.dataset, mp, s.backbone.inputShape, rates)));
      recordSparsity(MOBILENET, dir, trained);
      await checkForgetting(MOBILENET, dir, bbDir, before, trained);
    }
  }

  const result = snapshot('complete');
  fs.writeFileSync(path.join(workDir, 'result.json'), JSON.stringify(result, null, 1));
  if (cfg.outDir) {
    writeReports(result, cfg.outDir);
    log(`wrote ${path.join(cfg.outDir, 'results.md')} and results.csv`);
  }
  return result;
}
