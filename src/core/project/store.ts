/**
 * A mask project on disk (no TF.js: node:fs and typed arrays only, so the extension host
 * can draw the inspector without loading TensorFlow.js).
 *
 *   <dir>/piggyback.json          manifest (see manifest.ts)
 *   <dir>/tasks/<name>/task.json  metadata, metrics, shapes, byte sizes + sha256 of the binaries
 *   <dir>/tasks/<name>/mask.bin   header + bit-packed masks of every masked layer (manifest order)
 *   <dir>/tasks/<name>/head.bin   float32 head kernel [in, out] then bias [out]
 *   <dir>/tasks/<name>/bn.bin     optional: per BN layer gamma, beta, movingMean, movingVariance
 *
 * mask.bin layout (little-endian): "PGBM", u32 version (1), u32 kind (0 binary, 1 ternary),
 * u32 layer count L, L x u32 entry counts, then per layer the nonzero-plane words followed
 * (ternary only) by the negative-plane words; ceil(n / 32) u32 words per plane.
 *
 * Writes are crash-safe (atomic.ts): a task folder is staged and renamed into place, and
 * the manifest lists a task only after its folder is complete. The manifest is the source
 * of truth: a task folder it does not list is ignored (and replaced by a later save).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { createHash } from 'node:crypto';
import type {
  BaselineResult, BnMode, EpochMetrics, EvalResult, MaskedLayerInfo, MaskKind, ProjectStats,
  TaskStats, TrainOptions, OverlapMatrices,
} from '../types';
import { DEFAULT_TRAIN_OPTIONS } from '../types';
import { PiggybackError } from '../errors';
import { packBinary, packTernary, unpackBinary, unpackTernary, wordCount } from './bitpack';
import { computeOverlap, maskSparsity, normalizePacked, type PackedMask } from './analytics';
import {
  SimulatedCrash, cleanupStale, commitDirAtomic, makeStagingDir, removeDirAtomic, withLock, writeFileSynced, writeJsonAtomic,
} from './atomic';
import {
  MANIFEST_FILE, MANIFEST_FORMAT, MANIFEST_VERSION, readManifest, resolveModelPath, storedModelPath, layerProblem,
  type BackboneRecord, type ProjectManifest,
} from './manifest';

export type { BackboneRecord, ProjectManifest } from './manifest';
export type { PackedMask } from './analytics';

/** Per-task BN parameters (bnMode 'trainable'). */
export interface BnParams {
  layer: string;
  gamma: Float32Array;
  beta: Float32Array;
  movingMean: Float32Array;
  movingVariance: Float32Array;
}

/** Data limits a task was trained with (same shape as the engine's DataLimits), so re-evaluation and baselines use the same data. */
export interface TaskDataLimits {
  trainPerClass?: number;
  testLimit?: number;
  valFraction: number;
}

/** Everything a trained task consists of, as saveTask takes it and loadTask returns it. */
export interface TaskArtifacts {
  name: string;
  dataset: string;
  classNames: string[];
  maskKind: MaskKind;
  bnMode: BnMode;
  options: TrainOptions;
  /** Data limits used for training (optional; stored in task.json). */
  dataLimits?: TaskDataLimits;
  /** One per masked layer in manifest order: 0/1 (binary) or -1/0/+1 (ternary). */
  masks: Array<Uint8Array | Int8Array>;
  head: { kernel: Float32Array; shape: [number, number]; bias: Float32Array };
  bn?: BnParams[];
  history: EpochMetrics[];
  /** NaN when unknown (stored as null). */
  testAccuracy: number;
  evaluation?: EvalResult;
  trainSeconds: number;
  baselines?: BaselineResult[];
  /** ISO time; saveTask fills in now when absent. */
  createdAt?: string;
}

/** Size and checksum of one binary file of a task. */
export interface TaskFileInfo {
  file: string;
  bytes: number;
  sha256: string;
}

/** Contents of `tasks/<name>/task.json`. */
export interface TaskMeta {
  format: 'piggyback-task';
  version: 1;
  name: string;
  dataset: string;
  classNames: string[];
  maskKind: MaskKind;
  bnMode: BnMode;
  options: TrainOptions;
  dataLimits?: TaskDataLimits;
  testAccuracy: number | null;
  evaluation: EvalResult | null;
  history: EpochMetrics[];
  baselines: BaselineResult[];
  /** Fraction of entries switched off per masked layer (manifest order), and overall. */
  layerSparsity: number[];
  sparsity: number;
  trainSeconds: number;
  createdAt: string;
  head: { shape: [number, number] };
  bn: Array<{ layer: string; length: number }> | null;
  files: { mask: TaskFileInfo; head: TaskFileInfo; bn: TaskFileInfo | null };
}

/** An opened project: absolute folder, validated manifest, absolute backbone model path. */
export interface ProjectHandle {
  dir: string;
  manifest: ProjectManifest;
  modelPath: string;
}

/** What openProject checks the project against (the backbone as loaded now). */
export interface ExpectedBackbone {
  sha256: string;
  layers: MaskedLayerInfo[];
  /** For the error message; defaults to the manifest's model path. */
  modelPath?: string;
}

