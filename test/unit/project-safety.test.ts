/**
 * The store never touches anything outside the project, survives moves, and reports every
 * damaged or failing thing in one line (issue #11). Each test reproduces one reported defect.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PiggybackError } from '../../src/core/errors';
import { SimulatedCrash, testHooks, type WriteStep } from '../../src/core/project/atomic';
import { readManifest } from '../../src/core/project/manifest';
import { createProject, openProject, relinkBackbone, storeNotices } from '../../src/core/project/projectDir';
import { readProjectStats } from '../../src/core/project/stats';
import { checkCanSaveTask, deleteTask, loadTask, saveBaseline, saveTask } from '../../src/core/project/taskFiles';
import { isProjectStats } from '../../src/shared/protocol';
import { defaultBackbonePath } from '../../src/core/paths';
import { LAYERS, SHA, artifacts, backbone, code, newProject, tmpDir } from '../helpers/storeFixtures';
import { snapshotDir } from '../helpers/engineFixtures';

/** A folder outside the project that must survive everything. */
function victim(base: string, name = 'victim'): string {
  const v = path.join(base, name);
  fs.mkdirSync(v, { recursive: true });
  fs.writeFileSync(path.join(v, 'task.json'), '{"precious": true}\n');
  return v;
}

function listInManifest(dir: string, names: string[]): void {
  const file = path.join(dir, 'piggyback.json');
  const j = JSON.parse(fs.readFileSync(file, 'utf8'));
  j.tasks.push(...names);
  fs.writeFileSync(file, JSON.stringify(j));
}

test('a manifest naming "../../victim" is refused on read: delete and baseline never reach outside the project', () => {
  const dir = newProject(); // <tmp>/proj
  const base = path.dirname(dir);
  const v = victim(path.dirname(base));
  const v5 = victim(path.dirname(base), 'victim5');
  const before = [snapshotDir(v), snapshotDir(v5)];
  listInManifest(dir, ['../../victim', '../../victim5']);
  assert.match(code(() => deleteTask(dir, '../../victim')), /^BAD_PROJECT: .*tasks\[0\] "..\/..\/victim" is not a valid task name/);
  assert.match(code(() => saveBaseline(dir, '../../victim5', { method: 'classifier', testAccuracy: 0.5, trainSeconds: 1, history: [], bytesIfStored: 4 })), /^BAD_PROJECT: /);
  assert.match(code(() => readProjectStats(dir)), /not a valid task name/);
  assert.deepEqual([snapshotDir(v), snapshotDir(v5)], before);
});

test('"../.." in the manifest cannot remove the project\'s grandparent or its siblings', () => {
  const dir = newProject();
  const grand = path.dirname(path.dirname(dir));
  const sibling = victim(grand, 'sibling');
  listInManifest(dir, ['../..']);
  assert.match(code(() => deleteTask(dir, '../..')), /^BAD_PROJECT: .*not a valid task name/);
  assert.ok(fs.existsSync(sibling) && fs.existsSync(dir));
  // Names given on the command line are checked too, before any lookup.
  const clean = newProject();
  saveTask(clean, artifacts('a', 1));
  assert.match(code(() => deleteTask(clean, '../..')), /^UNKNOWN_TASK: /);
  assert.match(code(() => checkCanSaveTask(clean, '../x')), /^BAD_ARGUMENT: invalid task name/);
});

test('tasks/ as a symlink is refused: nothing inside the link target is read or deleted', () => {
  const dir = newProject();
  saveTask(dir, artifacts('a', 1));
  const target = path.join(tmpDir(), 'elsewhere');
  fs.renameSync(path.join(dir, 'tasks'), target);
  fs.symlinkSync(target, path.join(dir, 'tasks'), 'dir');
  const before = snapshotDir(target);
  assert.match(code(() => deleteTask(dir, 'a')), /^BAD_PROJECT: .*tasks is a symbolic link/);
  assert.match(code(() => openProject(dir)), /symbolic link/);
  assert.deepEqual(snapshotDir(target), before);
});

