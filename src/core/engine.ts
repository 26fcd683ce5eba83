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
import { findClassifierTop, readModelTopology, type ClassifierTop } from './model/modelIO';
import { extractNsfwjsMobilenet, MOBILENET_ALIAS, MOBILENET_DEFAULT_CUT } from './model/nsfwjsMobilenet';
import { defaultBackbonePath } from './paths';
import { MANIFEST_FILE } from './project/manifest';
import { createProject as createProjectDir, openProject, relinkBackbone as relinkProjectBackbone, type ProjectHandle } from './project/projectDir';
import { readProjectStats } from './project/stats';
import { checkCanSaveTask, deleteTask as deleteStoredTask, loadTask, readTaskMeta, saveBaseline, saveTask, type TaskArtifacts } from './project/taskFiles';
import { evaluateLogits } from './train/batches';
import { trainLoop } from './train/loop';
import { StepLossRecorder } from './train/stepLoss';
import { FeatureHeadNet, FinetuneNet, PiggybackNet, type TaskNet } from './train/taskNets';
import {
  DEFAULT_TRAIN_OPTIONS,
  type BaselineResult,
  type DataLimits,
  type DataSplits,
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
  /** Path to a TF.js LayersModel model.json, or an alias: 'reference-cnn' (default) or 'nsfwjs-mobilenetv2'. */
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
  if (arg === 'reference-cnn' || arg === 'default') return { modelPath: defaultBackbonePath(), cutAt: req.cutAt, alias: 'reference-cnn' };
  if (arg === MOBILENET_ALIAS) {
    const modelPath = extractNsfwjsMobilenet(path.join(req.projectDir, 'backbone'));
    return { modelPath, cutAt: req.cutAt ?? (req.keepTop ? undefined : MOBILENET_DEFAULT_CUT), inputSize: req.inputSize ?? 32 };
  }
  // The embedded model given by its path (as the extension does) is still the embedded backbone:
  // stored by alias, it survives the extension's versioned install folder changing on upgrade.
  const abs = path.resolve(arg);
  if (abs === path.resolve(defaultBackbonePath())) return { modelPath: abs, cutAt: req.cutAt, alias: 'reference-cnn' };
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
  let handle = openProject(req.projectDir);
  const opts = resolveOptions(req.options, handle.manifest.threshold);
  const limits: DataLimits = resolveDataLimits(req);
  await wrapEvents(onEvent, req.task, async () => {
    const info = await useBackend(req);
    const opened = await openWithBackbone(req.projectDir);
    handle = opened.handle;
    const { backbone } = opened;
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
export function maskChange(before: Array<Uint8Array | Int8Array>, now: Array<Uint8Array | Int8Array>): { layerSparsity: number[]; bitsFlipped: number } {
  let bitsFlipped = 0;
  const layerSparsity = now.map((m, i) => {
    const b = before[i];
    let off = 0;
    for (let k = 0; k < m.length; k++) {
      if (m[k] === 0) off++;
      if (m[k] !== b[k]) bitsFlipped++;
    }
    return m.length ? off / m.length : 0;
  });
  return { layerSparsity, bitsFlipped };
}

function taskStats(projectDir: string, task: string): TaskStats {
  const t = readProjectStats(projectDir).tasks.find((x) => x.name === task);
  if (!t) throw new PiggybackError('UNKNOWN_TASK', `task "${task}" was not found after saving`);
  return t;
}

/** Rebuilds a stored task's network (masks, head, BN) on its backbone. */
async function restoreTask(projectDir: string, task: string): Promise<{ backbone: Backbone; net: PiggybackNet; artifacts: TaskArtifacts }> {
  const { backbone } = await openWithBackbone(projectDir);
  const artifacts = loadTask(projectDir, task);
  const net = new PiggybackNet(
    backbone,
    artifacts.classNames.length,
    { ...artifacts.options, name: task },
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
        const history = await trainLoop(net, splits, opts, {
          task: req.task, method, backend: info.detail, layerNames: backbone.layers.map((l) => l.name), onEvent, signal, stepLoss,
        });
        const evaluation = evaluateLogits(splits.test, (x) => net.logits(x, false));
        const result: BaselineResult = { method, testAccuracy: evaluation.accuracy, trainSeconds: (performance.now() - t0) / 1000, history, bytesIfStored, stepLoss: stepLoss.series() };
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

export function deleteTask(projectDir: string, task: string): void {
  deleteStoredTask(projectDir, task);
}

export { listBuiltinDatasets } from './data/builtin';
