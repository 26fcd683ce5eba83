/**
 * The engine's public API: what the CLI and the extension worker call.
 * Everything long takes an AbortSignal and reports progress through TrainEvent callbacks.
 * A failure leaves the project on disk as it was: results are written only at the end,
 * atomically, by the project store.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tf } from './tf';
import { initBackend, type BackendInfo, type BackendPreference } from './backend';
import { PiggybackError, isPiggybackError } from './errors';
import { checkHyper, resolveDataLimits, resolveTrainOptions } from './hyperparams';
import { checkDatasetSpec, loadDataset } from './data';
import { Backbone } from './model/backbone';
import { findClassifierTop, readModelTopology, saveLayersModelFile, type ClassifierTop } from './model/modelIO';
import { buildTaskModel } from './model/exportTask';
import { extractNsfwjsMobilenet, MOBILENET_ALIAS, MOBILENET_DEFAULT_CUT } from './model/nsfwjsMobilenet';
import { builtinAliasOf, builtinBackbonePath, defaultBackbonePath } from './paths';
import { MANIFEST_FILE } from './project/manifest';
import { createProject as createProjectDir, openProject, taskDirOf, relinkBackbone as relinkProjectBackbone, type ProjectHandle } from './project/projectDir';
import { forgettingFromMatrix, type ForgettingSummary } from './project/forgetting';
import { readMaskNpz } from './project/maskExchange';
import { readProjectStats } from './project/stats';
import { checkCanSaveTask, deleteTask as deleteStoredTask, loadTask, loadTaskScores, readTaskMeta, saveBaseline, saveTask, type TaskArtifacts } from './project/taskFiles';
import type { TaskMeta } from './project/taskMeta';
import { masksAtThreshold } from './project/scoresFile';
import { encodeMaskFileAsync } from './project/maskFile';
import { packBinary, packTernary } from './project/bitpack';
import { subsetDataset } from './data/split';
import { batchTensors, evaluateLogits } from './train/batches';
import { ckaFromGrams, gram } from './analysis/cka';
import { trainLoop } from './train/loop';
import { StepLossRecorder } from './train/stepLoss';
import { FeatureHeadNet, FinetuneNet, PiggybackNet, type TaskNet } from './train/taskNets';
import {
  DEFAULT_TRAIN_OPTIONS,
  type BaselineOptimizer,
  type BaselineResult,
  type DataLimits,
  type DataSplits,
  type Dataset,
  type EvalResult,
  type ProjectStats,
  type TaskStats,
  type TrainEvent,
  type TrainOptions,
} from './types';

export interface BackendRequest {
  /** 'auto' tries tfjs-node, then wasm, then cpu. */
  backend?: BackendPreference;
}

export interface CreateProjectRequest extends BackendRequest {
  projectDir: string;
  /** Path to a TF.js LayersModel model.json, or an alias: 'reference-cnn' (default), 'vgg6', 'resnet8' or 'nsfwjs-mobilenetv2'. */
  modelPath?: string;
  /**
   * Optional layer name: the backbone ends at (and includes) this layer. Without it a final
   * classification top (Dense + softmax, see findClassifierTop) is cut off, as the paper does.
   */
  cutAt?: string;
  /** Keep the whole model, classification top included (no automatic cut). */
  keepTop?: boolean;
  /** Rebuild a fully convolutional backbone for this square input size (e.g. 32 for MobileNetV2). */
  inputSize?: number;
  threshold?: number;
  /** Keep each task's scores (scores.bin) for re-thresholding without retraining (default true). */
  storeScores?: boolean;
}

export interface TrainTaskRequest extends BackendRequest {
  projectDir: string;
  task: string;
  /** A built-in dataset id (see listBuiltinDatasets) or a path to an IDX folder or image folder. */
  dataset: string;
  options?: Partial<TrainOptions>;
  /** Cap on training images per class (quick runs); undefined = all. */
  trainPerClass?: number;
  /** Cap on test images; undefined = all. */
  testLimit?: number;
  /** Fraction of train held out as validation for the live curve (default 0.1). */
  valFraction?: number;
  /** Replace an existing task of the same name (default false: refuse). */
  overwrite?: boolean;
}

export interface EvaluateRequest extends BackendRequest {
  projectDir: string;
  task: string;
  /** Defaults to the task's own dataset. */
  dataset?: string;
  testLimit?: number;
}

export interface BaselineRequest extends BackendRequest {
  projectDir: string;
  task: string;
  methods: Array<'classifier' | 'finetune'>;
  /** Per method: its own optimiser, rate and decay (default: Adam at the task's lrHead and schedule). */
  optimizers?: Partial<Record<'classifier' | 'finetune', BaselineOptimizer>>;
}

/** What createProject made: the project's statistics, and the classifier top it cut off. */
export interface CreateProjectResult extends ProjectStats {
  /** The classification top dropped because no cutAt was given, or null (none found, cutAt given, or keepTop). */
  classifierTop: ClassifierTop | null;
}

export type EventSink = (e: TrainEvent) => void;

// ---------------------------------------------------------------------------------------------
// Backbones are cached per process: a worker trains many tasks on one backbone.

const backbones = new Map<string, Promise<Backbone>>();

async function backboneFor(modelPath: string, cutAt: string | null, inputShape?: number[]): Promise<Backbone> {
  const hw = inputShape ? ([inputShape[0], inputShape[1]] as [number, number]) : undefined;
  const key = `${path.resolve(modelPath)}|${cutAt ?? ''}|${hw?.join('x') ?? ''}|${fileStamp(modelPath)}`;
  let p = backbones.get(key);
  if (!p) {
    p = Backbone.load(modelPath, { cutAt, inputHW: hw });
    backbones.set(key, p);
    p.catch(() => backbones.delete(key));
  }
  return p;
}

