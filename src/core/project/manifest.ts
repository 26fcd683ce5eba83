/**
 * The project manifest `piggyback.json`: what backbone the masks belong to (path, checksum,
 * cut point, input shape), the masked layers in order, the threshold and the task list.
 * Parsing validates every field so a damaged file fails with one line naming it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { MaskedLayerInfo } from '../types';
import { PiggybackError } from '../errors';
import { builtinBackbonePath } from '../paths';

export const MANIFEST_FILE = 'piggyback.json';
export const MANIFEST_FORMAT = 'piggyback-project';
export const MANIFEST_VERSION = 1;

const TASK_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
const WINDOWS_RESERVED = /^(con|prn|aux|nul|com\d|lpt\d)(\..*)?$/i;

/** A task name is a folder name under tasks/: never a path, safe on every OS. */
export function isValidTaskName(name: unknown): name is string {
  return typeof name === 'string' && TASK_NAME_RE.test(name) && !WINDOWS_RESERVED.test(name);
}

/** Throws BAD_ARGUMENT unless `name` is a valid task name. */
export function checkTaskName(name: string): void {
  if (!isValidTaskName(name)) {
    throw new PiggybackError('BAD_ARGUMENT', `invalid task name ${JSON.stringify(name)}`,
      'use 1-100 letters, digits, ".", "_" or "-", starting with a letter or digit');
  }
}

/** The backbone a project's masks were learned on. */
export interface BackboneRecord {
  /** Path to the TF.js model.json (relative to the project folder once stored). */
  modelPath: string;
  /** The same path made absolute at creation: a fallback when the project moves but the model did not. */
  modelPathAbsolute?: string;
  /** An embedded backbone ('reference-cnn'), resolved against the installed copy. */
  alias?: string;
  /** sha256 (hex) of the backbone weights. */
  sha256: string;
  /** Layer the backbone was cut at (inclusive), or null for the whole model. */
  cutAt: string | null;
  inputShape: number[];
  totalParams: number;
  maskedParams: number;
}

/** Contents of `piggyback.json`. */
export interface ProjectManifest {
  format: typeof MANIFEST_FORMAT;
  version: typeof MANIFEST_VERSION;
  backbone: BackboneRecord;
  layers: MaskedLayerInfo[];
  threshold: number;
  /** Keep each task's scores (scores.bin) for re-thresholding; default true. */
  storeScores?: boolean;
  createdAt: string;
  tasks: string[];
}

/** Model path as stored: relative to `projectDir` (portable separator), absolute only across drives. */
export function storedModelPath(projectDir: string, modelPath: string): string {
  const abs = path.resolve(modelPath);
  const rel = path.relative(path.resolve(projectDir), abs);
  if (rel === '' || path.isAbsolute(rel)) return abs; // other drive on Windows
  return rel.split(/[\\/]/).join('/');
}

/**
 * Absolute model path of a project's backbone. An embedded backbone (alias) resolves to the
 * copy installed now, so projects survive extension upgrades and moved checkouts; others try
 * the project-relative path, then the absolute path recorded at creation. The sha256 check
 * at load time makes sure whichever copy is found holds the same weights.
 */
export function resolveModelPath(projectDir: string, b: Pick<BackboneRecord, 'modelPath' | 'alias' | 'modelPathAbsolute'>): string {
  const fromAlias = b.alias ? builtinBackbonePath(b.alias) : null;
  if (fromAlias) return fromAlias;
  const rel = path.resolve(projectDir, b.modelPath);
  if (fs.existsSync(rel)) return rel;
  if (b.modelPathAbsolute && fs.existsSync(b.modelPathAbsolute)) return b.modelPathAbsolute;
  // Projects made before aliases pointed at the embedded copy by path.
  const legacy = /(^|\/)models\/reference-cnn\/model\.json$/.test(b.modelPath.replace(/\\/g, '/')) ? builtinBackbonePath('reference-cnn') : null;
  if (legacy && fs.existsSync(legacy)) return legacy;
  return rel;
}

function fail(file: string, what: string): never {
  throw new PiggybackError(
    'BAD_PROJECT',
    `${file} is not a valid piggyback project manifest: ${what}`,
    'restore it from a backup or create the project again',
  );
}

function isNum(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}
function isCount(v: unknown): v is number {
  return isNum(v) && Number.isInteger(v) && v >= 0;
}
function isShape(v: unknown): v is number[] {
  return Array.isArray(v) && v.every((d) => isCount(d) || d === null || d === -1);
}

/** Validates one masked layer record; returns a problem description or null. */
export function layerProblem(l: unknown): string | null {
  if (typeof l !== 'object' || l === null) return 'is not an object';
  const r = l as Record<string, unknown>;
  if (typeof r.name !== 'string' || r.name === '') return 'has no name';
  if (r.kind !== 'conv2d' && r.kind !== 'depthwise' && r.kind !== 'dense') return `has unknown kind ${JSON.stringify(r.kind)}`;
  if (!Array.isArray(r.shape) || !r.shape.every(isCount)) return 'has an invalid shape';
  if (!isCount(r.size)) return 'has an invalid size';
  const prod = (r.shape as number[]).reduce((a, b) => a * b, 1);
  if (prod !== r.size) return `has size ${r.size} but shape [${(r.shape as number[]).join(',')}] holds ${prod}`;
  return null;
}