test('a task folder or a task file that is a symlink is not followed', () => {
  const dir = newProject();
  saveTask(dir, artifacts('a', 1));
  saveTask(dir, artifacts('b', 2));
  const outside = path.join(tmpDir(), 'outside-a');
  fs.renameSync(path.join(dir, 'tasks', 'a'), outside);
  fs.symlinkSync(outside, path.join(dir, 'tasks', 'a'), 'dir');
  const before = snapshotDir(outside);
  assert.match(code(() => deleteTask(dir, 'a')), /^BAD_PROJECT: .*symbolic link/);
  assert.deepEqual(snapshotDir(outside), before);
  const head = path.join(dir, 'tasks', 'b', 'head.bin');
  const copy = path.join(tmpDir(), 'head.bin');
  fs.copyFileSync(head, copy);
  fs.rmSync(head);
  fs.symlinkSync(copy, head);
  assert.match(code(() => loadTask(dir, 'b')), /^BAD_PROJECT: .*head\.bin is a symbolic link/);
  // task.json naming a path as one of its files is not a valid task file
  const meta = path.join(dir, 'tasks', 'b', 'task.json');
  const j = JSON.parse(fs.readFileSync(meta, 'utf8'));
  j.files.head.file = '../../../../etc/passwd';
  fs.writeFileSync(meta, JSON.stringify(j));
  assert.match(code(() => loadTask(dir, 'b')), /^BAD_PROJECT: .*task\.json is not a valid task file: files/);
});

test('a project copied deeper or moved with its model still finds its backbone; relink re-points it', () => {
  const base = tmpDir();
  const modelDir = path.join(base, 'models', 'm');
  fs.mkdirSync(modelDir, { recursive: true });
  fs.writeFileSync(path.join(modelDir, 'model.json'), '{}');
  const dir = path.join(base, 'work', 'proj');
  createProject(dir, { ...backbone(dir), modelPath: path.join(modelDir, 'model.json') }, LAYERS, 5e-3);
  saveTask(dir, artifacts('a', 1));
  assert.equal(readManifest(dir).backbone.modelPath, '../../models/m/model.json');
  // copied deeper: the relative path misses, the absolute fallback finds the model
  const deeper = path.join(base, 'work', 'x', 'y', 'proj');
  fs.cpSync(dir, deeper, { recursive: true });
  assert.equal(openProject(deeper).modelPath, path.join(modelDir, 'model.json'));
  assert.equal(readProjectStats(deeper).backbone.missing, false);
  // the whole checkout moved: the relative path finds it
  const moved = path.join(tmpDir(), 'moved');
  fs.cpSync(base, moved, { recursive: true });
  fs.rmSync(path.join(modelDir, 'model.json'));
  assert.equal(openProject(path.join(moved, 'work', 'proj')).modelPath, path.join(moved, 'models', 'm', 'model.json'));
  // the model is gone everywhere: stats say so instead of failing later
  const s = readProjectStats(deeper);
  assert.equal(s.backbone.missing, true);
  assert.ok(isProjectStats(JSON.parse(JSON.stringify(s))));
  // relink refuses other weights or layers, accepts the same ones
  const copyDir = path.join(tmpDir(), 'copy');
  fs.mkdirSync(copyDir);
  const copyModel = path.join(copyDir, 'model.json');
  fs.writeFileSync(copyModel, '{}');
  assert.match(code(() => relinkBackbone(deeper, copyModel, { sha256: 'cd'.repeat(32), layers: LAYERS })), /^BACKBONE_MISMATCH: /);
  assert.match(code(() => relinkBackbone(deeper, copyModel, { sha256: SHA, layers: LAYERS.slice(1) })), /^SHAPE_MISMATCH: /);
  relinkBackbone(deeper, copyModel, { sha256: SHA, layers: LAYERS });
  assert.equal(openProject(deeper).modelPath, copyModel);
  assert.equal(readProjectStats(deeper).backbone.missing, false);
  assert.equal(loadTask(deeper, 'a').name, 'a');
});

test('the embedded backbone is stored by alias and resolves to the installed copy, wherever the project is', () => {
  const dir = path.join(tmpDir(), 'p');
  createProject(dir, { ...backbone(dir), modelPath: '/old/extension-0.1.0/models/reference-cnn/model.json', alias: 'reference-cnn' }, LAYERS, 5e-3);
  assert.equal(readManifest(dir).backbone.alias, 'reference-cnn');
  assert.equal(openProject(dir).modelPath, defaultBackbonePath());
  // a project from before aliases, pointing at an old install folder by path
  const legacy = path.join(tmpDir(), 'legacy');
  createProject(legacy, { ...backbone(legacy), modelPath: '/old/extension-0.1.0/models/reference-cnn/model.json' }, LAYERS, 5e-3);
  assert.equal(openProject(legacy).modelPath, defaultBackbonePath());
});