function fileStamp(file: string): string {
  try {
    const st = fs.statSync(file);
    return `${st.size}:${st.mtimeMs}`;
  } catch {
    return 'missing';
  }
}

async function useBackend(req: BackendRequest): Promise<BackendInfo> {
  return initBackend(req.backend ?? 'auto');
}

/** Opens a project and its backbone, refusing a backbone whose weights or layers changed. */
async function openWithBackbone(projectDir: string): Promise<{ handle: ProjectHandle; backbone: Backbone }> {
  const first = openProject(projectDir);
  const b = first.manifest.backbone;
  if (!fs.existsSync(first.modelPath)) {
    throw new PiggybackError('FILE_NOT_FOUND', `the backbone of ${first.dir} is missing: no model.json at ${first.modelPath}`,
      `point the project at a copy of it with \`piggyback relink ${first.dir} --backbone <model.json>\` (or "Relink Backbone" in VS Code)`);
  }
  const backbone = await backboneFor(first.modelPath, b.cutAt, b.inputShape);
  const handle = openProject(projectDir, { sha256: backbone.sha256, layers: backbone.layers, modelPath: first.modelPath });
  return { handle, backbone };
}

// ---------------------------------------------------------------------------------------------

/** Resolves a backbone argument (an alias or a model.json path) to a model path, and the alias to store. */
function resolveModelArg(req: { projectDir: string; modelPath?: string; cutAt?: string; inputSize?: number; keepTop?: boolean }): { modelPath: string; cutAt?: string; inputSize?: number; alias?: string } {
  const arg = req.modelPath ?? 'reference-cnn';
  if (arg === 'default') return { modelPath: defaultBackbonePath(), cutAt: req.cutAt, alias: 'reference-cnn' };
  const embedded = builtinBackbonePath(arg);
  if (embedded) return { modelPath: embedded, cutAt: req.cutAt, alias: arg };
  if (arg === MOBILENET_ALIAS) {
    const modelPath = extractNsfwjsMobilenet(path.join(req.projectDir, 'backbone'));
    return { modelPath, cutAt: req.cutAt ?? (req.keepTop ? undefined : MOBILENET_DEFAULT_CUT), inputSize: req.inputSize ?? 32 };
  }
  // The embedded model given by its path (as the extension does) is still the embedded backbone:
  // stored by alias, it survives the extension's versioned install folder changing on upgrade.
  const abs = path.resolve(arg);
  const alias = builtinAliasOf(abs);
  if (alias) return { modelPath: abs, cutAt: req.cutAt, alias };
  return { modelPath: abs, cutAt: req.cutAt, inputSize: req.inputSize };
}

/**
 * Resolves a backbone argument and its cut. Without cutAt (and without keepTop) a
 * classification top is cut off here and the cut stored as an explicit layer name, so
 * `cutAt: null` in a manifest keeps meaning "the whole model".
 */
function resolveBackboneArg(req: CreateProjectRequest): { modelPath: string; cutAt?: string; inputSize?: number; alias?: string; classifierTop: ClassifierTop | null } {
  if (req.keepTop && req.cutAt) {
    throw new PiggybackError('BAD_ARGUMENT', 'keep-top and cut-at contradict each other', 'pass one of them: --cut-at L ends the backbone at L, --keep-top keeps the whole model');
  }
  const r = resolveModelArg(req);
  if (r.cutAt || req.keepTop) return { ...r, classifierTop: null };
  const classifierTop = findClassifierTop(readModelTopology(r.modelPath));
  return { ...r, cutAt: classifierTop?.cutAt, classifierTop };
}

export async function createProject(req: CreateProjectRequest): Promise<CreateProjectResult> {
  await useBackend(req);
  if (fs.existsSync(path.join(req.projectDir, MANIFEST_FILE))) {
    throw new PiggybackError('BAD_ARGUMENT', `${req.projectDir} already holds a mask project`, 'train into it, or choose another folder');
  }
  checkHyper('threshold', req.threshold ?? DEFAULT_TRAIN_OPTIONS.threshold);
  const { modelPath, cutAt, inputSize, alias, classifierTop } = resolveBackboneArg(req);
  const backbone = await backboneFor(modelPath, cutAt ?? null, inputSize ? [inputSize, inputSize] : undefined);
  createProjectDir(
    req.projectDir,
    {
      modelPath: path.resolve(modelPath),
      ...(alias ? { alias } : {}),
      sha256: backbone.sha256,
      cutAt: backbone.cutAt,
      inputShape: backbone.inputShape,
      totalParams: backbone.totalParams,
      maskedParams: backbone.maskedParams,
    },
    backbone.layers,
    req.threshold ?? DEFAULT_TRAIN_OPTIONS.threshold,
    { storeScores: req.storeScores },
  );
  return { ...readProjectStats(req.projectDir), classifierTop };
}

export interface RelinkRequest extends BackendRequest {
  projectDir: string;
  /** A model.json path, or 'reference-cnn' for the embedded backbone. */
  modelPath: string;
}

