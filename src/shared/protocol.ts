/**
 * The one message protocol between the extension host and the mask-explorer webview.
 *
 * Both sides import this file. Messages cross a postMessage boundary, so neither side
 * may trust the other's shape: every message goes through parseHostMessage /
 * parseWebviewMessage, which check every field and return undefined on anything odd.
 */
import type {
  EpochMetrics,
  MaskedLayerInfo,
  OverlapMatrices,
  ProjectStats,
  TaskStats,
  TrainEvent,
  TrainOptions,
  BaselineResult,
} from '../core/types';
import type { LayerFilterReport } from '../core/project/filters';
import type { ForgettingMatrixResult, RethresholdResult, SimilarityResult, TaskInferenceResult } from '../core/engine';

export type ViewId = 'heatmap' | 'overlap' | 'curves' | 'runs' | 'dynamics' | 'forgetting' | 'whatif' | 'inference';
export const VIEW_IDS: readonly ViewId[] = ['heatmap', 'overlap', 'curves', 'runs', 'dynamics', 'forgetting', 'whatif', 'inference'];

export type OverlapMetric = 'jaccard' | 'hamming';
export type ExportFormat = 'png' | 'csv';

// ---------------------------------------------------------------- host -> webview

export interface StateMessage {
  type: 'state';
  stats: ProjectStats;
  /** TF.js backend name the host trains with, shown in the header. */
  backend?: string;
}
export interface TrainEventMessage {
  type: 'trainEvent';
  event: TrainEvent;
}
export interface ShowMessage {
  type: 'show';
  view: ViewId;
}
/** Reply to an 'export' request so the webview can tell the user where the file went. */
export interface ExportResultMessage {
  type: 'exportResult';
  file: string;
  ok: boolean;
  message?: string;
}
/** What an 'analyze' request computed; `id` is the request's, so the webview can drop stale replies. */
export interface AnalysisResultMessage {
  type: 'analysisResult';
  id: number;
  result: AnalysisResult;
}
/** The engine's one-line message (e.g. missing scores.bin), shown as is. */
export interface AnalysisErrorMessage {
  type: 'analysisError';
  id: number;
  kind: AnalysisKind;
  message: string;
}
export type HostToWebview = StateMessage | TrainEventMessage | ShowMessage | ExportResultMessage | AnalysisResultMessage | AnalysisErrorMessage;

// ---------------------------------------------------------------- analyses (issue #10)

/** Filter-level drill-down of one layer: computed by the host from the stored masks. */
export interface FiltersRequest {
  kind: 'filters';
  layer: string;
  diff?: [string, string];
  positionsOf?: string;
}
/** Every task re-evaluated from its stored files (engine.forgettingMatrix, in the worker). */
export interface ForgettingRequest {
  kind: 'forgetting';
}
/** Threshold what-if: the task's stored scores re-binarised at each threshold (engine.rethresholdTask, in the worker). */
export interface WhatIfRequest {
  kind: 'rethreshold';
  task: string;
  thresholds: number[];
}
/** At most this many thresholds per request (a sweep). */
export const MAX_WHATIF_THRESHOLDS = 32;
/** Linear CKA per masked layer between two tasks' networks (engine.taskSimilarity, in the worker). */
export interface SimilarityAnalysisRequest {
  kind: 'similarity';
  taskA: string;
  taskB: string;
}
/** Which task's network is most confident on each task's test images (engine.inferTasks, in the worker). */
export interface InferenceRequest {
  kind: 'inference';
}
export type AnalysisRequest = FiltersRequest | ForgettingRequest | WhatIfRequest | SimilarityAnalysisRequest | InferenceRequest;
export type AnalysisKind = AnalysisRequest['kind'];
export type AnalysisResult =
  | { kind: 'filters'; report: LayerFilterReport }
  | { kind: 'forgetting'; matrix: ForgettingMatrixResult }
  | { kind: 'rethreshold'; result: RethresholdResult }
  | { kind: 'similarity'; result: SimilarityResult }
  | { kind: 'inference'; result: TaskInferenceResult };

