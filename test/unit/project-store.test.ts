import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PiggybackError } from '../../src/core/errors';
import { createProject, listTasks, openProject } from '../../src/core/project/projectDir';
import { readProjectStats } from '../../src/core/project/stats';
import { deleteTask, loadPackedMasks, loadTask, saveBaseline, saveTask, taskBytes } from '../../src/core/project/taskFiles';
import { unpackBinary } from '../../src/core/project/bitpack';
import { computeOverlap } from '../../src/core/project/analytics';
import { rng } from '../helpers/xorshift';

import { LAYERS, MASKED, SHA, artifacts, backbone, code, newProject, tmpDir } from '../helpers/storeFixtures';

test('create/open: manifest contents, relative model path, refuse to overwrite', () => {
  const dir = newProject();
  const j = JSON.parse(fs.readFileSync(path.join(dir, 'piggyback.json'), 'utf8'));
  assert.equal(j.format, 'piggyback-project');
  assert.equal(j.version, 1);
  assert.equal(j.backbone.modelPath, '../model/model.json');
  assert.deepEqual(j.tasks, []);
  assert.equal(j.backbone.maskedParams, MASKED);
  const h = openProject(dir, { sha256: SHA, layers: LAYERS });
  assert.equal(h.modelPath, path.resolve(dir, '..', 'model', 'model.json'));
  assert.deepEqual(h.manifest.layers, LAYERS);
  assert.match(code(() => createProject(dir, backbone(dir), LAYERS, 5e-3)), /^BAD_ARGUMENT: .*already holds a piggyback project/);
  // an already project-relative model path (that exists from the project) is kept as such
  const rel = path.join(tmpDir(), 'p2');
  fs.mkdirSync(path.join(rel, 'models'), { recursive: true });
  fs.writeFileSync(path.join(rel, 'models', 'model.json'), '{}');
  createProject(rel, { ...backbone(rel), modelPath: 'models/model.json' }, LAYERS, 5e-3);
  assert.equal(openProject(rel).modelPath, path.join(rel, 'models', 'model.json'));
  // a far-away model is stored relative, with its absolute path as the fallback
  const far = path.join(tmpDir(), 'a', 'b', 'c', 'p');
  createProject(far, { ...backbone(far), modelPath: '/opt/models/x/model.json' }, LAYERS, 5e-3);
  const fb = JSON.parse(fs.readFileSync(path.join(far, 'piggyback.json'), 'utf8')).backbone;
  assert.equal(path.resolve(far, fb.modelPath), path.resolve('/opt/models/x/model.json'));
  assert.equal(fb.modelPathAbsolute, path.resolve('/opt/models/x/model.json'));
});

test('open errors: missing folder/manifest, corrupt JSON, wrong format/version', () => {
  const base = tmpDir();
  assert.match(code(() => openProject(path.join(base, 'nope'))), /^FILE_NOT_FOUND: project folder .*nope does not exist/);
  assert.match(code(() => openProject(base)), /^FILE_NOT_FOUND: .*no piggyback\.json/);
  const dir = newProject();
  const file = path.join(dir, 'piggyback.json');
  const good = fs.readFileSync(file, 'utf8');
  fs.writeFileSync(file, good.slice(0, good.length / 2));
  assert.match(code(() => openProject(dir)), /^BAD_PROJECT: .*piggyback\.json is not a valid .*invalid JSON/);
  fs.writeFileSync(file, JSON.stringify({ ...JSON.parse(good), format: 'other' }));
  assert.match(code(() => openProject(dir)), /^BAD_PROJECT: .*piggyback\.json.*format is "other"/);
  fs.writeFileSync(file, JSON.stringify({ ...JSON.parse(good), version: 2 }));
  assert.match(code(() => openProject(dir)), /^BAD_PROJECT: .*version 2/);
  fs.writeFileSync(file, JSON.stringify({ ...JSON.parse(good), layers: [{ name: 'x', kind: 'dense', shape: [2, 2], size: 5 }] }));
  assert.match(code(() => openProject(dir)), /^BAD_PROJECT: .*layers\[0\] has size 5/);
  const e = (() => { try { openProject(dir); } catch (x) { return x as PiggybackError; } })()!;
  assert.ok(!e.oneLine().includes('\n'));
});