/** Points a project at another copy of its backbone after checking its weights and layers. */
export async function relinkBackbone(req: RelinkRequest): Promise<ProjectStats> {
  await useBackend(req);
  const h = openProject(req.projectDir);
  const b = h.manifest.backbone;
  const { modelPath, alias } = resolveModelArg({ projectDir: req.projectDir, modelPath: req.modelPath });
  if (!fs.existsSync(modelPath)) throw new PiggybackError('FILE_NOT_FOUND', `model file ${modelPath} does not exist`, 'pass the model.json of the backbone the project was made on');
  const backbone = await backboneFor(modelPath, b.cutAt, b.inputShape);
  relinkProjectBackbone(req.projectDir, modelPath, { sha256: backbone.sha256, layers: backbone.layers, ...(alias ? { alias } : {}) });
  return readProjectStats(req.projectDir);
}

async function loadTaskData(backbone: Backbone, spec: string, limits: DataLimits, seed: number): Promise<DataSplits> {
  const [height, width, channels] = backbone.inputShape;
  return loadDataset(spec, { height, width, channels }, { trainPerClass: limits.trainPerClass, testLimit: limits.testLimit, valFraction: limits.valFraction, seed });
}

/** Defaults, ranges and the threshold's owner all come from the one table (hyperparams.ts). */
const resolveOptions = resolveTrainOptions;

function wrapEvents(onEvent: EventSink | undefined, task: string, run: () => Promise<void>): Promise<void> {
  return run().catch((e) => {
    if (isPiggybackError(e) && e.code === 'CANCELLED') onEvent?.({ type: 'cancelled', task });
    else onEvent?.({ type: 'error', task, message: isPiggybackError(e) ? e.oneLine() : String((e as Error)?.message ?? e) });
    throw e;
  });
}

export async function trainTask(req: TrainTaskRequest, onEvent?: EventSink, signal?: AbortSignal): Promise<TaskStats> {
  // Everything that would fail the save is checked before the run, not after it.
  checkCanSaveTask(req.projectDir, req.task, { overwrite: req.overwrite });
  checkDatasetSpec(req.dataset);
  const handle = openProject(req.projectDir);
  const opts = resolveOptions(req.options, handle.manifest.threshold);
  const limits: DataLimits = resolveDataLimits(req);
  await wrapEvents(onEvent, req.task, async () => {
    const info = await useBackend(req);
    const { backbone } = await openWithBackbone(req.projectDir);
    const data = await loadTaskData(backbone, req.dataset, limits, opts.seed);
    const t0 = performance.now();
    tf.engine().startScope();
    const net = new PiggybackNet(backbone, data.train.classNames.length, { ...opts, name: req.task });
    try {
      let previous = net.masks();
      const stepLoss = new StepLossRecorder();
      const history = await trainLoop(net, data, opts, {
        stepLoss,
        task: req.task,
        method: 'piggyback',
        backend: info.detail,
        layerNames: backbone.layers.map((l) => l.name),
        onEvent,
        signal,
        maskStats: () => {
          const masks = net.masks();
          const stats = maskChange(previous, masks);
          previous = masks;
          return stats;
        },
      });
      const evaluation = evaluateLogits(data.test, (x) => net.logits(x, false));
      const trainSeconds = (performance.now() - t0) / 1000;
      saveTask(
        req.projectDir,
        {
          name: req.task,
          dataset: req.dataset,
          classNames: data.train.classNames,
          options: opts,
          dataLimits: limits,
          masks: net.masks(),
          scores: net.scores.map((s) => (s.dataSync() as Float32Array).slice()),
          head: {
            kernel: net.head.kernel.dataSync() as Float32Array,
            shape: [backbone.featureSize, data.train.classNames.length],
            bias: net.head.bias.dataSync() as Float32Array,
          },
          bn: net.bn?.toArrays(),
          history,
          stepLoss: stepLoss.series(),
          trainImages: data.train.count,
          testAccuracy: evaluation.accuracy,
          evaluation,
          trainSeconds,
        },
        { overwrite: req.overwrite },
      );
      onEvent?.({ type: 'done', task: req.task, testAccuracy: evaluation.accuracy, seconds: trainSeconds });
    } finally {
      net.dispose();
      tf.engine().endScope();
    }
  });
  return taskStats(req.projectDir, req.task);
}

/** Per-layer sparsity of `now` and how many entries differ from `before`. */
export function maskChange(before: Array<Uint8Array | Int8Array>, now: Array<Uint8Array | Int8Array>): { layerSparsity: number[]; bitsFlipped: number; layerBitsFlipped: number[] } {
  let bitsFlipped = 0;
  const layerBitsFlipped: number[] = [];
  const layerSparsity = now.map((m, i) => {
    const b = before[i];
    let off = 0;
    let flips = 0;
    for (let k = 0; k < m.length; k++) {
      if (m[k] === 0) off++;
      if (m[k] !== b[k]) flips++;
    }
    bitsFlipped += flips;
    layerBitsFlipped.push(flips);
    return m.length ? off / m.length : 0;
  });
  return { layerSparsity, bitsFlipped, layerBitsFlipped };
}

function taskStats(projectDir: string, task: string): TaskStats {
  const t = readProjectStats(projectDir).tasks.find((x) => x.name === task);
  if (!t) throw new PiggybackError('UNKNOWN_TASK', `task "${task}" was not found after saving`);
  return t;
}

/** Rebuilds a stored task's network (masks, head, BN) on its backbone. */
async function restoreTask(projectDir: string, task: string, variableName = task): Promise<{ backbone: Backbone; net: PiggybackNet; artifacts: TaskArtifacts }> {
  const { backbone } = await openWithBackbone(projectDir);
  const artifacts = loadTask(projectDir, task);
  const net = new PiggybackNet(
    backbone,
    artifacts.classNames.length,
    { ...artifacts.options, name: variableName },
    { masks: artifacts.masks, head: artifacts.head, bn: artifacts.bn },
  );
  return { backbone, net, artifacts };
}