export const TASKS_DIR = 'tasks';
const TASK_FILE = 'task.json';
const MASK_FILE = 'mask.bin';
const HEAD_FILE = 'head.bin';
const BN_FILE = 'bn.bin';
const MASK_MAGIC = 0x4d424750; // "PGBM" read as little-endian u32
/** v1: header + raw packed words. v2: same header + codec + raw size, then a compressed body. */
const MASK_VERSION_RAW = 1;
const MASK_VERSION_CODED = 2;
const CODEC_BROTLI = 1;
/** Brotli over masks reordered filter by filter (each output channel's weights together). */
const CODEC_BROTLI_FILTER_MAJOR = 2;
const TASK_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
const WINDOWS_RESERVED = /^(con|prn|aux|nul|com\d|lpt\d)(\..*)?$/i;
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

// ---------------------------------------------------------------------------------------
// byte helpers

function sha256(chunks: Uint8Array[]): string {
  const h = createHash('sha256');
  for (const c of chunks) h.update(c);
  return h.digest('hex');
}

/** Little-endian bytes of a 4-byte typed array (a view when the platform is LE). */
function leBytes(a: Uint32Array | Float32Array): Uint8Array {
  if (LITTLE_ENDIAN) return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const out = new Uint8Array(a.byteLength);
  const dv = new DataView(out.buffer);
  if (a instanceof Float32Array) a.forEach((v, i) => dv.setFloat32(i * 4, v, true));
  else a.forEach((v, i) => dv.setUint32(i * 4, v, true));
  return out;
}

/** Words at byte `off` of an aligned buffer (a view on LE platforms, a copy otherwise). */
function wordsAt(buf: Uint8Array, off: number, n: number): Uint32Array {
  if (LITTLE_ENDIAN) return new Uint32Array(buf.buffer, buf.byteOffset + off, n);
  const dv = new DataView(buf.buffer, buf.byteOffset + off, n * 4);
  const out = new Uint32Array(n);
  for (let i = 0; i < n; i++) out[i] = dv.getUint32(i * 4, true);
  return out;
}

/** A fresh Float32Array of `n` little-endian floats at byte `off` of `buf`. */
function floatsAt(buf: Uint8Array, off: number, n: number): Float32Array {
  if (LITTLE_ENDIAN) return new Float32Array(buf.buffer.slice(buf.byteOffset + off, buf.byteOffset + off + n * 4));
  const out = new Float32Array(n);
  const dv = new DataView(buf.buffer, buf.byteOffset + off, n * 4);
  for (let i = 0; i < n; i++) out[i] = dv.getFloat32(i * 4, true);
  return out;
}

/** Reads a file into a 4-byte-aligned buffer. */
function readAligned(file: string): Uint8Array {
  const b = fs.readFileSync(file);
  if (b.byteOffset % 4 === 0) return b;
  const c = new Uint8Array(b.byteLength);
  c.set(b);
  return c;
}

// ---------------------------------------------------------------------------------------
// mask.bin

function maskHeader(version: number, kind: MaskKind, packed: PackedMask[], extra: number[] = []): Uint32Array {
  const header = new Uint32Array(4 + packed.length + extra.length);
  header[0] = MASK_MAGIC;
  header[1] = version;
  header[2] = kind === 'ternary' ? 1 : 0;
  header[3] = packed.length;
  packed.forEach((p, i) => (header[4 + i] = p.length));
  extra.forEach((v, i) => (header[4 + packed.length + i] = v));
  return header;
}

/** Output channels a layer's mask is grouped by when coded (kernel index = inner * groups + group). */
function filterGroups(l: MaskedLayerInfo): number {
  const s = l.shape;
  const g = l.kind === 'depthwise' && s.length === 4 ? s[2] * s[3] : s[s.length - 1];
  return g > 0 && l.size % g === 0 ? g : 1;
}

/** Reorders a mask so each output filter's entries are contiguous (`inverse` undoes it). */
function filterMajor<T extends Uint8Array | Int8Array>(m: T, groups: number, inverse = false): T {
  const inner = m.length / groups;
  const out = (m instanceof Int8Array ? new Int8Array(m.length) : new Uint8Array(m.length)) as T;
  for (let i = 0; i < inner; i++) {
    for (let g = 0; g < groups; g++) {
      if (inverse) out[i * groups + g] = m[g * inner + i];
      else out[g * inner + i] = m[i * groups + g];
    }
  }
  return out;
}

function unpackLayer(kind: MaskKind, p: PackedMask): Uint8Array | Int8Array {
  return kind === 'ternary' ? unpackTernary(p.words, p.negWords!, p.length) : unpackBinary(p.words, p.length);
}

function packLayer(kind: MaskKind, m: Uint8Array | Int8Array): PackedMask {
  return kind === 'ternary' ? packTernary(m) : packBinary(m);
}

function maskBody(kind: MaskKind, packed: PackedMask[]): Uint8Array[] {
  const body: Uint8Array[] = [];
  for (const p of packed) {
    const nw = wordCount(p.length);
    body.push(leBytes(p.words.subarray(0, nw)));
    if (kind === 'ternary') {
      if (!p.negWords) throw new Error('encodeMaskFile: ternary mask without negative plane');
      body.push(leBytes(p.negWords.subarray(0, nw)));
    }
  }
  return body;
}

/**
 * Encodes packed masks as mask.bin chunks (header first). With `compress` (the project's
 * layers), the masks are reordered filter by filter and Brotli-coded when that is smaller:
 * learned masks are sparse and clustered within filters, so this goes well below 1 bit per
 * weight (WSN, a peer method, entropy-codes its masks too). Filter-major order measured
 * 0.32-0.50 bits per weight on the reproduction masks where natural order gave 0.41-0.61.
 */