test('open with expected backbone: checksum mismatch and shape mismatch', () => {
  const dir = newProject();
  const other = 'cd'.repeat(32);
  const msg = code(() => openProject(dir, { sha256: other, layers: LAYERS, modelPath: '/m/model.json' }));
  assert.match(msg, /^BACKBONE_MISMATCH: backbone weights changed: project expects sha256 abababababab\.\. but model\.json at .*model\.json has cdcdcdcdcdcd\.\./);
  const changed = LAYERS.map((l) => (l.name === 'conv2' ? { ...l, shape: [3, 3, 8, 32], size: 2304 } : l));
  assert.match(code(() => openProject(dir, { sha256: other, layers: changed })), /^SHAPE_MISMATCH: layer conv2 shape mismatch: project expects \[3,3,8,16\] but the model has \[3,3,8,32\]/);
  const renamed = LAYERS.map((l, i) => (i === 1 ? { ...l, name: 'dw2' } : l));
  assert.match(code(() => openProject(dir, { sha256: SHA, layers: renamed })), /^SHAPE_MISMATCH: masked layer #2 differs: project expects dw .* but the model has dw2/);
  assert.match(code(() => openProject(dir, { sha256: SHA, layers: LAYERS.slice(0, 3) })), /^SHAPE_MISMATCH: masked layer odd \[37,1\] is missing from the model/);
});

test('save/load round-trips exactly (binary, ternary, BN, history, evaluation)', () => {
  const dir = newProject();
  for (const [a, kind, bn] of [[artifacts('bin', 1), 'binary', false], [artifacts('tern', 2, 'ternary', true), 'ternary', true]] as const) {
    saveTask(dir, a);
    const b = loadTask(dir, a.name);
    assert.equal(b.options.maskKind, kind);
    assert.equal(b.masks.length, a.masks.length);
    a.masks.forEach((m, l) => {
      assert.equal(b.masks[l].constructor, kind === 'ternary' ? Int8Array : Uint8Array);
      assert.deepEqual([...b.masks[l]], [...m], `layer ${l}`);
    });
    assert.deepEqual(b.head, a.head);
    assert.deepEqual(b.history, a.history);
    assert.deepEqual(b.evaluation, a.evaluation);
    assert.deepEqual(b.options, a.options);
    assert.deepEqual(b.classNames, a.classNames);
    assert.equal(b.testAccuracy, a.testAccuracy);
    assert.equal(b.trainSeconds, a.trainSeconds);
    assert.equal(b.createdAt, a.createdAt);
    assert.deepEqual(b.dataLimits, { trainPerClass: 50, valFraction: 0.1 });
    assert.deepEqual(b.baselines, []);
    if (bn) assert.deepEqual(b.bn, a.bn);
    else assert.equal(b.bn, undefined);
  }
  assert.deepEqual(listTasks(dir), ['bin', 'tern']);
  const packed = loadPackedMasks(dir, 'tern');
  assert.equal(packed.length, LAYERS.length);
  assert.ok(packed[0].negWords);
  assert.equal(packed[3].length, 37);
  const pb = loadPackedMasks(dir, 'bin');
  assert.equal(pb[0].negWords, undefined);
  assert.deepEqual(unpackBinary(pb[2].words, pb[2].length), artifacts('bin', 1).masks[2]);
});

test('save validates names, mask count/lengths/values and head shape', () => {
  const dir = newProject();
  assert.match(code(() => saveTask(dir, { ...artifacts('x', 1), name: '../evil' })), /^BAD_ARGUMENT: invalid task name/);
  assert.match(code(() => saveTask(dir, { ...artifacts('x', 1), name: '.tmp-x' })), /^BAD_ARGUMENT/);
  const a = artifacts('x', 1);
  assert.match(code(() => saveTask(dir, { ...a, masks: a.masks.slice(1) })), /^SHAPE_MISMATCH: task 'x' has 4 masks but the project has 5/);
  assert.match(code(() => saveTask(dir, { ...a, masks: a.masks.map((m, i) => (i === 2 ? m.subarray(1) : m)) })), /^SHAPE_MISMATCH: mask for layer conv2 has 1151 entries, expected 1152/);
  const bad = a.masks.map((m) => m.slice());
  bad[1][5] = 2;
  assert.match(code(() => saveTask(dir, { ...a, masks: bad })), /^BAD_ARGUMENT: mask for layer dw holds 2 at index 5/);
  assert.match(code(() => saveTask(dir, { ...a, head: { ...a.head, bias: new Float32Array(3) } })), /^BAD_ARGUMENT: head bias/);
  assert.deepEqual(listTasks(dir), []);
  assert.deepEqual(fs.readdirSync(path.join(dir, 'tasks')), []);
});

test('bytes and bits per masked weight: ~1 bit binary, ~2 bits ternary plus header', () => {
  const dir = newProject();
  saveTask(dir, artifacts('b', 1));
  saveTask(dir, artifacts('t', 2, 'ternary'));
  const b = taskBytes(dir, 'b');
  const t = taskBytes(dir, 't');
  const header = 16 + 4 * LAYERS.length;
  const words = LAYERS.reduce((s, l) => s + Math.ceil(l.size / 32), 0);
  // Random masks barely compress; the stored file is never larger than plain packing.
  assert.ok(b.maskBytes <= header + 4 * words);
  assert.ok(t.maskBytes <= header + 8 * words);
  assert.equal(b.rawBitsPerMaskedWeight, ((header + 4 * words) * 8) / MASKED);
  assert.equal(t.rawBitsPerMaskedWeight, ((header + 8 * words) * 8) / MASKED);
  assert.equal(b.bitsPerMaskedWeight, (b.maskBytes * 8) / MASKED);
  assert.ok(b.rawBitsPerMaskedWeight > 1 && b.rawBitsPerMaskedWeight < 1.2, `${b.rawBitsPerMaskedWeight}`);
  assert.ok(t.rawBitsPerMaskedWeight > 2 && t.rawBitsPerMaskedWeight < 2.2, `${t.rawBitsPerMaskedWeight}`);
  const files = ['task.json', 'mask.bin', 'head.bin'].reduce((s, f) => s + fs.statSync(path.join(dir, 'tasks', 'b', f)).size, 0);
  assert.equal(b.bytes, files);
  assert.equal(fs.statSync(path.join(dir, 'tasks', 'b', 'head.bin')).size, (32 * 10 + 10) * 4);
});

test('truncated or corrupt mask.bin -> BAD_MASK_FILE naming the file and the expectation', () => {
  const dir = newProject();
  saveTask(dir, artifacts('a', 1));
  const file = path.join(dir, 'tasks', 'a', 'mask.bin');
  const good = fs.readFileSync(file);
  fs.writeFileSync(file, good.subarray(0, good.length - 4));
  let msg = code(() => loadTask(dir, 'a'));
  assert.match(msg, /^BAD_MASK_FILE: .*tasks.a.mask\.bin.*truncated.*expected \d+/);
  assert.ok(msg.includes(String(good.length)), msg);
  assert.match(code(() => loadPackedMasks(dir, 'a')), /^BAD_MASK_FILE/);
  fs.writeFileSync(file, good.subarray(0, 10));
  assert.match(code(() => loadTask(dir, 'a')), /^BAD_MASK_FILE: .*truncated/);
  // same size, flipped bit in the data: checksum catches it
  const flipped = Buffer.from(good);
  flipped[flipped.length - 1] ^= 1;
  fs.writeFileSync(file, flipped);
  assert.match(code(() => loadTask(dir, 'a')), /^BAD_MASK_FILE: .*mask\.bin is corrupt: sha256/);
  // wrong layer length in the header
  const hdr = Buffer.from(good);
  hdr.writeUInt32LE(999, 16 + 4 * 2);
  fs.writeFileSync(file, hdr);
  assert.match(code(() => loadTask(dir, 'a')), /^BAD_MASK_FILE: .*layer conv2 has 999 entries, expected 1152/);
  const magic = Buffer.from(good);
  magic[0] = 0;
  fs.writeFileSync(file, magic);
  assert.match(code(() => loadTask(dir, 'a')), /^BAD_MASK_FILE: .*magic/);
  fs.rmSync(file);
  assert.match(code(() => loadTask(dir, 'a')), /^BAD_MASK_FILE: .*mask file .*mask\.bin is missing \(task\.json expects \d+ bytes\)/);
  // stats still work and report the task as failed
  const stats = readProjectStats(dir);
  assert.equal(stats.tasks[0].state, 'failed');
});

test('corrupt task.json -> BAD_PROJECT naming the file', () => {
  const dir = newProject();
  saveTask(dir, artifacts('a', 1));
  fs.writeFileSync(path.join(dir, 'tasks', 'a', 'task.json'), '{"format": "piggyback-task", ');
  assert.match(code(() => loadTask(dir, 'a')), /^BAD_PROJECT: .*tasks.a.task\.json is not a valid task file: invalid JSON/);
});

test('TASK_EXISTS without overwrite; overwrite replaces; unknown task lists existing names', () => {
  const dir = newProject();
  saveTask(dir, artifacts('a', 1));
  saveTask(dir, artifacts('b', 2));
  assert.match(code(() => saveTask(dir, artifacts('a', 3))), /^TASK_EXISTS: task 'a' already exists/);
  assert.deepEqual(loadTask(dir, 'a').masks, artifacts('a', 1).masks);
  saveTask(dir, artifacts('a', 3, 'ternary'), { overwrite: true });
  assert.deepEqual([...loadTask(dir, 'a').masks[0]], [...artifacts('a', 3, 'ternary').masks[0]]);
  assert.deepEqual(listTasks(dir), ['a', 'b']);
  assert.deepEqual(fs.readdirSync(path.join(dir, 'tasks')).sort(), ['a', 'b']);
  assert.match(code(() => loadTask(dir, 'zzz')), /^UNKNOWN_TASK: unknown task 'zzz' .*existing tasks: a, b$/);
  assert.match(code(() => taskBytes(dir, 'zzz')), /^UNKNOWN_TASK/);
});

test('deleteTask removes manifest entry and folder; unknown delete errors', () => {
  const dir = newProject();
  saveTask(dir, artifacts('a', 1));
  saveTask(dir, artifacts('b', 2));
  deleteTask(dir, 'a');
  assert.deepEqual(listTasks(dir), ['b']);
  assert.deepEqual(fs.readdirSync(path.join(dir, 'tasks')), ['b']);
  assert.match(code(() => loadTask(dir, 'a')), /^UNKNOWN_TASK: .*existing tasks: b$/);
  assert.match(code(() => deleteTask(dir, 'a')), /^UNKNOWN_TASK/);
  deleteTask(dir, 'b');
  assert.match(code(() => loadTask(dir, 'b')), /existing tasks: \(none\)/);
  saveTask(dir, artifacts('a', 4)); // name reusable
  assert.deepEqual(listTasks(dir), ['a']);
});

test('saveBaseline adds and replaces by method; readProjectStats reflects disk', () => {
  const dir = newProject();
  saveTask(dir, artifacts('a', 1));
  saveTask(dir, artifacts('b', 2, 'ternary'));
  saveTask(dir, artifacts('c', 3));
  const base = { method: 'classifier' as const, testAccuracy: 0.5, trainSeconds: 1, history: [], bytesIfStored: 1320 };
  saveBaseline(dir, 'a', base);
  saveBaseline(dir, 'a', { ...base, method: 'finetune', bytesIfStored: 99 });
  saveBaseline(dir, 'a', { ...base, testAccuracy: 0.7 });
  const bl = loadTask(dir, 'a').baselines!;
  assert.equal(bl.length, 2);
  assert.deepEqual(bl.map((b) => [b.method, b.testAccuracy]).sort(), [['classifier', 0.7], ['finetune', 0.5]]);
  assert.match(code(() => saveBaseline(dir, 'nope', base)), /^UNKNOWN_TASK/);

  const s = readProjectStats(dir);
  assert.equal(s.dir, path.resolve(dir));
  assert.deepEqual(s.tasks.map((t) => t.name), ['a', 'b', 'c']);
  assert.deepEqual(s.layers, LAYERS);
  assert.equal(s.backbone.sha256, SHA);
  const arts = [artifacts('a', 1), artifacts('b', 2, 'ternary'), artifacts('c', 3)];
  s.tasks.forEach((t, i) => {
    assert.equal(t.state, 'trained');
    const want = arts[i].masks.map((m) => Array.from(m).filter((v) => v === 0).length / m.length);
    t.layerSparsity.forEach((v, l) => assert.ok(Math.abs(v - want[l]) < 1e-12));
    assert.equal(t.bytes, taskBytes(dir, t.name).bytes);
    assert.deepEqual(t.history, arts[i].history);
  });
  assert.equal(s.tasks[0].baselines.length, 2);
  const ov = computeOverlap(['a', 'b', 'c'].map((n) => loadPackedMasks(dir, n)));
  assert.deepEqual(s.overlap.overall, ov.overall);
  assert.equal(s.overlap.perLayer.length, LAYERS.length);
  assert.equal(s.overlap.overall.jaccard[0][0], 1);
  assert.ok((s.overlap.overall.hamming[0][1] ?? 0) > 0);
  // empty project
  const empty = readProjectStats(newProject());
  assert.deepEqual(empty.tasks, []);
  assert.deepEqual(empty.overlap.overall, { jaccard: [], hamming: [] });
  assert.equal(empty.overlap.perLayer.length, LAYERS.length);
});

test('sparse, clustered masks are stored below 0.6 bits per weight and load back exactly', () => {
  const dir = newProject();
  const a = artifacts('sparse', 9);
  // Like trained masks: mostly kept, with switched-off weights in runs.
  a.masks = LAYERS.map((l, li) => {
    const m = new Uint8Array(l.size).fill(1);
    const r = rng(100 + li);
    for (let i = 0; i < l.size; i++) if (r() < 0.01) for (let k = 0; k < 8 && i + k < l.size; k++) m[i + k] = 0;
    return m;
  });
  saveTask(dir, a);
  const b = taskBytes(dir, 'sparse');
  assert.ok(b.bitsPerMaskedWeight < 0.6, `compressed ${b.bitsPerMaskedWeight} bits per weight`);
  assert.ok(b.rawBitsPerMaskedWeight > 1);
  assert.deepEqual(loadTask(dir, 'sparse').masks, a.masks);
  // A damaged compressed body is a clear BAD_MASK_FILE, not a crash.
  const file = path.join(dir, 'tasks', 'sparse', 'mask.bin');
  const buf = fs.readFileSync(file);
  fs.writeFileSync(file, buf.subarray(0, buf.length - 20));
  assert.match(code(() => loadTask(dir, 'sparse')), /^BAD_MASK_FILE: mask file .*mask\.bin is corrupt/);
});

test('sparse ternary masks are coded filter by filter and load back exactly', () => {
  const dir = newProject();
  const a = artifacts('tern', 11, 'ternary');
  a.masks = LAYERS.map((l, li) => {
    const m = new Int8Array(l.size).fill(1);
    const r = rng(200 + li);
    for (let i = 0; i < l.size; i++) if (r() < 0.05) m[i] = r() < 0.5 ? 0 : -1;
    return m;
  });
  saveTask(dir, a);
  const b = taskBytes(dir, 'tern');
  assert.ok(b.bitsPerMaskedWeight < b.rawBitsPerMaskedWeight / 2, `compressed ${b.bitsPerMaskedWeight} of ${b.rawBitsPerMaskedWeight}`);
  assert.deepEqual(loadTask(dir, 'tern').masks, a.masks);
  const stats = readProjectStats(dir).tasks[0];
  const off = a.masks.reduce((n, m) => n + m.filter((v) => v === 0).length, 0);
  assert.ok(Math.abs((stats.sparsity ?? NaN) - off / MASKED) < 1e-12, 'sparsity read from the coded file');
});

test('the what-if\'s thread-pool encoder writes the same mask.bin bytes as the save path', async () => {
  const { encodeMaskFile, encodeMaskFileAsync } = await import('../../src/core/project/maskFile');
  const { packBinary } = await import('../../src/core/project/bitpack');
  for (const p of [0.01, 0.5]) {
    const masks = LAYERS.map((l, li) => {
      const r = rng(7 + li);
      return Uint8Array.from({ length: l.size }, () => (r() < p ? 0 : 1));
    });
    const packed = masks.map((m) => packBinary(m));
    const sync = Buffer.concat(encodeMaskFile('binary', packed, { compress: { layers: LAYERS } }));
    const async = Buffer.concat(await encodeMaskFileAsync('binary', packed, LAYERS));
    assert.ok(sync.equals(async), `off fraction ${p}: ${sync.byteLength} vs ${async.byteLength} bytes`);
  }
});