export async function evaluateTask(req: EvaluateRequest, signal?: AbortSignal): Promise<EvalResult> {
  checkHyper('testLimit', req.testLimit);
  await useBackend(req);
  const { backbone, net, artifacts } = await restoreTask(req.projectDir, req.task);
  try {
    const limits = readTaskMeta(req.projectDir, req.task).dataLimits ?? { valFraction: 0.1 };
    const data = await loadTaskData(backbone, req.dataset ?? artifacts.dataset, { ...limits, testLimit: req.testLimit ?? limits.testLimit }, artifacts.options.seed);
    if (data.test.classNames.length !== artifacts.classNames.length) {
      throw new PiggybackError(
        'SHAPE_MISMATCH',
        `dataset has ${data.test.classNames.length} classes but task "${req.task}" was trained on ${artifacts.classNames.length}`,
        'evaluate on a dataset with the same classes',
      );
    }
    return evaluateLogits(data.test, (x) => net.logits(x, false), 256, () => {
      if (signal?.aborted) throw new PiggybackError('CANCELLED', 'evaluation cancelled');
    });
  } finally {
    net.dispose();
  }
}

export async function runBaselines(req: BaselineRequest, onEvent?: EventSink, signal?: AbortSignal): Promise<BaselineResult[]> {
  const info = await useBackend(req);
  const { backbone } = await openWithBackbone(req.projectDir);
  const meta = readTaskMeta(req.projectDir, req.task);
  const limits = meta.dataLimits ?? { valFraction: 0.1 };
  const opts = meta.options;
  const data = await loadTaskData(backbone, meta.dataset, limits, opts.seed);
  const classes = data.train.classNames.length;
  const results: BaselineResult[] = [];
  for (const method of req.methods) {
    await wrapEvents(onEvent, req.task, async () => {
      const t0 = performance.now();
      let net: TaskNet;
      let splits = data;
      let bytesIfStored: number;
      if (method === 'classifier') {
        // Frozen backbone: features never change, so compute them once.
        splits = backbone.featureSplits(data);
        net = new FeatureHeadNet(backbone.featureSize, classes, opts.seed, `${req.task}-classifier`);
        bytesIfStored = (backbone.featureSize * classes + classes) * 4;
      } else {
        const ft = new FinetuneNet(backbone, classes, opts.seed, `${req.task}-finetune`);
        bytesIfStored = ft.storedBytes();
        net = ft;
      }
      try {
        const stepLoss = new StepLossRecorder();
        const optimizer = req.optimizers?.[method];
        const runOpts = optimizer ? { ...opts, lrHead: optimizer.lr, lrDecayEvery: optimizer.lrDecayEvery } : opts;
        const history = await trainLoop(net, splits, runOpts, {
          task: req.task, method, backend: info.detail, layerNames: backbone.layers.map((l) => l.name), onEvent, signal, stepLoss,
          ...(optimizer ? { optimizer: { kind: optimizer.kind, momentum: optimizer.momentum } } : {}),
        });
        const evaluation = evaluateLogits(splits.test, (x) => net.logits(x, false));
        const result: BaselineResult = {
          method, testAccuracy: evaluation.accuracy, trainSeconds: (performance.now() - t0) / 1000, history, bytesIfStored, stepLoss: stepLoss.series(),
          ...(optimizer ? { optimizer } : {}),
        };
        saveBaseline(req.projectDir, req.task, result);
        results.push(result);
        onEvent?.({ type: 'done', task: req.task, testAccuracy: evaluation.accuracy, seconds: result.trainSeconds });
      } finally {
        net.dispose();
      }
    });
  }
  return results;
}

/** Reads manifest + packed masks only: no TF.js work, fast, safe to call from the extension host. */
export function projectStats(projectDir: string): ProjectStats {
  return readProjectStats(projectDir);
}

export interface ExportTaskModelRequest extends BackendRequest {
  projectDir: string;
  task: string;
  /** Folder for model.json + weights.bin; must not hold a model unless `overwrite`. */
  outDir: string;
  overwrite?: boolean;
}

export interface ExportTaskModelResult {
  modelPath: string;
  bytes: number;
  task: string;
  classNames: string[];
  /** The model outputs logits (apply softmax for probabilities). */
  output: 'logits';
  /** Before writing: the export and the engine on the same seeded random images. */
  check: { images: number; maxAbsLogitDiff: number };
  backend: string;
}

/**
 * Writes task `task` as a standalone TF.js LayersModel (W ⊙ m baked in, the task's BN, the head
 * as a final Dense; see model/exportTask.ts), after checking on seeded random inputs that it
 * predicts the engine's logits for that task.
 */
