/**
 * A task's files: save (staged folder renamed into place, then listed in the manifest), load
 * (every header, size and checksum verified; heads and BN checked for finite values), add a
 * baseline, delete, and bytes on disk.
 *
 *   tasks/<name>/task.json  metadata, metrics, shapes, byte sizes + sha256 of the binaries
 *   tasks/<name>/mask.bin   the masks of every masked layer (maskFile.ts)
 *   tasks/<name>/head.bin   float32 head kernel [in, out] then bias [out]
 *   tasks/<name>/bn.bin     optional: per BN layer gamma, beta, movingMean, movingVariance
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { BaselineResult, BnValues, DataLimits, EpochMetrics, EvalResult, StepLossSeries, TrainOptions } from '../types';
import { PiggybackError } from '../errors';
import { withFsErrors } from '../fsErrors';
import { maskSparsity, type PackedMask } from './analytics';
import { SimulatedCrash, commitDirAtomic, makeStagingDir, removeDirAside, withLock, writeFileSynced, writeJsonAtomic } from './atomic';
import { floatsAt, leBytes, readAligned, sha256 } from './binaryIO';
import { MANIFEST_FILE, checkTaskName, readManifest } from './manifest';
import { badMask, decodeMaskFile, encodeMaskFile, maskFileBytes, packLayer, unpackLayer } from './maskFile';
import { openProject, shapeStr, short, taskDirOf, tasksDir, unknownTask, type ProjectHandle } from './projectDir';
import { BN_FILE, HEAD_FILE, MASK_FILE, SCORES_FILE, TASK_FILE, parseTaskMeta, type TaskFileInfo, type TaskMeta } from './taskMeta';
import { decodeScores, encodeScores } from './scoresFile';

/** Per-task BN parameters of one layer (bnMode 'trainable'), as stored. */
export type StoredBn = BnValues<Float32Array> & { layer: string };

/** Everything a trained task consists of, as saveTask takes it and loadTask returns it. */
export interface TaskArtifacts {
  name: string;
  dataset: string;
  classNames: string[];
  /** Training options, including the mask kind and BN mode. */
  options: TrainOptions;
  /** Data limits used for training (optional; stored in task.json). */
  dataLimits?: DataLimits;
  /** One per masked layer in manifest order: 0/1 (binary) or -1/0/+1 (ternary). */
  masks: Array<Uint8Array | Int8Array>;
  head: { kernel: Float32Array; shape: [number, number]; bias: Float32Array };
  bn?: StoredBn[];
  /** Real-valued scores per masked layer, kept as scores.bin (unless the project turned it off) for re-thresholding. */
  scores?: Float32Array[];
  /** A task made by re-thresholding another. */
  derivedFrom?: { task: string; threshold: number };
  history: EpochMetrics[];
  /** Per-step training loss, bounded (train/stepLoss.ts). */
  stepLoss?: StepLossSeries;
  /** Training images after caps and the validation hold-out. */
  trainImages?: number;
  /** NaN when unknown (stored as null). */
  testAccuracy: number;
  evaluation?: EvalResult;
  trainSeconds: number;
  baselines?: BaselineResult[];
  /** ISO time; saveTask fills in now when absent. */
  createdAt?: string;
}

const RETRAIN = 'retrain the task (or restore the file from a backup)';

function readTaskMetaOf(h: ProjectHandle, name: string): TaskMeta {
  if (!h.manifest.tasks.includes(name)) throw unknownTask(h, name);
  const file = path.join(taskDirOf(h, name), TASK_FILE);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    throw new PiggybackError('BAD_PROJECT', `task '${name}' is listed in ${MANIFEST_FILE} but ${file} is missing`,
      'delete the task and train it again');
  }
  return parseTaskMeta(text, file, name);
}

/** Reads and validates `tasks/<name>/task.json` (UNKNOWN_TASK if the manifest does not list it). */
export function readTaskMeta(dir: string, name: string): TaskMeta {
  return readTaskMetaOf(openProject(dir), name);
}