// ---------------------------------------------------------------- webview -> host

export interface ReadyMessage {
  type: 'ready';
}
export interface ExportMessage {
  type: 'export';
  /** Suggested file name only; the host decides the final path (save dialog). */
  file: string;
  format: ExportFormat;
  /** base64 PNG bytes (no data: prefix) for png, CSV text for csv. */
  data: string;
}
export interface OpenTaskMessage {
  type: 'openTask';
  task: string;
}
export interface ErrorMessage {
  type: 'error';
  message: string;
}
/** Asks the host for an analysis; answered by an analysisResult or analysisError with the same id. */
export interface AnalyzeMessage {
  type: 'analyze';
  id: number;
  request: AnalysisRequest;
}
/** "Save as task…": the host asks for a name and runs the Re-threshold command's save path (the original task is never altered). */
export interface SaveThresholdMessage {
  type: 'saveThreshold';
  task: string;
  threshold: number;
}
export type WebviewToHost = ReadyMessage | ExportMessage | OpenTaskMessage | ErrorMessage | AnalyzeMessage | SaveThresholdMessage;

// ---------------------------------------------------------------- persisted state

/** What the webview stores with vscode.setState; the host's WebviewPanelSerializer gets it back. */
export interface WebviewState {
  version: 1;
  view: ViewId;
  stats?: ProjectStats;
  backend?: string;
  heatmapTable: boolean;
  overlapMetric: OverlapMetric;
  /** -1 = overall, otherwise an index into stats.layers. */
  overlapLayer: number;
  /** Colour slot of each task of project `dir` (webview/palette.ts), so colours survive reloads. */
  taskSlots?: { dir: string; slots: Record<string, number> };
  /** Curves: tasks the user switched off, and the run filter text. */
  hiddenRuns: string[];
  runFilter: string;
  /** Loss chart: EMA smoothing weight in [0, 0.99] (TensorBoard's), and log scale. */
  smoothing: number;
  lossLog: boolean;
  /** Loss chart x-axis: training step, epoch (step / steps per epoch, aligned with the accuracy chart), or wall time in seconds. */
  lossX: 'step' | 'epoch' | 'time';
  /** Jaccard colours over 0..1, or over the off-diagonal data range (close overlaps told apart). */
  overlapScale: 'fixed' | 'data';
  /** Heatmap for big networks: cell size, which layer kinds, and column order. */
  heatmapZoom: 'auto' | 'compact' | 'values';
  heatmapKind: 'all' | 'conv2d' | 'depthwise' | 'dense';
  heatmapSort: 'network' | 'sparsity';
  /** Mask dynamics: the task whose per-epoch flips are shown (undefined: the first with per-layer history). */
  dynamicsTask?: string;
  /** Threshold what-if: the task the slider works on. */
  whatIfTask?: string;
}

export const DEFAULT_WEBVIEW_STATE: WebviewState = {
  version: 1,
  view: 'heatmap',
  heatmapTable: false,
  overlapMetric: 'jaccard',
  overlapLayer: -1,
  hiddenRuns: [],
  runFilter: '',
  smoothing: 0.6,
  lossLog: false,
  lossX: 'step',
  overlapScale: 'fixed',
  heatmapZoom: 'auto',
  heatmapKind: 'all',
  heatmapSort: 'network',
};

// ---------------------------------------------------------------- validation helpers

type Obj = Record<string, unknown>;
const isObj = (x: unknown): x is Obj => typeof x === 'object' && x !== null && !Array.isArray(x);
const isStr = (x: unknown): x is string => typeof x === 'string';
const isNum = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);
const isInt = (x: unknown): x is number => Number.isInteger(x);
const isBool = (x: unknown): x is boolean => typeof x === 'boolean';
const isNumOrNull = (x: unknown): x is number | null => x === null || isNum(x);
const isArrOf = <T>(x: unknown, f: (v: unknown) => v is T): x is T[] => Array.isArray(x) && x.every(f);
const isNumArr = (x: unknown): x is number[] => isArrOf(x, isNum);
const isStrArr = (x: unknown): x is string[] => isArrOf(x, isStr);
const oneOf = <T extends string>(vals: readonly T[]) => (x: unknown): x is T => isStr(x) && (vals as readonly string[]).includes(x);

