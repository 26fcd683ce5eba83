/**
 * `tasks/<name>/task.json`: what a task is (dataset, classes, options, data limits), how it
 * did (history, evaluation, baselines) and the size + sha256 of each binary beside it.
 * Parsing validates every field the engine relies on, so a damaged file fails with one line.
 */
import type { BaselineResult, DataLimits, EpochMetrics, EvalResult, StepLossSeries, TrainOptions } from '../types';
import { isStepLossSeries } from '../train/stepLoss';
import { PiggybackError } from '../errors';

export const TASK_FILE = 'task.json';
export const MASK_FILE = 'mask.bin';
export const HEAD_FILE = 'head.bin';
export const BN_FILE = 'bn.bin';
export const SCORES_FILE = 'scores.bin';

/** Size and checksum of one binary file of a task. */
export interface TaskFileInfo {
  file: string;
  bytes: number;
  sha256: string;
}

/** Contents of `tasks/<name>/task.json`. The mask kind and BN mode live in `options`. */
export interface TaskMeta {
  format: 'piggyback-task';
  version: 1;
  name: string;
  dataset: string;
  classNames: string[];
  options: TrainOptions;
  dataLimits?: DataLimits;
  testAccuracy: number | null;
  evaluation: EvalResult | null;
  history: EpochMetrics[];
  /** Per-step training loss (bounded); absent in files written before it was recorded. */
  stepLoss?: StepLossSeries;
  /** Training images after caps and the validation hold-out (absent in older files). */
  trainImages?: number;
  baselines: BaselineResult[];
  /** Fraction of entries switched off per masked layer (manifest order), and overall. */
  layerSparsity: number[];
  sparsity: number;
  trainSeconds: number;
  createdAt: string;
  head: { shape: [number, number] };
  bn: Array<{ layer: string; length: number }> | null;
  /** scores: the quantised real-valued scores (scoresFile.ts), absent for tasks trained before they were kept or with storage off. */
  files: { mask: TaskFileInfo; head: TaskFileInfo; bn: TaskFileInfo | null; scores?: TaskFileInfo | null };
  /** Set on a task saved by re-thresholding another: that task and the threshold used. */
  derivedFrom?: { task: string; threshold: number };
}

function bad(file: string, what: string): never {
  throw new PiggybackError('BAD_PROJECT', `${file} is not a valid task file: ${what}`, 'retrain the task, or delete it and train it again');
}

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

function fileInfoOk(v: unknown): v is TaskFileInfo {
  const r = v as TaskFileInfo;
  return typeof r === 'object' && r !== null && typeof r.file === 'string' && /^[a-z]+\.bin$/.test(r.file) &&
    Number.isInteger(r.bytes) && r.bytes >= 0 && typeof r.sha256 === 'string';
}

/** The problem with a stored TrainOptions object, or null when every field the engine reads is sound. */
function optionsProblem(o: unknown): string | null {
  if (typeof o !== 'object' || o === null) return 'options missing';
  const r = o as Record<string, unknown>;
  for (const k of ['epochs', 'batchSize', 'lrMask', 'lrHead', 'lrDecayEvery', 'lrDecayFactor', 'threshold', 'maskScale', 'seed']) {
    if (!isNum(r[k])) return `options.${k} is ${JSON.stringify(r[k])}, not a number`;
  }
  if (r.maskKind !== 'binary' && r.maskKind !== 'ternary') return `options.maskKind is ${JSON.stringify(r.maskKind)}`;
  if (r.bnMode !== 'frozen' && r.bnMode !== 'trainable') return `options.bnMode is ${JSON.stringify(r.bnMode)}`;
  if (r.augment === undefined) r.augment = 'none'; // tasks trained before the option existed
  if (r.augment !== 'none' && r.augment !== 'crop-flip') return `options.augment is ${JSON.stringify(r.augment)}`;
  return null;
}

/**
 * Parses task.json text for task `name`; BAD_PROJECT naming `file` on any problem.
 * Files written before options held the mask kind and BN mode kept them at top level.
 */
export function parseTaskMeta(text: string, file: string, name: string): TaskMeta {
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch (e) {
    bad(file, `invalid JSON (${(e as Error).message})`);
  }
  if (typeof j !== 'object' || j === null || Array.isArray(j)) bad(file, 'not a JSON object');
  const m = j as TaskMeta & { maskKind?: unknown; bnMode?: unknown };
  if (m.format !== 'piggyback-task' || m.version !== 1) bad(file, `format/version ${JSON.stringify(m.format)}/${JSON.stringify(m.version)}, expected "piggyback-task"/1`);
  if (m.name !== name) bad(file, `names task ${JSON.stringify(m.name)}, expected '${name}'`);
  if (typeof m.dataset !== 'string') bad(file, 'dataset missing');
  if (typeof m.options === 'object' && m.options !== null) {
    const o = m.options as Partial<TrainOptions>;
    if (o.maskKind === undefined && m.maskKind !== undefined) o.maskKind = m.maskKind as TrainOptions['maskKind'];
    if (o.bnMode === undefined && m.bnMode !== undefined) o.bnMode = m.bnMode as TrainOptions['bnMode'];
  }
  const op = optionsProblem(m.options);
  if (op) bad(file, op);
  delete m.maskKind;
  delete m.bnMode;
  if (!Array.isArray(m.head?.shape) || m.head.shape.length !== 2 || !m.head.shape.every((d) => Number.isInteger(d) && d > 0)) {
    bad(file, 'head.shape is not [in, out]');
  }
  if (!Array.isArray(m.classNames) || !m.classNames.every((c) => typeof c === 'string')) bad(file, 'classNames is not a list of names');
  if (m.classNames.length !== m.head.shape[1]) bad(file, `classNames lists ${m.classNames.length} classes but the head has ${m.head.shape[1]} outputs`);
  if (!m.files || !fileInfoOk(m.files.mask) || !fileInfoOk(m.files.head) || (m.files.bn !== null && !fileInfoOk(m.files.bn))) {
    bad(file, 'files (sizes and checksums of the binaries) missing');
  }
  if (m.bn !== null && (!Array.isArray(m.bn) || !m.bn.every((b) => typeof b?.layer === 'string' && Number.isInteger(b.length) && b.length >= 0))) {
    bad(file, 'bn is not a list of {layer, length}');
  }
  if ((m.bn === null) !== (m.files.bn === null)) bad(file, 'bn and files.bn disagree');
  if (m.files.scores !== undefined && m.files.scores !== null && !fileInfoOk(m.files.scores)) bad(file, 'files.scores is not {file, bytes, sha256}');
  if (m.testAccuracy !== null && !isNum(m.testAccuracy)) m.testAccuracy = null;
  if (!Array.isArray(m.history)) m.history = [];
  if (!Array.isArray(m.baselines)) m.baselines = [];
  // Loss series are for drawing only: an unsound one is dropped, never fatal.
  if (m.stepLoss !== undefined && !isStepLossSeries(m.stepLoss)) delete m.stepLoss;
  if (m.trainImages !== undefined && !(Number.isInteger(m.trainImages) && m.trainImages > 0)) delete m.trainImages;
  for (const b of m.baselines) if (b && typeof b === 'object' && b.stepLoss !== undefined && !isStepLossSeries(b.stepLoss)) delete b.stepLoss;
  if (!Array.isArray(m.layerSparsity)) m.layerSparsity = [];
  if (!isNum(m.trainSeconds)) m.trainSeconds = 0;
  if (typeof m.createdAt !== 'string') m.createdAt = '';
  return m;
}