/** Reads a file of a task folder, refusing links (they could point anywhere). */
function readTaskFile(file: string): Uint8Array {
  if (fs.lstatSync(file).isSymbolicLink()) {
    throw new PiggybackError('BAD_PROJECT', `${file} is a symbolic link; refusing to read through it`, 'replace it by the file itself');
  }
  return readAligned(file);
}

/** Reads one binary of a task, checking its size (and sha256 when `verify`) against task.json. */
function readTaskBinary(h: ProjectHandle, name: string, info: TaskFileInfo, verify: boolean, code: 'BAD_MASK_FILE' | 'BAD_PROJECT'): Uint8Array {
  const file = path.join(taskDirOf(h, name), info.file);
  let buf: Uint8Array;
  try {
    buf = readTaskFile(file);
  } catch (e) {
    if (e instanceof PiggybackError) throw e;
    throw new PiggybackError(code, `${file} is missing (task.json expects ${info.bytes} bytes)`, RETRAIN);
  }
  if (buf.byteLength !== info.bytes) {
    throw new PiggybackError(code,
      `${file} is ${buf.byteLength < info.bytes ? 'truncated' : 'the wrong size'}: task.json expects ${info.bytes} bytes, found ${buf.byteLength}`, RETRAIN);
  }
  if (verify) {
    const got = sha256([buf]);
    if (got !== info.sha256) {
      throw new PiggybackError(code, `${file} is corrupt: sha256 ${short(got)}.. does not match ${short(info.sha256)}.. recorded in task.json`, RETRAIN);
    }
  }
  return buf;
}

function loadPackedOf(h: ProjectHandle, meta: TaskMeta, verify: boolean): PackedMask[] {
  const file = path.join(taskDirOf(h, meta.name), MASK_FILE);
  let buf: Uint8Array;
  try {
    buf = readTaskFile(file);
  } catch (e) {
    if (e instanceof PiggybackError) throw e;
    throw new PiggybackError('BAD_MASK_FILE', `mask file ${file} is missing (task.json expects ${meta.files.mask.bytes} bytes)`, RETRAIN);
  }
  // Header and per-layer lengths first: they say more than a size or checksum mismatch.
  const packed = decodeMaskFile(buf, file, h.manifest.layers, meta.options.maskKind);
  if (buf.byteLength !== meta.files.mask.bytes) badMask(file, `${buf.byteLength} bytes but task.json expects ${meta.files.mask.bytes}`);
  if (verify) {
    const got = sha256([buf]);
    if (got !== meta.files.mask.sha256) badMask(file, `sha256 ${short(got)}.. does not match ${short(meta.files.mask.sha256)}.. recorded in task.json`);
  }
  return packed;
}

/** Packed masks of a task, per masked layer, without unpacking (for analytics). */
export function loadPackedMasks(dir: string, name: string, opts: { verifyChecksum?: boolean } = {}): PackedMask[] {
  const h = openProject(dir);
  return loadPackedOf(h, readTaskMetaOf(h, name), opts.verifyChecksum ?? false);
}

/** task.json of a listed task of an opened project. */
export const taskMetaOf = readTaskMetaOf;

/** The packed masks and bytes of a task, for the stats pass (every checksum verified when `verify`). */
export function loadTaskForStats(h: ProjectHandle, meta: TaskMeta, verify: boolean): { packed: PackedMask[]; bytes: TaskBytes } {
  const name = meta.name;
  const packed = loadPackedOf(h, meta, verify);
  if (verify) {
    readTaskBinary(h, name, meta.files.head, true, 'BAD_PROJECT');
    if (meta.files.bn) readTaskBinary(h, name, meta.files.bn, true, 'BAD_PROJECT');
  }
  return { packed, bytes: taskBytesOf(h, name, meta) };
}