test('the GAP backbones are embedded too: init by alias (or by their installed path) stores the alias', async () => {
  const engine = await import('../../src/core/engine');
  const { builtinBackbonePath } = await import('../../src/core/paths');
  for (const alias of ['vgg6', 'resnet8']) {
    const byAlias = path.join(tmpDir(), alias);
    const s = await engine.createProject({ projectDir: byAlias, modelPath: alias, backend: 'wasm' });
    assert.equal(readManifest(byAlias).backbone.alias, alias);
    assert.equal(s.backbone.modelPath, builtinBackbonePath(alias));
    assert.ok(s.layers.length >= 6 && s.layers.every((l) => l.kind === 'conv2d'), `${alias}: all masked layers are convs (GAP, no fc)`);
    const byPath = path.join(tmpDir(), `${alias}-path`);
    await engine.createProject({ projectDir: byPath, modelPath: builtinBackbonePath(alias) as string, backend: 'wasm' });
    assert.equal(readManifest(byPath).backbone.alias, alias);
  }
});

test('one damaged task is listed with its reason and null numbers; the others and the webview data stay valid', () => {
  const dir = newProject();
  saveTask(dir, artifacts('good', 1));
  saveTask(dir, artifacts('flipped', 2));
  // a bit flip near the end of the mask: sizes and headers still look right
  const mask = path.join(dir, 'tasks', 'flipped', 'mask.bin');
  const b = fs.readFileSync(mask);
  b[b.length - 2] ^= 0x10;
  fs.writeFileSync(mask, b);
  const s = readProjectStats(dir);
  const [good, bad] = s.tasks;
  assert.equal(good.state, 'trained');
  assert.equal(bad.state, 'failed');
  assert.match(bad.damage ?? '', /sha256 .* does not match/);
  assert.equal(bad.sparsity, null);
  assert.equal(bad.bytes, null);
  assert.deepEqual(bad.layerSparsity, []);
  assert.equal(s.overlap.overall.jaccard[0][1], null);
  assert.equal(s.overlap.overall.jaccard[0][0], 1);
  assert.ok(isProjectStats(JSON.parse(JSON.stringify(s))), 'the webview accepts a project with a damaged task');
});

test('task.json without options or classNames is one BAD_PROJECT line', () => {
  const dir = newProject();
  saveTask(dir, artifacts('a', 1));
  const meta = path.join(dir, 'tasks', 'a', 'task.json');
  const j = JSON.parse(fs.readFileSync(meta, 'utf8'));
  fs.writeFileSync(meta, JSON.stringify({ ...j, options: undefined }));
  assert.match(code(() => loadTask(dir, 'a')), /^BAD_PROJECT: .*task\.json is not a valid task file: options missing/);
  fs.writeFileSync(meta, JSON.stringify({ ...j, classNames: undefined }));
  assert.match(code(() => loadTask(dir, 'a')), /^BAD_PROJECT: .*classNames is not a list of names/);
  fs.writeFileSync(meta, JSON.stringify({ ...j, options: { ...j.options, lrMask: 'fast' } }));
  assert.match(code(() => loadTask(dir, 'a')), /options\.lrMask is "fast"/);
  // Old files kept maskKind/bnMode at the top level only: still read.
  const { maskKind, bnMode, ...opts } = j.options;
  fs.writeFileSync(meta, JSON.stringify({ ...j, maskKind, bnMode, options: opts }));
  assert.equal(loadTask(dir, 'a').options.maskKind, 'binary');
});

test('a head.bin or bn.bin holding NaN is refused on load', () => {
  const dir = newProject();
  const a = artifacts('a', 1, 'binary', true);
  a.head.kernel[7] = NaN;
  saveTask(dir, a);
  assert.match(code(() => loadTask(dir, 'a')), /^BAD_PROJECT: .*head\.bin holds NaN in the head kernel at index 7/);
  const c = artifacts('c', 3, 'binary', true);
  c.bn![1].movingVariance[2] = Infinity;
  saveTask(dir, c);
  assert.match(code(() => loadTask(dir, 'c')), /bn\.bin holds Infinity in bn2 movingVariance at index 2/);
});