export async function exportTaskModel(req: ExportTaskModelRequest): Promise<ExportTaskModelResult> {
  const info = await useBackend(req);
  const out = path.resolve(req.outDir);
  if (fs.existsSync(out)) {
    if (!fs.statSync(out).isDirectory()) throw new PiggybackError('BAD_ARGUMENT', `${out} is a file; a LayersModel export is a folder (model.json + weights.bin)`, 'give --out a folder that does not exist yet');
    if (fs.readdirSync(out).length > 0 && !req.overwrite) throw new PiggybackError('BAD_ARGUMENT', `${out} is not empty`, 'pass --overwrite to write into it, or choose an empty or new folder');
  }
  const { backbone, net, artifacts } = await restoreTask(req.projectDir, req.task);
  try {
    const model = await buildTaskModel(backbone, {
      task: req.task, classNames: artifacts.classNames, maskKind: artifacts.options.maskKind, masks: artifacts.masks, head: artifacts.head, bn: artifacts.bn,
    });
    try {
      const images = 4;
      const [maxAbsLogitDiff, scale] = tf.tidy(() => {
        const x = tf.randomUniform([images, ...backbone.inputShape], 0, 1, 'float32', 1) as tf.Tensor4D;
        const want = net.logits(x, false);
        const got = model.predict(x) as tf.Tensor;
        return [tf.max(tf.abs(tf.sub(got, want))).dataSync()[0], tf.max(tf.abs(want)).dataSync()[0]];
      });
      // float32 rounding of a different but equivalent kernel order grows with the logits' size
      if (!(maxAbsLogitDiff <= 1e-3 * Math.max(1, scale))) {
        throw new PiggybackError('BAD_MODEL', `the exported model of task ${req.task} differs from the engine by ${maxAbsLogitDiff} in a logit; nothing was written`, 'this is a bug: please report it with the backbone used');
      }
      fs.mkdirSync(out, { recursive: true });
      const modelPath = await saveLayersModelFile(model, out);
      const bytes = fs.statSync(modelPath).size + fs.statSync(path.join(out, 'weights.bin')).size;
      return { modelPath, bytes, task: req.task, classNames: artifacts.classNames, output: 'logits', check: { images, maxAbsLogitDiff }, backend: info.detail };
    } finally {
      model.dispose();
    }
  } finally {
    net.dispose();
  }
}

export interface ImportMaskTrainHeadRequest extends BackendRequest {
  projectDir: string;
  /** Name of the new task. */
  task: string;
  /** The mask archive (see project/maskExchange.ts). */
  npzFile: string;
  /** Dataset the new head is trained on (as for trainTask). */
  dataset: string;
  /** Epochs, batch size, lrHead, seed... (lrMask is unused: the mask stays as imported; BN is the backbone's). */
  options?: Partial<TrainOptions>;
  trainPerClass?: number;
  testLimit?: number;
  valFraction?: number;
}

/**
 * Imports an .npz mask as a new task and trains a fresh head for it on `dataset`, with the
 * mask fixed exactly as imported (only the head's kernel and bias receive gradients) and the
 * backbone's own BatchNorm. The stored test accuracy is that of the imported mask with this head.
 */
export async function importMaskTrainHead(req: ImportMaskTrainHeadRequest, onEvent?: EventSink, signal?: AbortSignal): Promise<TaskStats> {
  checkCanSaveTask(req.projectDir, req.task);
  checkDatasetSpec(req.dataset);
  const handle = openProject(req.projectDir);
  const imported = readMaskNpz(handle, req.npzFile); // every check before any long work
  const opts = resolveOptions({ ...req.options, maskKind: imported.kind, bnMode: 'frozen' }, handle.manifest.threshold);
  const limits: DataLimits = resolveDataLimits(req); // the same range checks as train
  const sizes = handle.manifest.layers.map((l) => l.size);
  const layerSparsity = imported.layers.map((l, i) => (sizes[i] ? (sizes[i] - l.kept) / sizes[i] : 0));
  await wrapEvents(onEvent, req.task, async () => {
    const info = await useBackend(req);
    const { backbone } = await openWithBackbone(req.projectDir);
    const data = await loadTaskData(backbone, req.dataset, limits, opts.seed);
    const t0 = performance.now();
    tf.engine().startScope();
    const net = new PiggybackNet(backbone, data.train.classNames.length, { ...opts, name: req.task }, { masks: imported.masks });
    try {
      const headOnly: TaskNet = {
        groups: [{ lr: 'head', vars: [net.head.kernel, net.head.bias] }],
        logits: (x, training) => net.logits(x, training),
        afterStep: () => {},
        dispose: () => {},
      };
      const history = await trainLoop(headOnly, data, opts, {
        task: req.task, method: 'piggyback', backend: info.detail, layerNames: backbone.layers.map((l) => l.name), onEvent, signal,
        maskStats: () => ({ layerSparsity, bitsFlipped: 0 }),
      });
      const evaluation = evaluateLogits(data.test, (x) => net.logits(x, false));
      const trainSeconds = (performance.now() - t0) / 1000;
      saveTask(req.projectDir, {
        name: req.task, dataset: req.dataset, classNames: data.train.classNames, options: opts, dataLimits: limits,
        masks: imported.masks,
        head: { kernel: net.head.kernel.dataSync() as Float32Array, shape: [backbone.featureSize, data.train.classNames.length], bias: net.head.bias.dataSync() as Float32Array },
        history, testAccuracy: evaluation.accuracy, evaluation, trainSeconds,
      });
      onEvent?.({ type: 'done', task: req.task, testAccuracy: evaluation.accuracy, seconds: trainSeconds });
    } finally {
      net.dispose();
      tf.engine().endScope();
    }
  });
  return taskStats(req.projectDir, req.task);
}