/** BAD_PROJECT when a stored float is NaN or infinite: such a head trains and predicts nothing useful. */
function checkFinite(values: Float32Array, file: string, what: string): void {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) {
      throw new PiggybackError('BAD_PROJECT', `${file} holds ${values[i]} in ${what} at index ${i}`, RETRAIN);
    }
  }
}

/** Loads a task with unpacked masks, verifying every file's header, size and checksum, and that heads and BN are finite. */
export function loadTask(dir: string, name: string): TaskArtifacts {
  const h = openProject(dir);
  const meta = readTaskMetaOf(h, name);
  const tdir = taskDirOf(h, name);
  const packed = loadPackedOf(h, meta, true);
  const masks = packed.map((p) => unpackLayer(meta.options.maskKind, p));

  const [hin, hout] = meta.head.shape;
  const headFile = path.join(tdir, HEAD_FILE);
  const headBuf = readTaskBinary(h, name, meta.files.head, true, 'BAD_PROJECT');
  if (headBuf.byteLength !== (hin * hout + hout) * 4) {
    throw new PiggybackError('BAD_PROJECT', `${headFile} holds ${headBuf.byteLength} bytes but a [${hin},${hout}] head needs ${(hin * hout + hout) * 4}`, 'retrain the task');
  }
  const head = { kernel: floatsAt(headBuf, 0, hin * hout), shape: [hin, hout] as [number, number], bias: floatsAt(headBuf, hin * hout * 4, hout) };
  checkFinite(head.kernel, headFile, 'the head kernel');
  checkFinite(head.bias, headFile, 'the head bias');

  let bn: StoredBn[] | undefined;
  if (meta.bn && meta.files.bn) {
    const bnFile = path.join(tdir, BN_FILE);
    const bnBuf = readTaskBinary(h, name, meta.files.bn, true, 'BAD_PROJECT');
    const need = meta.bn.reduce((s, b) => s + 16 * b.length, 0);
    if (bnBuf.byteLength !== need) {
      throw new PiggybackError('BAD_PROJECT', `${bnFile} holds ${bnBuf.byteLength} bytes, task.json describes ${need}`, 'retrain the task');
    }
    let off = 0;
    bn = meta.bn.map((b) => {
      const take = (what: string) => {
        const a = floatsAt(bnBuf, off, b.length);
        off += b.length * 4;
        checkFinite(a, bnFile, `${b.layer} ${what}`);
        return a;
      };
      return { layer: b.layer, gamma: take('gamma'), beta: take('beta'), movingMean: take('movingMean'), movingVariance: take('movingVariance') };
    });
  }

  const art: TaskArtifacts = {
    name: meta.name,
    dataset: meta.dataset,
    classNames: meta.classNames,
    options: meta.options,
    masks,
    head,
    history: meta.history,
    testAccuracy: meta.testAccuracy ?? NaN,
    trainSeconds: meta.trainSeconds,
    baselines: meta.baselines,
    createdAt: meta.createdAt,
  };
  if (bn) art.bn = bn;
  if (meta.dataLimits) art.dataLimits = meta.dataLimits;
  if (meta.evaluation) art.evaluation = meta.evaluation;
  if (meta.stepLoss) art.stepLoss = meta.stepLoss;
  if (meta.trainImages) art.trainImages = meta.trainImages;
  return art;
}

function badArg(message: string, hint: string): never {
  throw new PiggybackError('BAD_ARGUMENT', message, hint);
}