const isView = oneOf(VIEW_IDS);
const isMaskKind = oneOf(['binary', 'ternary'] as const);
const isBnMode = oneOf(['frozen', 'trainable'] as const);
const isLayerKind = oneOf(['conv2d', 'depthwise', 'dense'] as const);
const isMethod = oneOf(['piggyback', 'classifier', 'finetune'] as const);
const isTaskState = oneOf(['trained', 'training', 'failed'] as const);
const isFormat = oneOf(['png', 'csv'] as const);
const isMetric = oneOf(['jaccard', 'hamming'] as const);

function isEpochMetricsFields(o: Obj): boolean {
  return (
    isInt(o.epoch) &&
    isNum(o.trainAccuracy) &&
    isNum(o.trainLoss) &&
    isNumOrNull(o.valAccuracy) &&
    isNumArr(o.layerSparsity) &&
    isNum(o.bitsFlipped) &&
    // Absent in history saved before per-layer flips were recorded (the dynamics view says so).
    (o.layerBitsFlipped === undefined || isNumArr(o.layerBitsFlipped)) &&
    isNum(o.seconds)
  );
}
const isEpochMetrics = (x: unknown): x is EpochMetrics => isObj(x) && isEpochMetricsFields(x);

const isLayer = (x: unknown): x is MaskedLayerInfo =>
  isObj(x) && isStr(x.name) && isLayerKind(x.kind) && isArrOf(x.shape, isInt) && isInt(x.size) && x.size >= 0;

const isOptions = (x: unknown): x is TrainOptions =>
  isObj(x) &&
  isInt(x.epochs) &&
  isInt(x.batchSize) &&
  isNum(x.lrMask) &&
  isNum(x.lrHead) &&
  isNum(x.lrDecayEvery) &&
  isNum(x.lrDecayFactor) &&
  isMaskKind(x.maskKind) &&
  isBnMode(x.bnMode) &&
  isNum(x.threshold) &&
  isNum(x.maskScale) &&
  isNum(x.seed);

/** Optional in messages: states persisted by older versions have no loss series. */
const isStepLossOpt = (x: unknown): boolean =>
  x === undefined || x === null ||
  (isObj(x) && isInt(x.stride) && x.stride >= 1 && isArrOf(x.step, isInt) && isNumArr(x.loss) && (x.step as number[]).length === (x.loss as number[]).length);

const isBaseline = (x: unknown): x is BaselineResult =>
  isObj(x) &&
  (x.method === 'classifier' || x.method === 'finetune') &&
  isNum(x.testAccuracy) &&
  isNum(x.trainSeconds) &&
  isArrOf(x.history, isEpochMetrics) &&
  isNum(x.bytesIfStored) &&
  (x.stepLoss === undefined || (x.stepLoss !== null && isStepLossOpt(x.stepLoss)));

const isTask = (x: unknown): x is TaskStats =>
  isObj(x) &&
  isStr(x.name) &&
  isStr(x.dataset) &&
  isStrArr(x.classNames) &&
  isMaskKind(x.maskKind) &&
  isBnMode(x.bnMode) &&
  isNumOrNull(x.testAccuracy) &&
  isNumArr(x.layerSparsity) &&
  isNumOrNull(x.sparsity) &&
  isNumOrNull(x.bytes) &&
  isNumOrNull(x.bitsPerMaskedWeight) &&
  isNumOrNull(x.rawBitsPerMaskedWeight) &&
  isTaskState(x.state) &&
  (x.damage === null || isStr(x.damage)) &&
  isArrOf(x.history, isEpochMetrics) &&
  isStepLossOpt(x.stepLoss) &&
  (x.dataLimits === undefined || x.dataLimits === null || (isObj(x.dataLimits) && isNum(x.dataLimits.valFraction))) &&
  (x.trainImages === undefined || x.trainImages === null || isInt(x.trainImages)) &&
  (x.layerNegated === undefined || x.layerNegated === null || isNumArr(x.layerNegated)) &&
  (x.confusion === undefined || x.confusion === null || (isArrOf(x.confusion, isNumArr) && x.confusion.length === (x.classNames as unknown[] | undefined)?.length)) &&
  isArrOf(x.baselines, isBaseline) &&
  isOptions(x.options);