export interface ForgettingMatrixResult extends ForgettingSummary {
  /** Tasks in the order they were added (task.json createdAt). */
  tasks: string[];
  /** accuracy[i][k]: task i's test accuracy after task k was added; null before task i existed or when unknown. */
  accuracy: Array<Array<number | null>>;
  /** Accuracy measured right after training task i (stored in task.json): the diagonal. */
  trainedAccuracy: Array<number | null>;
  /** Accuracy re-evaluated now from the stored files: every cell right of the diagonal. */
  reevaluated: Array<number | null>;
  /** Stored baseline accuracies beside each task (null when not run). */
  baselines: Array<{ classifier: number | null; finetune: number | null }>;
  /** Tasks that could not be evaluated, with the one-line reason. */
  damaged: Array<{ task: string; reason: string }>;
  /** True when every re-evaluation equals the accuracy stored at training time exactly (Piggyback's promise). */
  zeroForgetting: boolean;
  backend: string;
}

/**
 * The accuracy matrix of the project's tasks (Avalanche's convention), computed on demand.
 * Column k is the state after task k was added: the frozen backbone (its sha256 is checked on
 * load) and the files of tasks 1..k. A task's files are written once, when it is added, and
 * verified against their checksums on load, and the backbone never changes: so task i's
 * accuracy after any later step k is what it scores now from its stored files, evaluated once
 * on its own test data (the data limits it was trained with); the diagonal is the accuracy
 * recorded when it was trained. Any difference between the two is forgetting.
 */
export async function forgettingMatrix(
  req: BackendRequest & { projectDir: string },
  onTask?: (task: string, index: number, count: number) => void,
  signal?: AbortSignal,
): Promise<ForgettingMatrixResult> {
  const info = await useBackend(req);
  const h = openProject(req.projectDir);
  const metas = h.manifest.tasks.map((name, order) => {
    try {
      return { name, order, meta: readTaskMeta(req.projectDir, name), error: null as string | null };
    } catch (e) {
      if (!isPiggybackError(e)) throw e;
      return { name, order, meta: null, error: e.oneLine() };
    }
  });
  metas.sort((a, b) => (a.meta?.createdAt ?? '').localeCompare(b.meta?.createdAt ?? '') || a.order - b.order);
  const T = metas.length;
  const damaged: ForgettingMatrixResult['damaged'] = [];
  const reevaluated: Array<number | null> = [];
  for (let i = 0; i < T; i++) {
    const m = metas[i];
    if (signal?.aborted) throw new PiggybackError('CANCELLED', 'forgetting matrix cancelled', 'nothing was changed');
    onTask?.(m.name, i, T);
    if (m.error) {
      damaged.push({ task: m.name, reason: m.error });
      reevaluated.push(null);
      continue;
    }
    try {
      reevaluated.push((await evaluateTask({ projectDir: req.projectDir, task: m.name, backend: req.backend }, signal)).accuracy);
    } catch (e) {
      if (!isPiggybackError(e) || e.code === 'CANCELLED' || e.code === 'BACKEND_UNAVAILABLE') throw e;
      damaged.push({ task: m.name, reason: e.oneLine() });
      reevaluated.push(null);
    }
  }
  const trainedAccuracy = metas.map((m) => m.meta?.testAccuracy ?? null);
  const accuracy = metas.map((_, i) => metas.map((__, k) => (k < i ? null : k === i ? trainedAccuracy[i] : reevaluated[i])));
  const summary = forgettingFromMatrix(accuracy);
  const baselineOf = (i: number, method: 'classifier' | 'finetune') => metas[i].meta?.baselines.find((b) => b.method === method)?.testAccuracy ?? null;
  return {
    ...summary,
    tasks: metas.map((m) => m.name),
    accuracy,
    trainedAccuracy,
    reevaluated,
    baselines: metas.map((_, i) => ({ classifier: baselineOf(i, 'classifier'), finetune: baselineOf(i, 'finetune') })),
    damaged,
    zeroForgetting: T > 0 && damaged.length === 0 && metas.every((_, i) => trainedAccuracy[i] !== null && trainedAccuracy[i] === reevaluated[i]),
    backend: info.detail,
  };
}

export function deleteTask(projectDir: string, task: string): void {
  deleteStoredTask(projectDir, task);
}

export { listBuiltinDatasets } from './data/builtin';

// ---------------------------------------------------------------------------------------------
// Threshold what-if: re-binarise a task's stored scores at another threshold, no retraining.

export interface RethresholdRequest extends BackendRequest {
  projectDir: string;
  task: string;
  /** Thresholds to evaluate (each in [0, mask scale)). */
  thresholds: number[];
  /** Images of the probe set (the task's validation split; test split when it has none). Default 512. */
  probeLimit?: number;
  /** Save the mask at thresholds[0] as this new task (the original is never altered). */
  saveAs?: string;
}

export interface RethresholdPoint {
  threshold: number;
  layerSparsity: number[];
  sparsity: number;
  /** mask.bin as it would be stored, bits per masked weight. */
  bitsPerMaskedWeight: number;
  probeAccuracy: number;
}

export interface RethresholdResult {
  task: string;
  trainedThreshold: number;
  probe: { split: 'val' | 'test'; count: number };
  scoresBytes: number;
  points: RethresholdPoint[];
  savedAs: string | null;
}

const probes = new Map<string, Promise<{ ds: Dataset; split: 'val' | 'test' }>>();
const scoreCache = new Map<string, ReturnType<typeof loadTaskScores>>();

/** Decoded scores, once per scores.bin checksum (the slider moves many times over one task). */
function cachedScores(projectDir: string, task: string, meta: TaskMeta): ReturnType<typeof loadTaskScores> {
  // The file's stamp too: a scores.bin changed on disk (even to garbage) is read again.
  const key = `${path.resolve(projectDir)}|${task}|${meta.files.scores?.sha256 ?? 'none'}|${fileStamp(path.join(taskDirOf({ dir: path.resolve(projectDir) }, task), 'scores.bin'))}`;
  let s = scoreCache.get(key);
  if (!s) {
    s = loadTaskScores(projectDir, task);
    scoreCache.clear(); // one task's scores at a time: they can be large
    scoreCache.set(key, s);
  }
  return s;
}