export function encodeMaskFile(kind: MaskKind, packed: PackedMask[], opts: { compress?: { layers: MaskedLayerInfo[] } } = {}): Uint8Array[] {
  const raw = [leBytes(maskHeader(MASK_VERSION_RAW, kind, packed)), ...maskBody(kind, packed)];
  if (!opts.compress) return raw;
  const { layers } = opts.compress;
  const reordered = packed.map((p, i) => packLayer(kind, filterMajor(unpackLayer(kind, p), filterGroups(layers[i]))));
  const rawBody = Buffer.concat(maskBody(kind, reordered));
  // Quality 11 is slow on big masks; 9 keeps a ResNet-50-sized save around a second.
  const quality = rawBody.byteLength > (1 << 20) ? 9 : 11;
  const coded = zlib.brotliCompressSync(rawBody, {
    params: { [zlib.constants.BROTLI_PARAM_QUALITY]: quality, [zlib.constants.BROTLI_PARAM_LGWIN]: 24, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: rawBody.byteLength },
  });
  if (coded.byteLength + 8 >= rawBody.byteLength) return raw;
  return [leBytes(maskHeader(MASK_VERSION_CODED, kind, packed, [CODEC_BROTLI_FILTER_MAJOR, rawBody.byteLength])), coded];
}

/** Size of an uncompressed (v1) mask.bin for `layers` and `kind`. */
export function maskFileBytes(kind: MaskKind, layers: Array<{ size: number }>): number {
  const planes = kind === 'ternary' ? 2 : 1;
  return 16 + 4 * layers.length + layers.reduce((s, l) => s + wordCount(l.size) * 4 * planes, 0);
}

function badMask(file: string, what: string): never {
  throw new PiggybackError('BAD_MASK_FILE', `mask file ${file} is corrupt: ${what}`, 'retrain the task (or restore the file from a backup)');
}

/**
 * Decodes mask.bin bytes against the manifest layers and the kind task.json declares;
 * throws BAD_MASK_FILE naming `file` and what was expected. Words alias `buf`.
 */