/** Square n x n matrix of numbers or null (unknown: a damaged task): the views index [i][j] for every task pair. */
const isSquare = (x: unknown, n: number): x is Array<Array<number | null>> =>
  Array.isArray(x) && x.length === n && x.every((row) => isArrOf(row, isNumOrNull) && row.length === n);

const isOverlap = (x: unknown, n: number): x is OverlapMatrices =>
  isObj(x) && isSquare(x.jaccard, n) && isSquare(x.hamming, n);

/** Full structural check, including the cross-field sizes the views rely on. */
export function isProjectStats(x: unknown): x is ProjectStats {
  if (!isObj(x) || !isStr(x.dir) || !isNum(x.threshold)) return false;
  const b = x.backbone;
  if (
    !isObj(b) ||
    !isStr(b.modelPath) ||
    !(b.alias === null || isStr(b.alias)) ||
    typeof b.missing !== 'boolean' ||
    !isStr(b.sha256) ||
    !(b.cutAt === null || isStr(b.cutAt)) ||
    !isArrOf(b.inputShape, isInt) ||
    !isNum(b.totalParams) ||
    !isNum(b.maskedParams)
  )
    return false;
  if (!isArrOf(x.layers, isLayer) || !isArrOf(x.tasks, isTask)) return false;
  const nl = x.layers.length;
  const nt = x.tasks.length;
  // A damaged task has no per-layer numbers (empty); a readable one has one per layer.
  if (!x.tasks.every((t) => t.layerSparsity.length === nl || (t.state === 'failed' && t.layerSparsity.length === 0))) return false;
  const ov = x.overlap;
  if (!isObj(ov) || !isOverlap(ov.overall, nt)) return false;
  if (!Array.isArray(ov.perLayer) || ov.perLayer.length !== nl) return false;
  return ov.perLayer.every((m) => isOverlap(m, nt));
}

export function isTrainEvent(x: unknown): x is TrainEvent {
  if (!isObj(x) || !isStr(x.task)) return false;
  switch (x.type) {
    case 'start':
      return (
        isMethod(x.method) &&
        isStr(x.backend) &&
        isInt(x.epochs) &&
        isInt(x.stepsPerEpoch) &&
        isStrArr(x.layers)
      );
    case 'step':
      return isInt(x.epoch) && isInt(x.step) && isInt(x.stepsPerEpoch) && isNum(x.loss);
    case 'epoch':
      return isEpochMetricsFields(x);
    case 'done':
      return isNum(x.testAccuracy) && isNum(x.seconds);
    case 'cancelled':
      return true;
    case 'error':
      return isStr(x.message);
    default:
      return false;
  }
}

// ---------------------------------------------------------------- analysis validators

const ANALYSIS_KINDS: readonly AnalysisKind[] = ['filters', 'forgetting', 'rethreshold', 'similarity', 'inference'];
const isAnalysisKind = oneOf(ANALYSIS_KINDS);
const isName = (x: unknown): x is string => isStr(x) && x.length > 0 && x.length <= 200;
const isCount = (x: unknown): x is number => isInt(x) && x >= 0;
const isCounts = (x: unknown, n: number): x is number[] => isArrOf(x, isCount) && x.length === n;