/** Errors like the ones node:fs throws on a full or read-only disk. */
function errno(code: string, syscall = 'write'): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: simulated`), { code, syscall, errno: -1 });
}

function failAt(step: WriteStep, e: Error): void {
  testHooks.beforeStep = (s, target) => {
    if (s === step) throw Object.assign(e, { path: target });
  };
}

test('disk full (ENOSPC) or read-only (EROFS) during a save: one IO_ERROR line, nothing lost, no lock left', (t) => {
  t.after(() => delete testHooks.beforeStep);
  const dir = newProject();
  saveTask(dir, artifacts('a', 1));
  const before = snapshotDir(dir);
  for (const [c, re] of [['ENOSPC', /no space left on the disk/], ['EROFS', /read-only file system/], ['EACCES', /permission denied/]] as const) {
    failAt('write-temp-dir', errno(c, 'mkdir'));
    const e = (() => { try { saveTask(dir, artifacts('b', 2)); } catch (x) { return x; } })();
    assert.ok(e instanceof PiggybackError, `${c}: ${e}`);
    assert.equal(e.code, 'IO_ERROR');
    assert.match(e.message, re);
    assert.ok(e.hint.length > 0);
    assert.deepEqual(snapshotDir(dir), before, `${c} left the project as it was (no lock, no temp folder)`);
  }
  // The same check runs before training, so a read-only project fails in a second, not after a run.
  failAt('write-temp-dir', errno('EROFS', 'mkdir'));
  assert.match(code(() => checkCanSaveTask(dir, 'b')), /^IO_ERROR: .*read-only/);
  delete testHooks.beforeStep;
  assert.match(code(() => checkCanSaveTask(dir, 'A')), /^BAD_ARGUMENT: task name 'A' differs from existing task 'a' only by case/);
  assert.match(code(() => checkCanSaveTask(dir, 'a')), /^TASK_EXISTS: /);
  checkCanSaveTask(dir, 'a', { overwrite: true });
  assert.deepEqual(snapshotDir(dir), before);
});

test('a lock file created on a full disk is removed again', (t) => {
  t.after(() => delete testHooks.beforeStep);
  const dir = newProject();
  failAt('write-lock', errno('ENOSPC'));
  assert.match(code(() => saveTask(dir, artifacts('a', 1))), /^IO_ERROR: no space left on the disk writing .*piggyback\.lock/);
  delete testHooks.beforeStep;
  assert.equal(fs.existsSync(path.join(dir, 'piggyback.lock')), false, 'no empty lock left behind');
  saveTask(dir, artifacts('a', 1));
  assert.deepEqual(readManifest(dir).tasks, ['a']);
});

test('a kill between the folder rename and the manifest write: the complete task is adopted on open, and said so', (t) => {
  t.after(() => {
    delete testHooks.beforeStep;
    storeNotices.sink = () => {};
  });
  const dir = newProject();
  // The manifest write after the task folder's rename is a file rename too: crash right there.
  let renamed = false;
  testHooks.beforeStep = (s, target) => {
    if (s === 'rename-dir') renamed = true;
    else if (renamed && s === 'write-temp-file' && target.includes('piggyback.json')) throw new SimulatedCrash(s);
  };
  assert.throws(() => saveTask(dir, artifacts('a', 1)), SimulatedCrash);
  delete testHooks.beforeStep;
  assert.deepEqual(readManifest(dir).tasks, []);
  const notes: string[] = [];
  storeNotices.sink = (l) => notes.push(l);
  const h = openProject(dir);
  assert.deepEqual(h.manifest.tasks, ['a']);
  assert.match(h.notices.join('\n'), /adopted task 'a'/);
  assert.equal(notes.length, 1);
  assert.deepEqual(readManifest(dir).tasks, ['a'], 'the adoption is written');
  assert.equal(loadTask(dir, 'a').name, 'a');
  // An incomplete unlisted folder is removed instead.
  fs.mkdirSync(path.join(dir, 'tasks', 'half'));
  fs.writeFileSync(path.join(dir, 'tasks', 'half', 'mask.bin'), 'x');
  const h2 = openProject(dir);
  assert.match(h2.notices.join('\n'), /removed .*half: an incomplete task folder/);
  assert.equal(fs.existsSync(path.join(dir, 'tasks', 'half')), false);
  assert.deepEqual(h2.manifest.tasks, ['a']);
});

test('a delete killed before its manifest write leaves the task listed and loadable', (t) => {
  t.after(() => delete testHooks.beforeStep);
  const dir = newProject();
  saveTask(dir, artifacts('a', 1));
  failAt('write-temp-file', new SimulatedCrash('write-temp-file'));
  assert.throws(() => deleteTask(dir, 'a'), SimulatedCrash);
  delete testHooks.beforeStep;
  assert.deepEqual(openProject(dir).manifest.tasks, ['a']);
  assert.equal(loadTask(dir, 'a').name, 'a');
  deleteTask(dir, 'a');
  assert.deepEqual(openProject(dir).manifest.tasks, []);
  assert.deepEqual(fs.readdirSync(path.join(dir, 'tasks')), []);
});