function validateArtifacts(h: ProjectHandle, a: TaskArtifacts): void {
  const layers = h.manifest.layers;
  const kind = a.options.maskKind;
  if (kind !== 'binary' && kind !== 'ternary') badArg(`unknown mask kind ${JSON.stringify(kind)}`, "use 'binary' or 'ternary'");
  if (a.masks.length !== layers.length) {
    throw new PiggybackError('SHAPE_MISMATCH', `task '${a.name}' has ${a.masks.length} masks but the project has ${layers.length} masked layers`,
      'masks must follow the manifest layer order, one per masked layer');
  }
  for (let l = 0; l < layers.length; l++) {
    const m = a.masks[l];
    if (m.length !== layers[l].size) {
      throw new PiggybackError('SHAPE_MISMATCH', `mask for layer ${layers[l].name} has ${m.length} entries, expected ${layers[l].size} (${shapeStr(layers[l].shape)})`,
        'masks must follow the manifest layer order, one per masked layer');
    }
    const lo = kind === 'ternary' ? -1 : 0;
    for (let i = 0; i < m.length; i++) {
      const v = m[i];
      if (v > 1 || v < lo) {
        badArg(`mask for layer ${layers[l].name} holds ${v} at index ${i}; ${kind} masks hold ${kind === 'ternary' ? '-1/0/+1' : '0/1'}`, 'this is a bug in the trainer');
      }
    }
  }
  const [hin, hout] = a.head.shape;
  if (!Number.isInteger(hin) || !Number.isInteger(hout) || hin <= 0 || hout <= 0) badArg(`head shape ${shapeStr(a.head.shape)} is invalid`, 'head shape is [in, out]');
  if (a.head.kernel.length !== hin * hout) badArg(`head kernel has ${a.head.kernel.length} values, shape ${shapeStr(a.head.shape)} needs ${hin * hout}`, 'this is a bug in the trainer');
  if (a.head.bias.length !== hout) badArg(`head bias has ${a.head.bias.length} values, expected ${hout}`, 'this is a bug in the trainer');
  if (a.classNames.length !== hout) badArg(`task '${a.name}' names ${a.classNames.length} classes but its head has ${hout} outputs`, 'this is a bug in the trainer');
  for (const b of a.bn ?? []) {
    const n = b.gamma.length;
    if (b.beta.length !== n || b.movingMean.length !== n || b.movingVariance.length !== n) {
      badArg(`BN parameters of ${b.layer} have different lengths`, 'gamma, beta, movingMean and movingVariance must have one value per channel');
    }
  }
}

/**
 * Checks, before any long work, that task `name` could be saved into the project: a valid
 * name, no other task differing only by case, not existing unless `overwrite`, and a
 * writable tasks/ folder. Throws the same errors saveTask would throw at the end of a run.
 */
export function checkCanSaveTask(dir: string, name: string, opts: { overwrite?: boolean } = {}): void {
  checkTaskName(name);
  const h = openProject(dir);
  checkSaveName(h, name, opts.overwrite ?? false);
  const tdir = tasksDir(h.dir);
  withFsErrors(() => fs.rmSync(makeStagingDir(tdir, name), { recursive: true, force: true }), tdir); // IO_ERROR on a read-only or full disk
}

function checkSaveName(h: ProjectHandle, name: string, overwrite: boolean): void {
  if (h.manifest.tasks.includes(name) && !overwrite) {
    throw new PiggybackError('TASK_EXISTS', `task '${name}' already exists in ${h.dir}`, 'pass --overwrite to replace it, or choose another task name');
  }
  const clash = h.manifest.tasks.find((t) => t !== name && t.toLowerCase() === name.toLowerCase());
  if (clash) badArg(`task name '${name}' differs from existing task '${clash}' only by case`, 'choose a distinct name (folders are case-insensitive on some systems)');
}

/**
 * Saves a task atomically: its folder is staged and renamed into place, then the manifest
 * lists it. Refuses an existing task unless `overwrite` (TASK_EXISTS); on overwrite the
 * old task stays loadable until the new one is in place.
 */
