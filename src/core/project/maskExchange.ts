/**
 * A task's masks as a NumPy .npz, and an .npz mask imported back as a task.
 *
 * Export: one array per masked layer, keyed by the layer name, in the Keras/TF kernel layout
 * the manifest records (conv [kh, kw, cin, cout], depthwise [kh, kw, cin, mult], dense
 * [in, out]): uint8 0/1 for binary masks, int8 -1/0/+1 for ternary ones; optional scores
 * as float32 under `scores/<layer>`; and `__meta__`, a 0-d string array holding JSON (task,
 * mask kind, threshold, backbone sha256, layers). Entries are deflated, as numpy.savez_compressed does.
 *
 * Import: every masked layer must be present with exactly its Keras shape and values in
 * {0, 1} (or {-1, 0, 1}); any bool/int/uint/float dtype is accepted, C or Fortran order.
 * Anything wrong is one PiggybackError line and nothing stored changes (saveTask is atomic
 * and runs only after every check).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { MaskedLayerInfo, MaskKind } from '../types';
import { PiggybackError } from '../errors';
import { withFsErrors } from '../fsErrors';
import { writeFileAtomic } from './atomic';
import { unpackLayer } from './maskFile';
import { decodeNpz, encodeNpy, encodeNpz, npyValues, NpzFormatError, type NpyArray } from './npz';
import { openProject, taskDirOf, type ProjectHandle } from './projectDir';
import { checkCanSaveTask, loadTask, loadTaskForStats, saveTask, taskMetaOf } from './taskFiles';
import type { TaskMeta } from './taskMeta';

export const NPZ_META_KEY = '__meta__';
export const NPZ_SCORES_PREFIX = 'scores/';
export const SCORES_FILE = 'scores.bin';

export interface NpzMeta {
  format: 'piggyback-masks';
  version: 1;
  task: string;
  maskKind: MaskKind;
  threshold: number;
  backboneSha256: string;
  layers: Array<Pick<MaskedLayerInfo, 'name' | 'kind' | 'shape'>>;
  classNames: string[];
}

export interface NpzExportResult {
  file: string;
  bytes: number;
  task: string;
  maskKind: MaskKind;
  /** Per layer: key in the archive, shape, kept (nonzero) entries and size. */
  layers: Array<{ key: string; shape: number[]; kept: number; size: number }>;
  /** Whether scores were written; when not, why. */
  scores: { included: boolean; reason: string | null };
}

/**
 * Writes task `task`'s masks as an .npz at `out` (atomically; refuses an existing file
 * unless `overwrite`). `scores`, when given (one Float32Array per masked layer), are written
 * beside the masks; without it, a task that has a scores.bin says it was not exported.
 */
export function exportMasksNpz(dir: string, task: string, out: string, opts: { overwrite?: boolean; scores?: Float32Array[] } = {}): NpzExportResult {
  const h = openProject(dir);
  const meta = taskMetaOf(h, task);
  const { packed } = loadTaskForStats(h, meta, true);
  const kind = meta.options.maskKind;
  const file = path.resolve(out);
  if (fs.existsSync(file) && !opts.overwrite) {
    throw new PiggybackError('BAD_ARGUMENT', `${file} already exists`, 'pass --overwrite to replace it, or choose another --out');
  }
  if (fs.existsSync(file) && fs.statSync(file).isDirectory()) {
    throw new PiggybackError('BAD_ARGUMENT', `${file} is a folder`, 'give --out a file name ending in .npz');
  }
  const layers = h.manifest.layers;
  if (opts.scores && (opts.scores.length !== layers.length || opts.scores.some((s, i) => s.length !== layers[i].size))) {
    throw new PiggybackError('SHAPE_MISMATCH', `scores of task ${task} do not match the project's ${layers.length} masked layers`, 'this is a bug in the scores reader');
  }
  const arrays: Array<{ key: string; npy: Uint8Array }> = [];
  const info: NpzExportResult['layers'] = [];
  layers.forEach((l, i) => {
    const m = unpackLayer(kind, packed[i]);
    let kept = 0;
    for (let k = 0; k < m.length; k++) if (m[k] !== 0) kept++;
    arrays.push({ key: l.name, npy: encodeNpy(kind === 'ternary' ? '|i1' : '|u1', l.shape, m) });
    info.push({ key: l.name, shape: [...l.shape], kept, size: l.size });
  });
  if (opts.scores) layers.forEach((l, i) => arrays.push({ key: `${NPZ_SCORES_PREFIX}${l.name}`, npy: encodeNpy('<f4', l.shape, opts.scores![i]) }));
  const npzMeta: NpzMeta = {
    format: 'piggyback-masks', version: 1, task, maskKind: kind, threshold: meta.options.threshold,
    backboneSha256: h.manifest.backbone.sha256, layers: layers.map((l) => ({ name: l.name, kind: l.kind, shape: [...l.shape] })), classNames: meta.classNames,
  };
  arrays.push({ key: NPZ_META_KEY, npy: encodeNpy('unicode', [], JSON.stringify(npzMeta)) });
  const chunks = encodeNpz(arrays, { deflate: true });
  withFsErrors(() => {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    writeFileAtomic(file, chunks);
  }, file);
  const hasScoresFile = fs.existsSync(path.join(taskDirOf(h, task), SCORES_FILE));
  return {
    file, bytes: chunks.reduce((s, c) => s + c.byteLength, 0), task, maskKind: kind, layers: info,
    scores: opts.scores
      ? { included: true, reason: null }
      : { included: false, reason: hasScoresFile ? `task ${task}'s ${SCORES_FILE} was not passed to the export: masks only` : `task ${task} has no stored scores (${SCORES_FILE}): masks only` },
  };
}