function parseAnalysisRequest(x: unknown): AnalysisRequest | undefined {
  if (!isObj(x)) return undefined;
  switch (x.kind) {
    case 'filters': {
      if (!isName(x.layer)) return undefined;
      if (x.diff !== undefined && !(isArrOf(x.diff, isName) && x.diff.length === 2)) return undefined;
      if (x.positionsOf !== undefined && !isName(x.positionsOf)) return undefined;
      return {
        kind: 'filters',
        layer: x.layer,
        ...(x.diff ? { diff: [x.diff[0], x.diff[1]] as [string, string] } : {}),
        ...(x.positionsOf !== undefined ? { positionsOf: x.positionsOf } : {}),
      };
    }
    case 'forgetting':
      return { kind: 'forgetting' };
    case 'rethreshold':
      if (!isName(x.task) || !isArrOf(x.thresholds, isThreshold) || x.thresholds.length < 1 || x.thresholds.length > MAX_WHATIF_THRESHOLDS) return undefined;
      return { kind: 'rethreshold', task: x.task, thresholds: x.thresholds.slice() };
    case 'similarity':
      return isName(x.taskA) && isName(x.taskB) ? { kind: 'similarity', taskA: x.taskA, taskB: x.taskB } : undefined;
    case 'inference':
      return { kind: 'inference' };
    default:
      return undefined;
  }
}

/** Every per-filter array has one entry per filter, every count fits in a filter. */
export function isLayerFilterReport(x: unknown): x is LayerFilterReport {
  if (!isObj(x) || !isLayer(x.layer) || !isCount(x.filters) || !isNum(x.weightsPerFilter)) return false;
  const F = x.filters;
  if (!(x.kernel === null || (isArrOf(x.kernel, isInt) && x.kernel.length === 2))) return false;
  const isColumn = (c: unknown): c is unknown => isObj(c) && isName(c.task) && isCounts(c.kept, F) && isNumArr(c.fraction) && c.fraction.length === F && isArrOf(c.dead, isCount);
  if (!isArrOf(x.tasks, isColumn) || !isArrOf(x.skipped, (v): v is unknown => isObj(v) && isStr(v.task) && isStr(v.reason))) return false;
  const d = x.diff;
  if (d !== undefined && !(isObj(d) && isName(d.a) && isName(d.b) && isCounts(d.both, F) && isCounts(d.aOnly, F) && isCounts(d.bOnly, F) && isCounts(d.neither, F))) return false;
  const p = x.positions;
  const k = x.kernel as [number, number] | null;
  if (p !== undefined) {
    if (!k || !isObj(p) || !isName(p.task) || !isCount(p.perPosition)) return false;
    if (!(Array.isArray(p.kept) && p.kept.length === F && p.kept.every((row) => isCounts(row, k[0] * k[1])))) return false;
  }
  return true;
}

const isThreshold = (x: unknown): x is number => isNum(x) && x >= 0;

const isWhatIfPoint = (x: unknown): x is unknown =>
  isObj(x) && isNum(x.threshold) && isNumArr(x.layerSparsity) && isNum(x.sparsity) && isNum(x.bitsPerMaskedWeight) && isNum(x.probeAccuracy);

export function isRethresholdResult(x: unknown): x is RethresholdResult {
  return (
    isObj(x) && isName(x.task) && isNum(x.trainedThreshold) &&
    isObj(x.probe) && (x.probe.split === 'val' || x.probe.split === 'test') && isCount(x.probe.count) &&
    isNum(x.scoresBytes) && isArrOf(x.points, isWhatIfPoint) && (x.savedAs === null || isStr(x.savedAs))
  );
}

export function isSimilarityResult(x: unknown): x is SimilarityResult {
  return (
    isObj(x) && isName(x.taskA) && isName(x.taskB) &&
    isObj(x.probe) && isStr(x.probe.task) && (x.probe.split === 'val' || x.probe.split === 'test') && isCount(x.probe.count) &&
    isArrOf(x.layers, (l): l is unknown => isObj(l) && isStr(l.name) && isNum(l.cka) && isNumOrNull(l.jaccard)) &&
    isNum(x.seconds)
  );
}