export function saveTask(dir: string, artifacts: TaskArtifacts, opts: { overwrite?: boolean } = {}): TaskMeta {
  checkTaskName(artifacts.name);
  const abs = path.resolve(dir);
  readManifest(abs); // FILE_NOT_FOUND / BAD_PROJECT before taking the lock
  return withLock(abs, () => {
    const h = openProject(abs);
    const name = artifacts.name;
    const exists = h.manifest.tasks.includes(name);
    checkSaveName(h, name, opts.overwrite ?? false);
    validateArtifacts(h, artifacts);

    const kind = artifacts.options.maskKind;
    const packed: PackedMask[] = artifacts.masks.map((m) => packLayer(kind, m));
    const maskChunks = encodeMaskFile(kind, packed, { compress: { layers: h.manifest.layers } });
    const headChunks = [leBytes(artifacts.head.kernel), leBytes(artifacts.head.bias)];
    const bnChunks = artifacts.bn?.length
      ? artifacts.bn.flatMap((b) => [leBytes(b.gamma), leBytes(b.beta), leBytes(b.movingMean), leBytes(b.movingVariance)])
      : null;
    if (artifacts.scores && artifacts.scores.length !== h.manifest.layers.length) badArg(`task '${name}' has scores for ${artifacts.scores.length} layers, expected ${h.manifest.layers.length}`, 'this is a bug in the trainer');
    const scoresChunks = artifacts.scores && h.manifest.storeScores !== false ? [encodeScores(artifacts.scores, artifacts.options.threshold)] : null;
    const info = (file: string, chunks: Uint8Array[]): TaskFileInfo => ({ file, bytes: chunks.reduce((s, c) => s + c.byteLength, 0), sha256: sha256(chunks) });
    const sp = maskSparsity(packed);
    const meta: TaskMeta = {
      format: 'piggyback-task',
      version: 1,
      name,
      dataset: artifacts.dataset,
      classNames: [...artifacts.classNames],
      options: artifacts.options,
      ...(artifacts.dataLimits ? { dataLimits: { ...artifacts.dataLimits } } : {}),
      testAccuracy: Number.isFinite(artifacts.testAccuracy) ? artifacts.testAccuracy : null,
      evaluation: artifacts.evaluation ?? null,
      history: artifacts.history,
      ...(artifacts.stepLoss ? { stepLoss: artifacts.stepLoss } : {}),
      ...(artifacts.trainImages ? { trainImages: artifacts.trainImages } : {}),
      baselines: artifacts.baselines ?? [],
      layerSparsity: sp.layerSparsity,
      sparsity: sp.sparsity,
      trainSeconds: artifacts.trainSeconds,
      createdAt: artifacts.createdAt ?? new Date().toISOString(),
      head: { shape: [artifacts.head.shape[0], artifacts.head.shape[1]] },
      bn: bnChunks ? artifacts.bn!.map((b) => ({ layer: b.layer, length: b.gamma.length })) : null,
      files: {
        mask: info(MASK_FILE, maskChunks), head: info(HEAD_FILE, headChunks), bn: bnChunks ? info(BN_FILE, bnChunks) : null,
        scores: scoresChunks ? info(SCORES_FILE, scoresChunks) : null,
      },
      ...(artifacts.derivedFrom ? { derivedFrom: { ...artifacts.derivedFrom } } : {}),
    };

    const finalDir = taskDirOf(h, name);
    const staging = makeStagingDir(tasksDir(h.dir), name);
    try {
      writeFileSynced(path.join(staging, MASK_FILE), maskChunks);
      writeFileSynced(path.join(staging, HEAD_FILE), headChunks);
      if (bnChunks) writeFileSynced(path.join(staging, BN_FILE), bnChunks);
      if (scoresChunks) writeFileSynced(path.join(staging, SCORES_FILE), scoresChunks);
      writeFileSynced(path.join(staging, TASK_FILE), JSON.stringify(meta, null, 2) + '\n');
    } catch (e) {
      if (!(e instanceof SimulatedCrash)) fs.rmSync(staging, { recursive: true, force: true });
      throw e;
    }
    commitDirAtomic(staging, finalDir, true);
    if (!exists) writeJsonAtomic(path.join(h.dir, MANIFEST_FILE), { ...h.manifest, tasks: [...h.manifest.tasks, name] });
    return meta;
  });
}