/** Parses and validates manifest text; throws BAD_PROJECT naming `file` on any problem. */
export function parseManifest(text: string, file: string): ProjectManifest {
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch (e) {
    fail(file, `invalid JSON (${(e as Error).message})`);
  }
  if (typeof j !== 'object' || j === null || Array.isArray(j)) fail(file, 'not a JSON object');
  const m = j as Record<string, unknown>;
  if (m.format !== MANIFEST_FORMAT) fail(file, `format is ${JSON.stringify(m.format)}, expected "${MANIFEST_FORMAT}"`);
  if (m.version !== MANIFEST_VERSION) {
    if (isNum(m.version) && m.version > MANIFEST_VERSION) {
      throw new PiggybackError(
        'BAD_PROJECT',
        `${file} has version ${m.version}, this build reads version ${MANIFEST_VERSION}`,
        'update Piggyback Mask Explorer to open this project',
      );
    }
    fail(file, `version is ${JSON.stringify(m.version)}, expected ${MANIFEST_VERSION}`);
  }
  const b = m.backbone as Record<string, unknown> | undefined;
  if (typeof b !== 'object' || b === null) fail(file, 'missing "backbone"');
  if (typeof b.modelPath !== 'string' || b.modelPath === '') fail(file, 'backbone.modelPath missing');
  if (b.modelPathAbsolute !== undefined && typeof b.modelPathAbsolute !== 'string') fail(file, 'backbone.modelPathAbsolute must be a path');
  if (b.alias !== undefined && (typeof b.alias !== 'string' || !builtinBackbonePath(b.alias))) fail(file, `backbone.alias ${JSON.stringify(b.alias)} is not an embedded backbone`);
  if (typeof b.sha256 !== 'string' || !/^[0-9a-f]{8,}$/i.test(b.sha256)) fail(file, 'backbone.sha256 missing or not hex');
  if (b.cutAt !== null && typeof b.cutAt !== 'string') fail(file, 'backbone.cutAt must be a layer name or null');
  if (!isShape(b.inputShape)) fail(file, 'backbone.inputShape is not a shape');
  if (!isCount(b.totalParams)) fail(file, 'backbone.totalParams is not a count');
  if (!isCount(b.maskedParams)) fail(file, 'backbone.maskedParams is not a count');
  if (!Array.isArray(m.layers)) fail(file, 'missing "layers"');
  const seen = new Set<string>();
  let sum = 0;
  (m.layers as unknown[]).forEach((l, i) => {
    const p = layerProblem(l);
    if (p) fail(file, `layers[${i}] ${p}`);
    const li = l as MaskedLayerInfo;
    if (seen.has(li.name)) fail(file, `layer ${li.name} appears twice`);
    seen.add(li.name);
    sum += li.size;
  });
  if (sum !== b.maskedParams) fail(file, `backbone.maskedParams is ${b.maskedParams} but the layers hold ${sum}`);
  if (!isNum(m.threshold)) fail(file, '"threshold" is not a number');
  if (m.storeScores !== undefined && typeof m.storeScores !== 'boolean') fail(file, '"storeScores" must be true or false');
  if (typeof m.createdAt !== 'string') fail(file, '"createdAt" missing');
  if (!Array.isArray(m.tasks) || !m.tasks.every((t) => typeof t === 'string')) fail(file, '"tasks" is not a list of names');
  // Names become folder paths: a name like "../x" must never reach a read, write or delete.
  (m.tasks as string[]).forEach((t, i) => {
    if (!isValidTaskName(t)) fail(file, `tasks[${i}] ${JSON.stringify(t)} is not a valid task name (a task name is a folder name, never a path)`);
  });
  if (new Set(m.tasks).size !== m.tasks.length) fail(file, '"tasks" lists a name twice');
  return {
    format: MANIFEST_FORMAT,
    version: MANIFEST_VERSION,
    backbone: {
      modelPath: b.modelPath,
      ...(typeof b.modelPathAbsolute === 'string' ? { modelPathAbsolute: b.modelPathAbsolute } : {}),
      ...(typeof b.alias === 'string' ? { alias: b.alias } : {}),
      sha256: b.sha256,
      cutAt: b.cutAt as string | null,
      inputShape: b.inputShape,
      totalParams: b.totalParams,
      maskedParams: b.maskedParams,
    },
    layers: (m.layers as MaskedLayerInfo[]).map((l) => ({ name: l.name, kind: l.kind, shape: [...l.shape], size: l.size })),
    threshold: m.threshold,
    ...(typeof m.storeScores === 'boolean' ? { storeScores: m.storeScores } : {}),
    createdAt: m.createdAt,
    tasks: [...(m.tasks as string[])],
  };
}

/** Reads and validates `<dir>/piggyback.json`; FILE_NOT_FOUND if the folder or the file is missing. */
export function readManifest(dir: string): ProjectManifest {
  const file = path.join(dir, MANIFEST_FILE);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      const folderMissing = !fs.existsSync(dir);
      throw new PiggybackError(
        'FILE_NOT_FOUND',
        folderMissing ? `project folder ${dir} does not exist` : `${dir} is not a piggyback project (no ${MANIFEST_FILE})`,
        'create the project first, or pick the folder that holds piggyback.json',
      );
    }
    throw new PiggybackError('BAD_PROJECT', `cannot read ${file}: ${(e as Error).message}`, 'check the file permissions');
  }
  return parseManifest(text, file);
}