/** Square counts over the tasks, one image count per task. */
export function isInferenceResult(x: unknown): x is TaskInferenceResult {
  if (!isObj(x) || !isArrOf(x.tasks, isStr)) return false;
  const T = x.tasks.length;
  return Array.isArray(x.confusion) && x.confusion.length === T && x.confusion.every((r) => isCounts(r, T)) && isNum(x.accuracy) && isCounts(x.imagesPerTask, T);
}

const isNumOrNullArr = (x: unknown, n: number): x is Array<number | null> => isArrOf(x, isNumOrNull) && x.length === n;

/** Square over the tasks, and every per-task list as long as the task list. */
export function isForgettingMatrix(x: unknown): x is ForgettingMatrixResult {
  if (!isObj(x) || !isArrOf(x.tasks, isStr)) return false;
  const T = x.tasks.length;
  return (
    isSquare(x.accuracy, T) &&
    isNumOrNullArr(x.trainedAccuracy, T) &&
    isNumOrNullArr(x.reevaluated, T) &&
    isNumOrNullArr(x.forgetting, T) &&
    isNumOrNull(x.bwt) &&
    isNumOrNull(x.meanForgetting) &&
    isArrOf(x.baselines, (b): b is unknown => isObj(b) && isNumOrNull(b.classifier) && isNumOrNull(b.finetune)) &&
    x.baselines.length === T &&
    isArrOf(x.damaged, (d): d is unknown => isObj(d) && isStr(d.task) && isStr(d.reason)) &&
    isBool(x.zeroForgetting) &&
    isStr(x.backend)
  );
}

function parseAnalysisResult(x: unknown): AnalysisResult | undefined {
  if (!isObj(x)) return undefined;
  switch (x.kind) {
    case 'filters':
      return isLayerFilterReport(x.report) ? { kind: 'filters', report: x.report } : undefined;
    case 'forgetting':
      return isForgettingMatrix(x.matrix) ? { kind: 'forgetting', matrix: x.matrix } : undefined;
    case 'rethreshold':
      return isRethresholdResult(x.result) ? { kind: 'rethreshold', result: x.result } : undefined;
    case 'similarity':
      return isSimilarityResult(x.result) ? { kind: 'similarity', result: x.result } : undefined;
    case 'inference':
      return isInferenceResult(x.result) ? { kind: 'inference', result: x.result } : undefined;
    default:
      return undefined;
  }
}

// ---------------------------------------------------------------- parsers

export function parseHostMessage(x: unknown): HostToWebview | undefined {
  if (!isObj(x)) return undefined;
  switch (x.type) {
    case 'state':
      if (!isProjectStats(x.stats)) return undefined;
      if (x.backend !== undefined && !isStr(x.backend)) return undefined;
      return x.backend === undefined
        ? { type: 'state', stats: x.stats }
        : { type: 'state', stats: x.stats, backend: x.backend };
    case 'trainEvent':
      return isTrainEvent(x.event) ? { type: 'trainEvent', event: x.event } : undefined;
    case 'show':
      return isView(x.view) ? { type: 'show', view: x.view } : undefined;
    case 'exportResult':
      if (!isStr(x.file) || !isBool(x.ok)) return undefined;
      if (x.message !== undefined && !isStr(x.message)) return undefined;
      return { type: 'exportResult', file: x.file, ok: x.ok, ...(isStr(x.message) ? { message: x.message } : {}) };
    case 'analysisResult': {
      const result = parseAnalysisResult(x.result);
      return isInt(x.id) && result ? { type: 'analysisResult', id: x.id, result } : undefined;
    }
    case 'analysisError':
      return isInt(x.id) && isAnalysisKind(x.kind) && isStr(x.message) ? { type: 'analysisError', id: x.id, kind: x.kind, message: x.message.slice(0, 2000) } : undefined;
    default:
      return undefined;
  }
}