/** Adds a baseline result to a task's task.json, replacing one of the same method. */
export function saveBaseline(dir: string, taskName: string, result: BaselineResult): void {
  const abs = path.resolve(dir);
  readManifest(abs);
  withLock(abs, () => {
    const h = openProject(abs);
    const meta = readTaskMetaOf(h, taskName);
    meta.baselines = [...meta.baselines.filter((b) => b.method !== result.method), result];
    writeJsonAtomic(path.join(taskDirOf(h, taskName), TASK_FILE), meta);
  });
}

/**
 * Deletes a task: its folder is renamed aside, the manifest stops listing it, then the
 * set-aside folder is removed. A crash before the manifest write puts the folder back on
 * the next open (the task is still listed); after it, the leftover is removed.
 */
export function deleteTask(dir: string, name: string): void {
  const abs = path.resolve(dir);
  readManifest(abs);
  withLock(abs, () => {
    const h = openProject(abs);
    if (!h.manifest.tasks.includes(name)) throw unknownTask(h, name);
    const folder = taskDirOf(h, name);
    const aside = fs.existsSync(folder) ? removeDirAside(folder) : null;
    writeJsonAtomic(path.join(h.dir, MANIFEST_FILE), { ...h.manifest, tasks: h.manifest.tasks.filter((t) => t !== name) });
    aside?.();
  });
}

/**
 * A task's stored scores (decoded) and the threshold they were quantised around.
 * FILE_NOT_FOUND when the task has none; BAD_MASK_FILE when scores.bin is damaged.
 */
export function loadTaskScores(dir: string, name: string): { tau: number; scores: Float32Array[]; bytes: number } {
  const h = openProject(dir);
  const meta = readTaskMetaOf(h, name);
  const info = meta.files.scores;
  if (!info) {
    throw new PiggybackError('FILE_NOT_FOUND', `scores were not stored for task '${name}' (trained before scores were kept, or storage is turned off for this project)`,
      'retrain the task to re-threshold it');
  }
  const buf = readTaskBinary(h, name, info, true, 'BAD_MASK_FILE');
  return { ...decodeScores(buf, path.join(taskDirOf(h, name), SCORES_FILE), h.manifest.layers), bytes: buf.byteLength };
}

export interface TaskBytes {
  bytes: number;
  maskBytes: number;
  /** scores.bin, counted in `bytes` too; null when the task has none. */
  scoresBytes: number | null;
  /** mask.bin as stored (compressed when that is smaller), in bits per masked weight. */
  bitsPerMaskedWeight: number;
  /** The same masks bit-packed without compression (1 bit per weight, 2 for ternary, plus header). */
  rawBitsPerMaskedWeight: number;
}

function taskBytesOf(h: ProjectHandle, name: string, meta: TaskMeta): TaskBytes {
  const tdir = taskDirOf(h, name);
  let bytes = 0;
  let maskBytes = 0;
  let entries: fs.Dirent[] = [];
  try {
    entries = fs.readdirSync(tdir, { withFileTypes: true });
  } catch {
    throw new PiggybackError('BAD_PROJECT', `task '${name}' is listed in ${MANIFEST_FILE} but ${tdir} is missing`, 'delete the task and train it again');
  }
  for (const f of entries) {
    if (!f.isFile()) continue;
    const size = fs.statSync(path.join(tdir, f.name)).size;
    bytes += size;
    if (f.name === MASK_FILE) maskBytes = size;
  }
  const mp = h.manifest.backbone.maskedParams;
  const rawBytes = maskFileBytes(meta.options.maskKind, h.manifest.layers);
  return { bytes, maskBytes, scoresBytes: meta.files.scores?.bytes ?? null, bitsPerMaskedWeight: mp > 0 ? (maskBytes * 8) / mp : 0, rawBitsPerMaskedWeight: mp > 0 ? (rawBytes * 8) / mp : 0 };
}

/** Bytes on disk of a task (all files), of its mask.bin, and mask bits per masked weight. */
export function taskBytes(dir: string, name: string): TaskBytes {
  const h = openProject(dir);
  return taskBytesOf(h, name, readTaskMetaOf(h, name));
}