export function decodeMaskFile(buf: Uint8Array, file: string, layers: MaskedLayerInfo[], kind: MaskKind): PackedMask[] {
  const expectedBytes = maskFileBytes(kind, layers);
  const headerBytes = 16 + 4 * layers.length;
  if (buf.byteLength < 16) badMask(file, `truncated to ${buf.byteLength} bytes, expected ${expectedBytes} (header alone is ${headerBytes})`);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (dv.getUint32(0, true) !== MASK_MAGIC) badMask(file, 'missing the PGBM magic header (not a piggyback mask file)');
  const version = dv.getUint32(4, true);
  if (version !== MASK_VERSION_RAW && version !== MASK_VERSION_CODED) badMask(file, `format version ${version}, expected ${MASK_VERSION_RAW} or ${MASK_VERSION_CODED}`);
  const kindCode = dv.getUint32(8, true);
  const fileKind = kindCode === 0 ? 'binary' : kindCode === 1 ? 'ternary' : `unknown (${kindCode})`;
  if (fileKind !== kind) badMask(file, `holds a ${fileKind} mask but task.json says ${kind}`);
  const count = dv.getUint32(12, true);
  if (count !== layers.length) badMask(file, `has ${count} layers, the project has ${layers.length} masked layers`);
  if (buf.byteLength < headerBytes) badMask(file, `truncated to ${buf.byteLength} bytes, expected ${expectedBytes} (header alone is ${headerBytes})`);
  for (let i = 0; i < count; i++) {
    const n = dv.getUint32(16 + 4 * i, true);
    if (n !== layers[i].size) badMask(file, `layer ${layers[i].name} has ${n} entries, expected ${layers[i].size}`);
  }
  let filterMajorBody = false;
  if (version === MASK_VERSION_CODED) {
    if (buf.byteLength < headerBytes + 8) badMask(file, `truncated to ${buf.byteLength} bytes inside its header`);
    const codec = dv.getUint32(headerBytes, true);
    const rawBodyBytes = dv.getUint32(headerBytes + 4, true);
    if (codec !== CODEC_BROTLI && codec !== CODEC_BROTLI_FILTER_MAJOR) badMask(file, `unknown codec ${codec}`);
    filterMajorBody = codec === CODEC_BROTLI_FILTER_MAJOR;
    if (rawBodyBytes !== expectedBytes - headerBytes) badMask(file, `declares ${rawBodyBytes} bytes of masks, the project's layers need ${expectedBytes - headerBytes}`);
    let body: Buffer;
    try {
      body = zlib.brotliDecompressSync(buf.subarray(headerBytes + 8), { maxOutputLength: rawBodyBytes });
    } catch (e) {
      badMask(file, `compressed masks do not decode (${(e as Error).message.split('\n')[0]}); truncated?`);
    }
    if (body.byteLength !== rawBodyBytes) badMask(file, `compressed masks decode to ${body.byteLength} bytes, expected ${rawBodyBytes}`);
    const whole = new Uint8Array(headerBytes + rawBodyBytes);
    whole.set(buf.subarray(0, headerBytes));
    whole.set(body, headerBytes);
    buf = whole;
  } else if (buf.byteLength !== expectedBytes) {
    badMask(file, `${buf.byteLength < expectedBytes ? 'truncated to' : 'has'} ${buf.byteLength} bytes, expected ${expectedBytes}`);
  }
  if (buf.byteOffset % 4 !== 0) {
    const c = new Uint8Array(buf.byteLength);
    c.set(buf);
    buf = c;
  }
  const out: PackedMask[] = [];
  let off = headerBytes;
  for (const l of layers) {
    const nw = wordCount(l.size);
    const words = wordsAt(buf, off, nw);
    off += nw * 4;
    let negWords: Uint32Array | undefined;
    if (kind === 'ternary') {
      negWords = wordsAt(buf, off, nw);
      off += nw * 4;
    }
    const p = normalizePacked({ words, negWords, length: l.size });
    out.push(filterMajorBody ? packLayer(kind, filterMajor(unpackLayer(kind, p), filterGroups(l), true)) : p);
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// project

function tasksDir(dir: string): string {
  return path.join(dir, TASKS_DIR);
}

function shapeStr(s: number[]): string {
  return `[${s.join(',')}]`;
}

function short(h: string): string {
  return h.slice(0, 12);
}

/** Checks the project's masked layers against the backbone's; SHAPE_MISMATCH on the first difference. */
export function checkLayers(projectLayers: MaskedLayerInfo[], modelLayers: MaskedLayerInfo[]): void {
  const n = Math.max(projectLayers.length, modelLayers.length);
  for (let i = 0; i < n; i++) {
    const p = projectLayers[i];
    const m = modelLayers[i];
    const hint = 'use the backbone (and --cut-at) the project was created with, or create a new project for this model';
    if (!m) {
      throw new PiggybackError('SHAPE_MISMATCH',
        `masked layer ${p.name} ${shapeStr(p.shape)} is missing from the model (project has ${projectLayers.length} masked layers, model has ${modelLayers.length})`, hint);
    }
    if (!p) {
      throw new PiggybackError('SHAPE_MISMATCH',
        `model has an extra masked layer ${m.name} ${shapeStr(m.shape)} (project has ${projectLayers.length} masked layers, model has ${modelLayers.length})`, hint);
    }
    if (p.name !== m.name) {
      throw new PiggybackError('SHAPE_MISMATCH',
        `masked layer #${i + 1} differs: project expects ${p.name} ${shapeStr(p.shape)} but the model has ${m.name} ${shapeStr(m.shape)}`, hint);
    }
    if (p.shape.length !== m.shape.length || p.shape.some((d, k) => d !== m.shape[k])) {
      throw new PiggybackError('SHAPE_MISMATCH',
        `layer ${p.name} shape mismatch: project expects ${shapeStr(p.shape)} but the model has ${shapeStr(m.shape)}`, hint);
    }
  }
}

/**
 * Absolute model path from createProject's argument: absolute as is; a relative path is
 * taken relative to the working directory, unless only the project-relative reading
 * exists (a caller that already passed the stored, project-relative form).
 */
function modelPathArg(projectDir: string, p: string): string {
  if (path.isAbsolute(p)) return p;
  const fromCwd = path.resolve(p);
  const fromProject = path.resolve(projectDir, p);
  if (!fs.existsSync(fromCwd) && fs.existsSync(fromProject)) return fromProject;
  return fromCwd;
}

/** Creates a new project folder with its manifest and empty tasks/; refuses an existing project. */
export function createProject(dir: string, backbone: BackboneRecord, layers: MaskedLayerInfo[], threshold: number): ProjectHandle {
  const abs = path.resolve(dir);
  if (fs.existsSync(path.join(abs, MANIFEST_FILE))) {
    throw new PiggybackError('BAD_ARGUMENT', `${abs} already holds a piggyback project`,
      'open it to add tasks, delete it first, or choose another folder');
  }
  if (fs.existsSync(abs) && !fs.statSync(abs).isDirectory()) {
    throw new PiggybackError('BAD_ARGUMENT', `${abs} exists and is not a folder`, 'choose a folder path for the project');
  }
  layers.forEach((l, i) => {
    const p = layerProblem(l);
    if (p) throw new PiggybackError('BAD_ARGUMENT', `masked layer #${i + 1} ${p}`, 'this is a bug in the caller');
  });
  if (!Number.isFinite(threshold)) throw new PiggybackError('BAD_ARGUMENT', `threshold ${threshold} is not a number`, 'pass a finite threshold such as 5e-3');
  const maskedParams = layers.reduce((s, l) => s + l.size, 0);
  fs.mkdirSync(tasksDir(abs), { recursive: true });
  const manifest: ProjectManifest = {
    format: MANIFEST_FORMAT,
    version: MANIFEST_VERSION,
    backbone: {
      modelPath: storedModelPath(abs, modelPathArg(abs, backbone.modelPath)),
      sha256: backbone.sha256,
      cutAt: backbone.cutAt ?? null,
      inputShape: [...backbone.inputShape],
      totalParams: backbone.totalParams,
      maskedParams,
    },
    layers: layers.map((l) => ({ name: l.name, kind: l.kind, shape: [...l.shape], size: l.size })),
    threshold,
    createdAt: new Date().toISOString(),
    tasks: [],
  };
  withLock(abs, () => {
    if (fs.existsSync(path.join(abs, MANIFEST_FILE))) {
      throw new PiggybackError('BAD_ARGUMENT', `${abs} already holds a piggyback project`, 'open it to add tasks, delete it first, or choose another folder');
    }
    writeJsonAtomic(path.join(abs, MANIFEST_FILE), manifest);
  });
  return { dir: abs, manifest, modelPath: resolveModelPath(abs, manifest.backbone.modelPath) };
}

/**
 * Opens a project (cleaning up leftovers of interrupted writes) and, when `expected` is
 * given, checks the masked layers (SHAPE_MISMATCH) and the backbone checksum (BACKBONE_MISMATCH).
 */
export function openProject(dir: string, expected?: ExpectedBackbone): ProjectHandle {
  const abs = path.resolve(dir);
  const manifest = readManifest(abs);
  const listed = new Set(manifest.tasks);
  cleanupStale(tasksDir(abs), (n) => listed.has(n));
  cleanupStale(abs);
  const modelPath = resolveModelPath(abs, manifest.backbone.modelPath);
  if (expected) {
    checkLayers(manifest.layers, expected.layers);
    if (expected.sha256.toLowerCase() !== manifest.backbone.sha256.toLowerCase()) {
      const at = expected.modelPath ? path.resolve(expected.modelPath) : modelPath;
      throw new PiggybackError('BACKBONE_MISMATCH',
        `backbone weights changed: project expects sha256 ${short(manifest.backbone.sha256)}.. but model.json at ${at} has ${short(expected.sha256)}..`,
        'restore the original backbone weights, or create a new project for this model (masks only fit the weights they were learned on)');
    }
  }
  return { dir: abs, manifest, modelPath };
}

/** Task names listed in the manifest, in order. */
export function listTasks(dir: string): string[] {
  return [...openProject(dir).manifest.tasks];
}

function unknownTask(h: ProjectHandle, name: string): PiggybackError {
  const list = h.manifest.tasks.length ? h.manifest.tasks.join(', ') : '(none)';
  return new PiggybackError('UNKNOWN_TASK', `unknown task '${name}' in ${h.dir}; existing tasks: ${list}`,
    h.manifest.tasks.length ? 'use one of the existing task names' : 'train a task first');
}

function badTaskJson(file: string, what: string): never {
  throw new PiggybackError('BAD_PROJECT', `${file} is not a valid task file: ${what}`, 'retrain the task, or delete it and train it again');
}

function fileInfoOk(v: unknown): v is TaskFileInfo {
  const r = v as TaskFileInfo;
  return typeof r === 'object' && r !== null && typeof r.file === 'string' && Number.isInteger(r.bytes) && typeof r.sha256 === 'string';
}

function readTaskMetaOf(h: ProjectHandle, name: string): TaskMeta {
  if (!h.manifest.tasks.includes(name)) throw unknownTask(h, name);
  const file = path.join(h.dir, TASKS_DIR, name, TASK_FILE);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    throw new PiggybackError('BAD_PROJECT', `task '${name}' is listed in ${MANIFEST_FILE} but ${file} is missing`,
      'delete the task and train it again');
  }
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch (e) {
    badTaskJson(file, `invalid JSON (${(e as Error).message})`);
  }
  const m = j as TaskMeta;
  if (typeof m !== 'object' || m === null) badTaskJson(file, 'not a JSON object');
  if (m.format !== 'piggyback-task' || m.version !== 1) badTaskJson(file, `format/version ${JSON.stringify(m.format)}/${JSON.stringify(m.version)}, expected "piggyback-task"/1`);
  if (m.name !== name) badTaskJson(file, `names task ${JSON.stringify(m.name)}, expected '${name}'`);
  if (m.maskKind !== 'binary' && m.maskKind !== 'ternary') badTaskJson(file, `unknown maskKind ${JSON.stringify(m.maskKind)}`);
  if (!Array.isArray(m.head?.shape) || m.head.shape.length !== 2 || !m.head.shape.every((d) => Number.isInteger(d) && d > 0)) {
    badTaskJson(file, 'head.shape is not [in, out]');
  }
  if (!m.files || !fileInfoOk(m.files.mask) || !fileInfoOk(m.files.head) || (m.files.bn !== null && !fileInfoOk(m.files.bn))) {
    badTaskJson(file, 'files (sizes and checksums of the binaries) missing');
  }
  if (m.bn !== null && (!Array.isArray(m.bn) || !m.bn.every((b) => typeof b.layer === 'string' && Number.isInteger(b.length) && b.length >= 0))) {
    badTaskJson(file, 'bn is not a list of {layer, length}');
  }
  if ((m.bn === null) !== (m.files.bn === null)) badTaskJson(file, 'bn and files.bn disagree');
  if (!Array.isArray(m.history)) m.history = [];
  if (!Array.isArray(m.baselines)) m.baselines = [];
  if (!Array.isArray(m.classNames)) m.classNames = [];
  if (!Array.isArray(m.layerSparsity)) m.layerSparsity = [];
  return m;
}

/** Reads and validates `tasks/<name>/task.json` (UNKNOWN_TASK if the manifest does not list it). */
export function readTaskMeta(dir: string, name: string): TaskMeta {
  return readTaskMetaOf(openProject(dir), name);
}

/** Reads one binary of a task, checking its size (and sha256 when `verify`) against task.json. */
function readTaskBinary(h: ProjectHandle, name: string, info: TaskFileInfo, verify: boolean, code: 'BAD_MASK_FILE' | 'BAD_PROJECT'): Uint8Array {
  const file = path.join(h.dir, TASKS_DIR, name, info.file);
  const hint = 'retrain the task (or restore the file from a backup)';
  let buf: Uint8Array;
  try {
    buf = readAligned(file);
  } catch {
    throw new PiggybackError(code, `${file} is missing (task.json expects ${info.bytes} bytes)`, hint);
  }
  if (buf.byteLength !== info.bytes) {
    throw new PiggybackError(code,
      `${file} is ${buf.byteLength < info.bytes ? 'truncated' : 'the wrong size'}: task.json expects ${info.bytes} bytes, found ${buf.byteLength}`, hint);
  }
  if (verify) {
    const got = sha256([buf]);
    if (got !== info.sha256) {
      throw new PiggybackError(code, `${file} is corrupt: sha256 ${short(got)}.. does not match ${short(info.sha256)}.. recorded in task.json`, hint);
    }
  }
  return buf;
}

function loadPackedOf(h: ProjectHandle, meta: TaskMeta, verify: boolean): PackedMask[] {
  const file = path.join(h.dir, TASKS_DIR, meta.name, MASK_FILE);
  let buf: Uint8Array;
  try {
    buf = readAligned(file);
  } catch {
    throw new PiggybackError('BAD_MASK_FILE', `mask file ${file} is missing (task.json expects ${meta.files.mask.bytes} bytes)`, 'retrain the task (or restore the file from a backup)');
  }
  // Header and per-layer lengths first: they say more than a size or checksum mismatch.
  const packed = decodeMaskFile(buf, file, h.manifest.layers, meta.maskKind);
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

/** Loads a task with unpacked masks, verifying every file's header, size and checksum. */
export function loadTask(dir: string, name: string): TaskArtifacts {
  const h = openProject(dir);
  const meta = readTaskMetaOf(h, name);
  const packed = loadPackedOf(h, meta, true);
  const masks = packed.map((p) => (meta.maskKind === 'ternary' ? unpackTernary(p.words, p.negWords!, p.length) : unpackBinary(p.words, p.length)));

  const [hin, hout] = meta.head.shape;
  const headBuf = readTaskBinary(h, name, meta.files.head, true, 'BAD_PROJECT');
  if (headBuf.byteLength !== (hin * hout + hout) * 4) {
    throw new PiggybackError('BAD_PROJECT', `${path.join(h.dir, TASKS_DIR, name, HEAD_FILE)} holds ${headBuf.byteLength} bytes but a [${hin},${hout}] head needs ${(hin * hout + hout) * 4}`,
      'retrain the task');
  }
  const head = { kernel: floatsAt(headBuf, 0, hin * hout), shape: [hin, hout] as [number, number], bias: floatsAt(headBuf, hin * hout * 4, hout) };

  let bn: BnParams[] | undefined;
  if (meta.bn && meta.files.bn) {
    const bnBuf = readTaskBinary(h, name, meta.files.bn, true, 'BAD_PROJECT');
    const need = meta.bn.reduce((s, b) => s + 16 * b.length, 0);
    if (bnBuf.byteLength !== need) {
      throw new PiggybackError('BAD_PROJECT', `${path.join(h.dir, TASKS_DIR, name, BN_FILE)} holds ${bnBuf.byteLength} bytes, task.json describes ${need}`, 'retrain the task');
    }
    let off = 0;
    bn = meta.bn.map((b) => {
      const take = () => {
        const a = floatsAt(bnBuf, off, b.length);
        off += b.length * 4;
        return a;
      };
      const gamma = take();
      const beta = take();
      const movingMean = take();
      const movingVariance = take();
      return { layer: b.layer, gamma, beta, movingMean, movingVariance };
    });
  }

  const art: TaskArtifacts = {
    name: meta.name,
    dataset: meta.dataset,
    classNames: meta.classNames,
    maskKind: meta.maskKind,
    bnMode: meta.bnMode,
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
  return art;
}

function badArg(message: string, hint: string): never {
  throw new PiggybackError('BAD_ARGUMENT', message, hint);
}

/** Validates a task name: a safe folder name on every OS. */
export function checkTaskName(name: string): void {
  if (typeof name !== 'string' || !TASK_NAME_RE.test(name) || WINDOWS_RESERVED.test(name)) {
    badArg(`invalid task name ${JSON.stringify(name)}`, 'use 1-100 letters, digits, ".", "_" or "-", starting with a letter or digit');
  }
}

function validateArtifacts(h: ProjectHandle, a: TaskArtifacts): void {
  const layers = h.manifest.layers;
  if (a.maskKind !== 'binary' && a.maskKind !== 'ternary') badArg(`unknown mask kind ${JSON.stringify(a.maskKind)}`, "use 'binary' or 'ternary'");
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
    const lo = a.maskKind === 'ternary' ? -1 : 0;
    for (let i = 0; i < m.length; i++) {
      const v = m[i];
      if (v > 1 || v < lo) {
        badArg(`mask for layer ${layers[l].name} holds ${v} at index ${i}; ${a.maskKind} masks hold ${a.maskKind === 'ternary' ? '-1/0/+1' : '0/1'}`, 'this is a bug in the trainer');
      }
    }
  }
  const [hin, hout] = a.head.shape;
  if (!Number.isInteger(hin) || !Number.isInteger(hout) || hin <= 0 || hout <= 0) badArg(`head shape ${shapeStr(a.head.shape)} is invalid`, 'head shape is [in, out]');
  if (a.head.kernel.length !== hin * hout) badArg(`head kernel has ${a.head.kernel.length} values, shape ${shapeStr(a.head.shape)} needs ${hin * hout}`, 'this is a bug in the trainer');
  if (a.head.bias.length !== hout) badArg(`head bias has ${a.head.bias.length} values, expected ${hout}`, 'this is a bug in the trainer');
  for (const b of a.bn ?? []) {
    const n = b.gamma.length;
    if (b.beta.length !== n || b.movingMean.length !== n || b.movingVariance.length !== n) {
      badArg(`BN parameters of ${b.layer} have different lengths`, 'gamma, beta, movingMean and movingVariance must have one value per channel');
    }
  }
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
    if (exists && !opts.overwrite) {
      throw new PiggybackError('TASK_EXISTS', `task '${name}' already exists in ${h.dir}`,
        'pass --overwrite to replace it, or choose another task name');
    }
    const clash = h.manifest.tasks.find((t) => t !== name && t.toLowerCase() === name.toLowerCase());
    if (clash) badArg(`task name '${name}' differs from existing task '${clash}' only by case`, 'choose a distinct name (folders are case-insensitive on some systems)');
    validateArtifacts(h, artifacts);

    const packed: PackedMask[] = artifacts.masks.map((m) => (artifacts.maskKind === 'ternary' ? packTernary(m) : packBinary(m)));
    const maskChunks = encodeMaskFile(artifacts.maskKind, packed, { compress: { layers: h.manifest.layers } });
    const headChunks = [leBytes(artifacts.head.kernel), leBytes(artifacts.head.bias)];
    const bnChunks = artifacts.bn?.length
      ? artifacts.bn.flatMap((b) => [leBytes(b.gamma), leBytes(b.beta), leBytes(b.movingMean), leBytes(b.movingVariance)])
      : null;
    const info = (file: string, chunks: Uint8Array[]): TaskFileInfo => ({ file, bytes: chunks.reduce((s, c) => s + c.byteLength, 0), sha256: sha256(chunks) });
    const sp = maskSparsity(packed);
    const meta: TaskMeta = {
      format: 'piggyback-task',
      version: 1,
      name,
      dataset: artifacts.dataset,
      classNames: [...artifacts.classNames],
      maskKind: artifacts.maskKind,
      bnMode: artifacts.bnMode,
      options: artifacts.options,
      ...(artifacts.dataLimits ? { dataLimits: { ...artifacts.dataLimits } } : {}),
      testAccuracy: Number.isFinite(artifacts.testAccuracy) ? artifacts.testAccuracy : null,
      evaluation: artifacts.evaluation ?? null,
      history: artifacts.history,
      baselines: artifacts.baselines ?? [],
      layerSparsity: sp.layerSparsity,
      sparsity: sp.sparsity,
      trainSeconds: artifacts.trainSeconds,
      createdAt: artifacts.createdAt ?? new Date().toISOString(),
      head: { shape: [artifacts.head.shape[0], artifacts.head.shape[1]] },
      bn: bnChunks ? artifacts.bn!.map((b) => ({ layer: b.layer, length: b.gamma.length })) : null,
      files: { mask: info(MASK_FILE, maskChunks), head: info(HEAD_FILE, headChunks), bn: bnChunks ? info(BN_FILE, bnChunks) : null },
    };

    const tdir = tasksDir(h.dir);
    const staging = makeStagingDir(tdir, name);
    try {
      writeFileSynced(path.join(staging, MASK_FILE), maskChunks);
      writeFileSynced(path.join(staging, HEAD_FILE), headChunks);
      if (bnChunks) writeFileSynced(path.join(staging, BN_FILE), bnChunks);
      writeFileSynced(path.join(staging, TASK_FILE), JSON.stringify(meta, null, 2) + '\n');
    } catch (e) {
      if (!(e instanceof SimulatedCrash)) fs.rmSync(staging, { recursive: true, force: true });
      throw e;
    }
    // An unlisted folder of the same name is a leftover (e.g. crash before the manifest update): replace it.
    commitDirAtomic(staging, path.join(tdir, name), true);
    if (!exists) {
      const manifest = { ...h.manifest, tasks: [...h.manifest.tasks, name] };
      writeJsonAtomic(path.join(h.dir, MANIFEST_FILE), manifest);
    }
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
    writeJsonAtomic(path.join(h.dir, TASKS_DIR, taskName, TASK_FILE), meta);
  });
}