/** The task's probe images, loaded once per process (the slider re-evaluates the same set). */
async function probeSet(projectDir: string, backbone: Backbone, meta: TaskMeta, limit: number): Promise<{ ds: Dataset; split: 'val' | 'test' }> {
  const key = `${path.resolve(projectDir)}|${meta.name}|${meta.createdAt}|${limit}`;
  let p = probes.get(key);
  if (!p) {
    p = (async () => {
      const limits = meta.dataLimits ?? { valFraction: 0.1 };
      const data = await loadTaskData(backbone, meta.dataset, { ...limits, valFraction: limits.valFraction || 0.1 }, meta.options.seed);
      const split: 'val' | 'test' = data.val && data.val.count > 0 ? 'val' : 'test';
      const ds = split === 'val' ? data.val! : data.test;
      return { ds: ds.count > limit ? subsetDataset(ds, Array.from({ length: limit }, (_, i) => i)) : ds, split };
    })();
    probes.set(key, p);
    p.catch(() => probes.delete(key));
  }
  return p;
}

/** Sparsity, stored size and probe accuracy of a task's mask at each threshold; optionally saved as a new task. */
export async function rethresholdTask(req: RethresholdRequest, signal?: AbortSignal): Promise<RethresholdResult> {
  await useBackend(req);
  if (req.saveAs !== undefined) checkCanSaveTask(req.projectDir, req.saveAs);
  const { backbone } = await openWithBackbone(req.projectDir);
  const artifacts = loadTask(req.projectDir, req.task);
  const meta = readTaskMeta(req.projectDir, req.task);
  const stored = cachedScores(req.projectDir, req.task, meta);
  const kind = artifacts.options.maskKind;
  for (const t of req.thresholds) {
    if (!Number.isFinite(t) || t < 0 || t >= artifacts.options.maskScale) {
      throw new PiggybackError('BAD_ARGUMENT', `threshold ${t} is outside [0, mask scale ${artifacts.options.maskScale})`, 'an untrained score equals the mask scale: a threshold at or above it switches every weight off');
    }
  }
  const { ds, split } = await probeSet(req.projectDir, backbone, meta, req.probeLimit ?? 512);
  const layers = backbone.layers;
  const total = layers.reduce((a, l) => a + l.size, 0);
  const points: RethresholdPoint[] = [];
  let first: Array<Uint8Array | Int8Array> | null = null;
  for (const t of req.thresholds) {
    if (signal?.aborted) throw new PiggybackError('CANCELLED', 'threshold what-if cancelled');
    const masks = masksAtThreshold(stored.scores, t, kind, artifacts.masks);
    first ??= masks;
    let off = 0;
    const layerSparsity = masks.map((m) => {
      let z = 0;
      for (let i = 0; i < m.length; i++) if (m[i] === 0) z++;
      off += z;
      return m.length ? z / m.length : 0;
    });
    // The stored size (Brotli) is computed on the thread pool while the probe set is evaluated.
    const coded = encodeMaskFileAsync(kind, masks.map((m) => (kind === 'ternary' ? packTernary(m) : packBinary(m))), layers);
    coded.catch(() => undefined); // awaited below; handled here should the evaluation throw first
    const net = new PiggybackNet(backbone, artifacts.classNames.length, { ...artifacts.options, threshold: artifacts.options.threshold, name: `${req.task}@${t}` }, { masks, head: artifacts.head, bn: artifacts.bn });
    let accuracy: number;
    try {
      accuracy = evaluateLogits(ds, (x) => net.logits(x, false)).accuracy;
    } finally {
      net.dispose();
    }
    const bytes = (await coded).reduce((a, c) => a + c.byteLength, 0);
    points.push({ threshold: t, layerSparsity, sparsity: total ? off / total : 0, bitsPerMaskedWeight: total ? (bytes * 8) / total : 0, probeAccuracy: accuracy });
  }
  let savedAs: string | null = null;
  if (req.saveAs !== undefined && first) {
    const t = req.thresholds[0];
    const net = new PiggybackNet(backbone, artifacts.classNames.length, { ...artifacts.options, name: req.saveAs }, { masks: first, head: artifacts.head, bn: artifacts.bn });
    try {
      const data = await loadTaskData(backbone, artifacts.dataset, artifacts.dataLimits ?? { valFraction: 0.1 }, artifacts.options.seed);
      const evaluation = evaluateLogits(data.test, (x) => net.logits(x, false));
      saveTask(req.projectDir, {
        name: req.saveAs, dataset: artifacts.dataset, classNames: artifacts.classNames,
        // The stored threshold stays the one the masks were made with; the new task records where it came from.
        options: { ...artifacts.options }, dataLimits: artifacts.dataLimits, masks: first, head: artifacts.head, bn: artifacts.bn,
        history: [], testAccuracy: evaluation.accuracy, evaluation, trainSeconds: 0, derivedFrom: { task: req.task, threshold: t },
      });
      savedAs = req.saveAs;
    } finally {
      net.dispose();
    }
  }
  return { task: req.task, trainedThreshold: artifacts.options.threshold, probe: { split, count: ds.count }, scoresBytes: stored.bytes, points, savedAs };
}

// ---------------------------------------------------------------------------------------------
// Functional similarity: linear CKA per masked layer between two tasks on one probe set.

