/**
 * A mask project folder: create it, open it (checking the backbone it belongs to), and the
 * one safe way to turn a task name into a path. No TF.js: node:fs only, so the extension
 * host can draw the inspector without loading TensorFlow.js.
 *
 *   <dir>/piggyback.json          manifest (manifest.ts)
 *   <dir>/tasks/<name>/           one folder per task (taskFiles.ts)
 *
 * The manifest is the source of truth. A complete task folder it does not list (a save
 * killed between the folder rename and the manifest write) is adopted on open; an
 * incomplete one is removed; either way a notice says so.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { MaskedLayerInfo } from '../types';
import { PiggybackError } from '../errors';
import { withFsErrors } from '../fsErrors';
import { cleanupStale, removeDirAtomic, withLock, writeJsonAtomic } from './atomic';
import {
  MANIFEST_FILE, MANIFEST_FORMAT, MANIFEST_VERSION, isValidTaskName, layerProblem, readManifest, resolveModelPath, storedModelPath,
  type BackboneRecord, type ProjectManifest,
} from './manifest';
import { parseTaskMeta, TASK_FILE } from './taskMeta';

export const TASKS_DIR = 'tasks';

/** An opened project: absolute folder, validated manifest, absolute backbone model path. */
export interface ProjectHandle {
  dir: string;
  manifest: ProjectManifest;
  modelPath: string;
  /** What opening repaired (adopted or removed task folders), one line each. */
  notices: string[];
}

/** What openProject checks the project against (the backbone as loaded now). */
export interface ExpectedBackbone {
  sha256: string;
  layers: MaskedLayerInfo[];
  /** For the error message; defaults to the manifest's model path. */
  modelPath?: string;
}

/** Where notices about repairs go (the CLI prints them, the extension logs them). */
export const storeNotices: { sink: (line: string) => void } = { sink: () => {} };

export function tasksDir(dir: string): string {
  return path.join(dir, TASKS_DIR);
}

export function shapeStr(s: number[]): string {
  return `[${s.join(',')}]`;
}