/** Deletes a task: the manifest stops listing it first, then its folder is removed. */
export function deleteTask(dir: string, name: string): void {
  const abs = path.resolve(dir);
  readManifest(abs);
  withLock(abs, () => {
    const h = openProject(abs);
    if (!h.manifest.tasks.includes(name)) throw unknownTask(h, name);
    writeJsonAtomic(path.join(h.dir, MANIFEST_FILE), { ...h.manifest, tasks: h.manifest.tasks.filter((t) => t !== name) });
    removeDirAtomic(path.join(tasksDir(h.dir), name));
  });
}

export interface TaskBytes {
  bytes: number;
  maskBytes: number;
  /** mask.bin as stored (compressed when that is smaller), in bits per masked weight. */
  bitsPerMaskedWeight: number;
  /** The same masks bit-packed without compression (1 bit per weight, 2 for ternary, plus header). */
  rawBitsPerMaskedWeight: number;
}

function taskBytesOf(h: ProjectHandle, name: string, kind: MaskKind): TaskBytes {
  if (!h.manifest.tasks.includes(name)) throw unknownTask(h, name);
  const tdir = path.join(h.dir, TASKS_DIR, name);
  let bytes = 0;
  let maskBytes = 0;
  let entries: string[] = [];
  try {
    entries = fs.readdirSync(tdir);
  } catch {
    throw new PiggybackError('BAD_PROJECT', `task '${name}' is listed in ${MANIFEST_FILE} but ${tdir} is missing`, 'delete the task and train it again');
  }
  for (const f of entries) {
    const st = fs.statSync(path.join(tdir, f));
    if (!st.isFile()) continue;
    bytes += st.size;
    if (f === MASK_FILE) maskBytes = st.size;
  }
  const mp = h.manifest.backbone.maskedParams;
  const rawBytes = maskFileBytes(kind, h.manifest.layers);
  return { bytes, maskBytes, bitsPerMaskedWeight: mp > 0 ? (maskBytes * 8) / mp : 0, rawBitsPerMaskedWeight: mp > 0 ? (rawBytes * 8) / mp : 0 };
}