/** How a PyTorch weight of the same layer would be shaped, and the transpose that makes it Keras'. */
function pytorchLayout(l: MaskedLayerInfo): { shape: number[]; fix: string } | null {
  const s = l.shape;
  if (l.kind === 'conv2d' && s.length === 4) return { shape: [s[3], s[2], s[0], s[1]], fix: 'm.transpose(2, 3, 1, 0)' };
  if (l.kind === 'depthwise' && s.length === 4) return { shape: [s[2] * s[3], 1, s[0], s[1]], fix: `m.reshape(${s[2]}, ${s[3]}, ${s[0]}, ${s[1]}).transpose(2, 3, 0, 1)` };
  if (l.kind === 'dense' && s.length === 2) return { shape: [s[1], s[0]], fix: 'm.T' };
  return null;
}

const shapeText = (s: number[]): string => `(${s.join(', ')}${s.length === 1 ? ',' : ''})`;

export interface ImportMaskRequest {
  projectDir: string;
  /** Name of the new task. */
  task: string;
  npzFile: string;
  /**
   * The task whose head, class names, dataset and per-task BN the new task gets. The head was
   * trained for that task's mask, not the imported one: evaluate the new task to see what the
   * pair scores (testAccuracy is stored as unknown).
   */
  headFrom: string;
}

export interface ImportMaskResult {
  meta: TaskMeta;
  maskKind: MaskKind;
  /** Per layer: kept entries and size of the imported mask. */
  layers: Array<{ name: string; kept: number; size: number }>;
  /** Arrays present in the archive that were not imported (scores). */
  ignored: string[];
}

/** Imports an .npz mask (as exportMasksNpz writes, or made elsewhere) as a new task. */
/** The masks of an .npz, validated against a project's masked layers (see the file comment). */
export interface NpzMasks {
  kind: MaskKind;
  /** One per masked layer in manifest order: 0/1 (binary) or -1/0/+1 (ternary). */
  masks: Array<Uint8Array | Int8Array>;
  /** Per layer: kept entries and size. */
  layers: Array<{ name: string; kept: number; size: number }>;
  /** Arrays present in the archive that are not imported (scores). */
  ignored: string[];
}