/** Upper bound on export payloads so a buggy/hostile webview cannot make the host buffer gigabytes. */
export const MAX_EXPORT_CHARS = 64 * 1024 * 1024;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** A suggested file name: no path separators, no parent refs, sane length. */
export function isSafeFileName(name: string): boolean {
  return name.length > 0 && name.length <= 200 && !/[\\/:*?"<>|\u0000-\u001f]/.test(name) && name !== '.' && name !== '..';
}

export function parseWebviewMessage(x: unknown): WebviewToHost | undefined {
  if (!isObj(x)) return undefined;
  switch (x.type) {
    case 'ready':
      return { type: 'ready' };
    case 'export': {
      if (!isStr(x.file) || !isSafeFileName(x.file) || !isFormat(x.format) || !isStr(x.data)) return undefined;
      if (x.data.length > MAX_EXPORT_CHARS) return undefined;
      if (x.format === 'png' && (x.data.length % 4 !== 0 || !BASE64.test(x.data) || !x.data.startsWith('iVBOR'))) return undefined;
      if (!x.file.toLowerCase().endsWith(`.${x.format}`)) return undefined;
      return { type: 'export', file: x.file, format: x.format, data: x.data };
    }
    case 'openTask':
      return isStr(x.task) && x.task.length > 0 ? { type: 'openTask', task: x.task } : undefined;
    case 'error':
      return isStr(x.message) ? { type: 'error', message: x.message.slice(0, 10_000) } : undefined;
    case 'analyze': {
      const request = parseAnalysisRequest(x.request);
      return isInt(x.id) && request ? { type: 'analyze', id: x.id, request } : undefined;
    }
    case 'saveThreshold':
      return isName(x.task) && isThreshold(x.threshold) ? { type: 'saveThreshold', task: x.task, threshold: x.threshold } : undefined;
    default:
      return undefined;
  }
}

/** Restores persisted state, falling back field by field so an old/corrupt state never breaks the view. */
export function parseWebviewState(x: unknown): WebviewState {
  const s: WebviewState = { ...DEFAULT_WEBVIEW_STATE, hiddenRuns: [] };
  if (!isObj(x)) return s;
  if (isView(x.view)) s.view = x.view;
  if (isProjectStats(x.stats)) s.stats = x.stats;
  if (isStr(x.backend)) s.backend = x.backend;
  if (isBool(x.heatmapTable)) s.heatmapTable = x.heatmapTable;
  if (isMetric(x.overlapMetric)) s.overlapMetric = x.overlapMetric;
  const ts = x.taskSlots;
  if (isObj(ts) && isStr(ts.dir) && isObj(ts.slots) && Object.values(ts.slots).every((v) => isInt(v) && v >= 0))
    s.taskSlots = { dir: ts.dir, slots: ts.slots as Record<string, number> };
  if (isStrArr(x.hiddenRuns)) s.hiddenRuns = x.hiddenRuns.slice(0, 1000);
  if (isStr(x.runFilter)) s.runFilter = x.runFilter.slice(0, 200);
  if (isNum(x.smoothing) && x.smoothing >= 0 && x.smoothing <= 0.99) s.smoothing = x.smoothing;
  if (isBool(x.lossLog)) s.lossLog = x.lossLog;
  if (x.lossX === 'step' || x.lossX === 'epoch' || x.lossX === 'time') s.lossX = x.lossX;
  if (x.overlapScale === 'fixed' || x.overlapScale === 'data') s.overlapScale = x.overlapScale;
  if (x.heatmapZoom === 'auto' || x.heatmapZoom === 'compact' || x.heatmapZoom === 'values') s.heatmapZoom = x.heatmapZoom;
  if (x.heatmapKind === 'all' || isLayerKind(x.heatmapKind)) s.heatmapKind = x.heatmapKind;
  if (x.heatmapSort === 'network' || x.heatmapSort === 'sparsity') s.heatmapSort = x.heatmapSort;
  if (isStr(x.dynamicsTask)) s.dynamicsTask = x.dynamicsTask.slice(0, 200);
  if (isStr(x.whatIfTask)) s.whatIfTask = x.whatIfTask.slice(0, 200);
  if (isInt(x.overlapLayer) && x.overlapLayer >= -1 && (s.stats === undefined || x.overlapLayer < s.stats.layers.length))
    s.overlapLayer = x.overlapLayer;
  return s;
}