export function short(h: string): string {
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

/** The stored form of a backbone's path: alias, project-relative path and absolute fallback. */
function modelRecord(projectDir: string, b: BackboneRecord): Pick<BackboneRecord, 'modelPath' | 'modelPathAbsolute' | 'alias'> {
  const abs = modelPathArg(projectDir, b.modelPath);
  return {
    modelPath: storedModelPath(projectDir, abs),
    modelPathAbsolute: abs,
    ...(b.alias ? { alias: b.alias } : {}),
  };
}

/** Creates a new project folder with its manifest and empty tasks/; refuses an existing project. */
export function createProject(dir: string, backbone: BackboneRecord, layers: MaskedLayerInfo[], threshold: number, opts: { storeScores?: boolean } = {}): ProjectHandle {
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
  withFsErrors(() => fs.mkdirSync(tasksDir(abs), { recursive: true }), tasksDir(abs));
  const manifest: ProjectManifest = {
    format: MANIFEST_FORMAT,
    version: MANIFEST_VERSION,
    backbone: {
      ...modelRecord(abs, backbone),
      sha256: backbone.sha256,
      cutAt: backbone.cutAt ?? null,
      inputShape: [...backbone.inputShape],
      totalParams: backbone.totalParams,
      maskedParams,
    },
    layers: layers.map((l) => ({ name: l.name, kind: l.kind, shape: [...l.shape], size: l.size })),
    threshold,
    ...(opts.storeScores === false ? { storeScores: false } : {}),
    createdAt: new Date().toISOString(),
    tasks: [],
  };
  withLock(abs, () => {
    if (fs.existsSync(path.join(abs, MANIFEST_FILE))) {
      throw new PiggybackError('BAD_ARGUMENT', `${abs} already holds a piggyback project`, 'open it to add tasks, delete it first, or choose another folder');
    }
    writeJsonAtomic(path.join(abs, MANIFEST_FILE), manifest);
  });
  return { dir: abs, manifest, modelPath: resolveModelPath(abs, manifest.backbone), notices: [] };
}

/**
 * Opens a project (cleaning up leftovers of interrupted writes, adopting or removing task
 * folders the manifest does not list) and, when `expected` is given, checks the masked
 * layers (SHAPE_MISMATCH) and the backbone checksum (BACKBONE_MISMATCH).
 */
export function openProject(dir: string, expected?: ExpectedBackbone): ProjectHandle {
  const abs = path.resolve(dir);
  let manifest = readManifest(abs);
  checkTasksFolder(abs);
  const listed = new Set(manifest.tasks);
  cleanupStale(tasksDir(abs), (n) => listed.has(n));
  cleanupStale(abs);
  const notices: string[] = [];
  if (unlistedTaskFolders(abs, manifest).length) manifest = recoverUnlisted(abs, notices) ?? manifest;
  const modelPath = resolveModelPath(abs, manifest.backbone);
  if (expected) checkBackbone(manifest, expected, modelPath);
  return { dir: abs, manifest, modelPath, notices };
}

/** SHAPE_MISMATCH / BACKBONE_MISMATCH unless `expected` is the backbone the project was made on. */
export function checkBackbone(manifest: ProjectManifest, expected: ExpectedBackbone, modelPath: string): void {
  checkLayers(manifest.layers, expected.layers);
  if (expected.sha256.toLowerCase() !== manifest.backbone.sha256.toLowerCase()) {
    const at = expected.modelPath ? path.resolve(expected.modelPath) : modelPath;
    throw new PiggybackError('BACKBONE_MISMATCH',
      `backbone weights changed: project expects sha256 ${short(manifest.backbone.sha256)}.. but model.json at ${at} has ${short(expected.sha256)}..`,
      'restore the original backbone weights, or create a new project for this model (masks only fit the weights they were learned on)');
  }
}

/** tasks/ must be a real folder inside the project: a symlink would let deletes reach outside it. */
function checkTasksFolder(dir: string): void {
  const t = tasksDir(dir);
  let st: fs.Stats;
  try {
    st = fs.lstatSync(t);
  } catch {
    return; // created on first save
  }
  if (st.isSymbolicLink()) {
    let target = '?';
    try {
      target = fs.realpathSync(t);
    } catch { /* dangling */ }
    throw new PiggybackError('BAD_PROJECT', `${t} is a symbolic link (to ${target}); a project's tasks must live inside the project folder`,
      'replace the link by a real folder (move the task folders into it)');
  }
  if (!st.isDirectory()) throw new PiggybackError('BAD_PROJECT', `${t} is not a folder`, 'move it aside; the project keeps its tasks in that folder');
}

/**
 * The folder of task `name`, checked to be a direct child of the project's real tasks/
 * folder: the name is a valid folder name (never a path) and the folder, if it exists, is
 * not a link. Every read, write and delete of a task goes through here.
 */
export function taskDirOf(h: Pick<ProjectHandle, 'dir'>, name: string): string {
  if (!isValidTaskName(name)) {
    throw new PiggybackError('BAD_ARGUMENT', `invalid task name ${JSON.stringify(name)}`, 'use 1-100 letters, digits, ".", "_" or "-", starting with a letter or digit');
  }
  checkTasksFolder(h.dir);
  const t = tasksDir(h.dir);
  const full = path.join(t, name);
  let st: fs.Stats;
  try {
    st = fs.lstatSync(full);
  } catch {
    return full; // missing: the caller says what it expected there
  }
  if (st.isSymbolicLink() || path.dirname(fs.realpathSync(full)) !== fs.realpathSync(t)) {
    throw new PiggybackError('BAD_PROJECT', `${full} is a symbolic link; refusing to follow it out of the project`, 'replace it by the task folder itself');
  }
  return full;
}

/** Task folders under tasks/ that the manifest does not list (hidden leftovers are cleanupStale's). */
function unlistedTaskFolders(dir: string, manifest: ProjectManifest): string[] {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(tasksDir(dir), { withFileTypes: true });
  } catch {
    return [];
  }
  const listed = new Set(manifest.tasks);
  return entries.filter((e) => e.isDirectory() && isValidTaskName(e.name) && !listed.has(e.name)).map((e) => e.name);
}