/** Reads and validates an .npz mask for project `h`; one PiggybackError line on anything wrong. */
export function readMaskNpz(h: ProjectHandle, npzFile: string): NpzMasks {
  const file = path.resolve(npzFile);
  function fail(what: string, hint = 'export the mask again, one array per masked layer in Keras layout (see README, "Masks as NumPy .npz")'): never {
    throw new PiggybackError('BAD_MASK_FILE', `${file}: ${what}`, hint);
  }
  if (!fs.existsSync(file)) throw new PiggybackError('FILE_NOT_FOUND', `mask archive ${file} does not exist`, 'pass the .npz to import with --npz');
  if (fs.statSync(file).isDirectory()) throw new PiggybackError('BAD_ARGUMENT', `${file} is a folder, not an .npz file`, 'pass the .npz to import with --npz');
  const buf = withFsErrors(() => fs.readFileSync(file), file);
  let arrays: Map<string, NpyArray>;
  try {
    arrays = decodeNpz(buf, file);
  } catch (e) {
    if (e instanceof NpzFormatError) throw new PiggybackError('BAD_MASK_FILE', e.message, 'pass an .npz written by numpy.savez / savez_compressed or by `piggyback export --format npz`');
    throw e;
  }
  const layers = h.manifest.layers;
  let declaredKind: MaskKind | null = null;
  const metaArr = arrays.get(NPZ_META_KEY);
  if (metaArr) {
    let m: Partial<NpzMeta>;
    try {
      m = JSON.parse(metaArr.data as string);
    } catch {
      fail(`${NPZ_META_KEY} is not the JSON a piggyback export writes`);
    }
    if (m.format !== 'piggyback-masks') fail(`${NPZ_META_KEY} has format ${JSON.stringify(m.format)}, expected "piggyback-masks"`);
    if (m.backboneSha256 !== undefined && m.backboneSha256 !== h.manifest.backbone.sha256) {
      throw new PiggybackError('BACKBONE_MISMATCH',
        `${file} was exported from a project over another backbone (sha256 ${String(m.backboneSha256).slice(0, 12)}.., this project's is ${h.manifest.backbone.sha256.slice(0, 12)}..)`,
        'import it into a project over the same backbone weights');
    }
    if (m.maskKind === 'binary' || m.maskKind === 'ternary') declaredKind = m.maskKind;
  }
  const layerNames = new Set(layers.map((l) => l.name));
  const ignored: string[] = [];
  for (const key of arrays.keys()) {
    if (key === NPZ_META_KEY || layerNames.has(key)) continue;
    if (key.startsWith(NPZ_SCORES_PREFIX) && layerNames.has(key.slice(NPZ_SCORES_PREFIX.length))) {
      ignored.push(key);
      continue;
    }
    fail(`array ${JSON.stringify(key)} is not a masked layer of this project`, `masked layers: ${layers.map((l) => l.name).join(', ')}`);
  }
  const masks: Int8Array[] = [];
  let anyNegative = false;
  for (const l of layers) {
    const a = arrays.get(l.name);
    if (!a) fail(`no array for masked layer ${l.name} ${shapeText(l.shape)}`, `the archive holds: ${[...arrays.keys()].join(', ') || 'nothing'}; one array per masked layer, named as the layer`);
    if (a.dtype === 'unicode') fail(`array ${l.name} holds text, not a mask`);
    const same = (s: number[]) => s.length === a.shape.length && s.every((d, k) => d === a.shape[k]);
    if (!same(l.shape)) {
      const pt = pytorchLayout(l);
      throw new PiggybackError('SHAPE_MISMATCH',
        `${file}: array ${l.name} has shape ${shapeText(a.shape)}, layer ${l.name} (${l.kind}) needs the Keras layout ${shapeText(l.shape)}`,
        pt && same(pt.shape) ? `that is PyTorch's layout: save ${pt.fix} instead (see README, "Masks as NumPy .npz")` : 'the mask must have the shape of the layer\'s kernel');
    }
    const v = npyValues(a);
    const m = new Int8Array(l.size);
    for (let i = 0; i < l.size; i++) {
      const x = v[i];
      if (x !== 0 && x !== 1 && x !== -1) fail(`array ${l.name} holds ${x} at flat index ${i}; a mask holds 0/1 (binary) or -1/0/+1 (ternary)`);
      if (x === -1) anyNegative = true;
      m[i] = x;
    }
    masks.push(m);
  }
  const kind: MaskKind = anyNegative || declaredKind === 'ternary' ? 'ternary' : 'binary';
  if (declaredKind === 'binary' && anyNegative) fail(`${NPZ_META_KEY} says binary but the arrays hold -1 entries`);
  return {
    kind, ignored,
    masks: kind === 'binary' ? masks.map((m) => new Uint8Array(m.buffer, m.byteOffset, m.length)) : masks,
    layers: layers.map((l, i) => ({ name: l.name, kept: masks[i].reduce((s, x) => s + (x !== 0 ? 1 : 0), 0), size: l.size })),
  };
}

export function importMaskNpz(req: ImportMaskRequest): ImportMaskResult {
  checkCanSaveTask(req.projectDir, req.task);
  const h = openProject(req.projectDir);
  const { kind, masks, layers, ignored } = readMaskNpz(h, req.npzFile);
  const src = loadTask(h.dir, req.headFrom);
  const artifacts = {
    name: req.task,
    dataset: src.dataset,
    classNames: src.classNames,
    options: { ...src.options, maskKind: kind },
    ...(src.dataLimits ? { dataLimits: src.dataLimits } : {}),
    masks,
    head: src.head,
    ...(src.bn ? { bn: src.bn } : {}),
    history: [],
    testAccuracy: NaN,
    trainSeconds: 0,
  };
  const meta = saveTask(h.dir, artifacts);
  return { meta, maskKind: kind, ignored, layers };
}