export interface SimilarityRequest extends BackendRequest {
  projectDir: string;
  taskA: string;
  taskB: string;
  /** Whose validation images to probe with (default A). */
  probeFrom?: 'A' | 'B';
  /** Probe images, at most 512 (one batch; default 256). */
  probeLimit?: number;
}

export interface SimilarityResult {
  taskA: string;
  taskB: string;
  probe: { task: string; split: 'val' | 'test'; count: number };
  layers: Array<{ name: string; cka: number; jaccard: number | null }>;
  seconds: number;
}

/** Linear CKA between the two tasks' masked networks at every masked layer, next to the masks' Jaccard. */
export async function taskSimilarity(req: SimilarityRequest): Promise<SimilarityResult> {
  await useBackend(req);
  const t0 = performance.now();
  const limit = Math.min(512, Math.max(2, req.probeLimit ?? 256));
  // Distinct variable names: a task may be compared with itself.
  const a = await restoreTask(req.projectDir, req.taskA, `${req.taskA}#A`);
  let b: Awaited<ReturnType<typeof restoreTask>>;
  try {
    b = await restoreTask(req.projectDir, req.taskB, `${req.taskB}#B`);
  } catch (e) {
    a.net.dispose();
    throw e;
  }
  try {
    const probeTask = req.probeFrom === 'B' ? req.taskB : req.taskA;
    const { ds, split } = await probeSet(req.projectDir, a.backbone, readTaskMeta(req.projectDir, probeTask), limit);
    const { x } = batchTensors(ds, null, 0, ds.count);
    const grams = (net: PiggybackNet): tf.Tensor2D[] => {
      const outs = net.layerOutputs(x);
      const g = outs.map((y) => gram(y));
      tf.dispose(outs);
      return g;
    };
    const ga = grams(a.net);
    const gb = grams(b.net);
    x.dispose();
    const stats = readProjectStats(req.projectDir);
    const ia = stats.tasks.findIndex((t) => t.name === req.taskA);
    const ib = stats.tasks.findIndex((t) => t.name === req.taskB);
    const layers = a.backbone.layers.map((l, i) => ({ name: l.name, cka: ckaFromGrams(ga[i], gb[i]), jaccard: stats.overlap.perLayer[i]?.jaccard[ia]?.[ib] ?? null }));
    tf.dispose([...ga, ...gb]);
    return { taskA: req.taskA, taskB: req.taskB, probe: { task: probeTask, split, count: ds.count }, layers, seconds: (performance.now() - t0) / 1000 };
  } finally {
    a.net.dispose();
    b.net.dispose();
  }
}

// ---------------------------------------------------------------------------------------------
// Task inference (SupSup-style, as an experiment): which task's mask and head is most confident?

export interface TaskInferenceRequest extends BackendRequest {
  projectDir: string;
  /** Tasks to choose among (default: every readable task). */
  tasks?: string[];
  /** Test images per task (default 100). */
  perTask?: number;
}

export interface TaskInferenceResult {
  tasks: string[];
  /** confusion[true task][inferred task] over each task's test images. */
  confusion: number[][];
  /** Fraction of images whose own task was the most confident. */
  accuracy: number;
  imagesPerTask: number[];
}

/**
 * For every test image of every task, the task whose network is most confident: lowest softmax
 * entropy, divided by log(classes) so tasks with different class counts compare.
 */
export async function inferTasks(req: TaskInferenceRequest): Promise<TaskInferenceResult> {
  await useBackend(req);
  const names = req.tasks ?? readProjectStats(req.projectDir).tasks.filter((t) => t.state === 'trained').map((t) => t.name);
  if (names.length < 2) throw new PiggybackError('BAD_ARGUMENT', `task inference needs at least 2 tasks, got ${names.length}`, 'train another task first');
  const nets: Array<Awaited<ReturnType<typeof restoreTask>>> = [];
  try {
    for (const n of names) nets.push(await restoreTask(req.projectDir, n, `${n}#infer`));
    const confusion = names.map(() => new Array<number>(names.length).fill(0));
    const imagesPerTask: number[] = [];
    let right = 0;
    let total = 0;
    for (const [ti, t] of nets.entries()) {
      const data = await loadTaskData(t.backbone, t.artifacts.dataset, { ...(t.artifacts.dataLimits ?? { valFraction: 0.1 }), testLimit: req.perTask ?? 100 }, t.artifacts.options.seed);
      imagesPerTask.push(data.test.count);
      for (let s = 0; s < data.test.count; s += 64) {
        const e = Math.min(data.test.count, s + 64);
        const scores = tf.tidy(() => {
          const { x } = batchTensors(data.test, null, s, e);
          // [tasks, n]: normalised entropy of each task's prediction for each image
          return tf.stack(nets.map((o) => {
            const p = tf.softmax(o.net.logits(x, false));
            const h = tf.neg(tf.sum(tf.mul(p, tf.log(tf.add(p, 1e-12))), 1));
            return tf.div(h, Math.log(Math.max(2, o.artifacts.classNames.length)));
          }));
        });
        const inferred = tf.tidy(() => tf.argMin(scores, 0));
        const pick = inferred.dataSync() as Int32Array;
        tf.dispose([scores, inferred]);
        for (const k of pick) {
          confusion[ti][k]++;
          if (k === ti) right++;
          total++;
        }
      }
    }
    return { tasks: names, confusion, accuracy: total ? right / total : 0, imagesPerTask };
  } finally {
    for (const n of nets) n.net.dispose();
  }
}