/** True when a folder holds a whole task: a valid task.json and its binaries at their recorded sizes. */
function isCompleteTask(folder: string, name: string): boolean {
  try {
    const meta = parseTaskMeta(fs.readFileSync(path.join(folder, TASK_FILE), 'utf8'), path.join(folder, TASK_FILE), name);
    const files = [meta.files.mask, meta.files.head, ...(meta.files.bn ? [meta.files.bn] : []), ...(meta.files.scores ? [meta.files.scores] : [])];
    return files.every((f) => fs.statSync(path.join(folder, f.file)).size === f.bytes);
  } catch {
    return false;
  }
}

/**
 * Under the lock: adopts each complete unlisted task folder into the manifest and removes
 * incomplete ones, with a notice for each. Returns the new manifest, or null when the
 * project cannot be written (read-only): then nothing changes and the folders stay ignored.
 */
function recoverUnlisted(dir: string, notices: string[]): ProjectManifest | null {
  try {
    return withLock(dir, () => {
      const m = readManifest(dir);
      const adopted: string[] = [];
      for (const name of unlistedTaskFolders(dir, m)) {
        const folder = path.join(tasksDir(dir), name);
        if (m.tasks.some((t) => t.toLowerCase() === name.toLowerCase())) continue; // case twin on a case-insensitive disk
        if (isCompleteTask(folder, name)) {
          adopted.push(name);
          notices.push(`adopted task '${name}': its folder was complete but ${MANIFEST_FILE} did not list it (a save was interrupted)`);
        } else {
          removeDirAtomic(folder);
          notices.push(`removed ${folder}: an incomplete task folder that ${MANIFEST_FILE} did not list`);
        }
      }
      const next = adopted.length ? { ...m, tasks: [...m.tasks, ...adopted] } : m;
      if (adopted.length) writeJsonAtomic(path.join(dir, MANIFEST_FILE), next);
      for (const n of notices) storeNotices.sink(n);
      return next;
    });
  } catch {
    return null;
  }
}

/** Task names listed in the manifest, in order. */
export function listTasks(dir: string): string[] {
  return [...openProject(dir).manifest.tasks];
}

/** UNKNOWN_TASK naming the tasks that do exist. */
export function unknownTask(h: ProjectHandle, name: string): PiggybackError {
  const list = h.manifest.tasks.length ? h.manifest.tasks.join(', ') : '(none)';
  return new PiggybackError('UNKNOWN_TASK', `unknown task '${name}' in ${h.dir}; existing tasks: ${list}`,
    h.manifest.tasks.length ? 'use one of the existing task names' : 'train a task first');
}

/**
 * Points a project at another copy of its backbone (moved checkout, other machine): the
 * copy must hold the same weights (sha256) and masked layers, checked against `found`, the
 * backbone as loaded from `modelPath`. An alias stores the embedded backbone by name.
 */
export function relinkBackbone(dir: string, modelPath: string, found: ExpectedBackbone & { alias?: string }): ProjectHandle {
  const abs = path.resolve(dir);
  readManifest(abs);
  return withLock(abs, () => {
    const h = openProject(abs);
    checkBackbone(h.manifest, { ...found, modelPath }, modelPath);
    const { modelPathAbsolute: _a, alias: _b, ...rest } = h.manifest.backbone;
    const backbone: BackboneRecord = { ...rest, ...modelRecord(abs, { ...h.manifest.backbone, modelPath: path.resolve(modelPath), alias: found.alias }) };
    const manifest: ProjectManifest = { ...h.manifest, backbone };
    writeJsonAtomic(path.join(abs, MANIFEST_FILE), manifest);
    return { ...h, manifest, modelPath: resolveModelPath(abs, backbone) };
  });
}