/** Bytes on disk of a task (all files), of its mask.bin, and mask bits per masked weight. */
export function taskBytes(dir: string, name: string): TaskBytes {
  const h = openProject(dir);
  return taskBytesOf(h, name, readTaskMetaOf(h, name).maskKind);
}

function nanMatrix(n: number): number[][] {
  return Array.from({ length: n }, () => new Array<number>(n).fill(NaN));
}

/**
 * Everything the inspector shows, from disk only (manifest, task.json, packed masks; no TF.js).
 * Sparsity comes from the packed masks themselves. A task whose files are damaged is
 * reported with state 'failed' and NaN sparsity/overlap (null once serialised as JSON).
 */
export function readProjectStats(dir: string): ProjectStats {
  const h = openProject(dir);
  const L = h.manifest.layers.length;
  const tasks: TaskStats[] = [];
  const loaded: PackedMask[][] = [];
  const loadedIdx: number[] = [];
  h.manifest.tasks.forEach((name, idx) => {
    let meta: TaskMeta | undefined;
    try {
      meta = readTaskMetaOf(h, name);
      const packed = loadPackedOf(h, meta, false);
      const b = taskBytesOf(h, name, meta.maskKind);
      tasks.push({
        name, dataset: meta.dataset, classNames: meta.classNames, maskKind: meta.maskKind, bnMode: meta.bnMode,
        testAccuracy: meta.testAccuracy, layerSparsity: [], sparsity: NaN, // filled from the overlap pass below
        bytes: b.bytes, bitsPerMaskedWeight: b.bitsPerMaskedWeight, rawBitsPerMaskedWeight: b.rawBitsPerMaskedWeight, state: 'trained',
        history: meta.history, baselines: meta.baselines, options: meta.options,
      });
      loaded.push(packed);
      loadedIdx.push(idx);
    } catch (e) {
      if (!(e instanceof PiggybackError)) throw e;
      tasks.push({
        name, dataset: meta?.dataset ?? '', classNames: meta?.classNames ?? [], maskKind: meta?.maskKind ?? 'binary',
        bnMode: meta?.bnMode ?? 'frozen', testAccuracy: meta?.testAccuracy ?? null,
        layerSparsity: new Array<number>(L).fill(NaN), sparsity: NaN, bytes: 0, bitsPerMaskedWeight: NaN, rawBitsPerMaskedWeight: NaN, state: 'failed',
        history: meta?.history ?? [], baselines: meta?.baselines ?? [], options: meta?.options ?? DEFAULT_TRAIN_OPTIONS,
      });
    }
  });
  const T = tasks.length;
  const ov = computeOverlap(loaded);
  // Sparsity from the kept counts of the same pass (no second popcount over the masks).
  loadedIdx.forEach((gi, i) => {
    let kept = 0;
    tasks[gi].layerSparsity = h.manifest.layers.map((l, li) => {
      kept += ov.kept[i][li];
      return l.size === 0 ? 0 : (l.size - ov.kept[i][li]) / l.size;
    });
    const total = h.manifest.backbone.maskedParams;
    tasks[gi].sparsity = total === 0 ? 0 : (total - kept) / total;
  });
  const expand = (m: OverlapMatrices): OverlapMatrices => {
    if (loadedIdx.length === T) return m;
    const jaccard = nanMatrix(T);
    const hamming = nanMatrix(T);
    loadedIdx.forEach((gi, i) => loadedIdx.forEach((gj, j) => {
      jaccard[gi][gj] = m.jaccard[i][j];
      hamming[gi][gj] = m.hamming[i][j];
    }));
    return { jaccard, hamming };
  };
  const empty = (): OverlapMatrices => ({ jaccard: nanMatrix(T), hamming: nanMatrix(T) });
  return {
    dir: h.dir,
    backbone: { ...h.manifest.backbone, modelPath: h.modelPath },
    layers: h.manifest.layers,
    threshold: h.manifest.threshold,
    tasks,
    overlap: {
      overall: expand(ov.overall),
      perLayer: loaded.length ? ov.perLayer.map(expand) : h.manifest.layers.map(empty),
    },
  };
}
