/**
 * A task exported as a standalone TF.js LayersModel: loaded back with tf.loadLayersModel (through
 * the project's file loader), it predicts the engine's logits for that task on real test images,
 * for binary, ternary and per-task-BN masks and for a backbone cut at a feature map (pooled).
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tf, useWasm, savedReferenceCnn, quadrantDataset, writeIdxDataset, tmpDir, snapshotDir } from '../helpers/engineFixtures';
import * as engine from '../../src/core/engine';
import { Backbone } from '../../src/core/model/backbone';
import { loadLayersModelFile } from '../../src/core/model/modelIO';
import { loadTask } from '../../src/core/project/taskFiles';
import { PiggybackNet } from '../../src/core/train/taskNets';
import { PiggybackError } from '../../src/core/errors';

let modelPath: string;
let data: string;
const ds = quadrantDataset(160, 3);
const quick = { epochs: 2, batchSize: 16, lrMask: 1e-3, lrHead: 1e-2, lrDecayEvery: 0 };

before(async () => {
  await useWasm();
  modelPath = await savedReferenceCnn(5);
  data = writeIdxDataset(ds, 128);
});

/** The engine's logits for a stored task, built as restoreTask does. */
async function engineLogits(dir: string, task: string, cutAt: string | null, x: tf.Tensor4D): Promise<Float32Array> {
  const bb = await Backbone.load(modelPath, { cutAt });
  const a = loadTask(dir, task);
  const net = new PiggybackNet(bb, a.classNames.length, { ...a.options, name: task }, { masks: a.masks, head: a.head, bn: a.bn });
  const y = tf.tidy(() => net.logits(x, false).dataSync() as Float32Array);
  net.dispose();
  bb.dispose();
  return y;
}

async function checkExport(dir: string, task: string, cutAt: string | null): Promise<void> {
  const out = path.join(tmpDir('pb-export-'), task);
  const r = await engine.exportTaskModel({ projectDir: dir, task, outDir: out, backend: 'wasm' });
  assert.equal(r.modelPath, path.join(out, 'model.json'));
  assert.ok(r.check.maxAbsLogitDiff < 1e-4, `self-check ${r.check.maxAbsLogitDiff}`);
  const json = JSON.parse(fs.readFileSync(r.modelPath, 'utf8'));
  assert.equal(json.format, 'layers-model');
  assert.equal(json.userDefinedMetadata.piggyback.task, task);
  assert.deepEqual(json.userDefinedMetadata.piggyback.classNames, loadTask(dir, task).classNames);

  const { model } = await loadLayersModelFile(r.modelPath); // tf.loadLayersModel under the hood
  const n = 32;
  const x = tf.tensor4d(ds.images.subarray(128 * 784, (128 + n) * 784), [n, 28, 28, 1]);
  const got = tf.tidy(() => (model.predict(x) as tf.Tensor).dataSync() as Float32Array);
  const want = await engineLogits(dir, task, cutAt, x);
  assert.equal(got.length, n * 4);
  let maxDiff = 0;
  let maxAbs = 0;
  for (let i = 0; i < got.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(got[i] - want[i]));
    maxAbs = Math.max(maxAbs, Math.abs(want[i]));
  }
  assert.ok(maxAbs > 0.1, 'logits are not trivially zero');
  assert.ok(maxDiff < 1e-4, `${task}: max |logit difference| ${maxDiff} (logits up to ${maxAbs})`);

  // The masks are baked in: conv1's kernel is W ⊙ m exactly.
  const a = loadTask(dir, task);
  const bb = await Backbone.load(modelPath, { cutAt });
  const w = bb.kernels[0].dataSync();
  const k = model.getLayer('conv1').getWeights()[0].dataSync();
  let zeros = 0;
  for (let i = 0; i < w.length; i++) {
    assert.ok(k[i] === a.masks[0][i] * w[i], `conv1 kernel entry ${i}: ${k[i]} vs ${a.masks[0][i]} * ${w[i]}`); // === : 0 and -0 are the same weight
    if (a.masks[0][i] === 0) zeros++;
  }
  assert.ok(zeros > 0, 'training switched some conv1 weights off');
  bb.dispose();
  model.dispose();
  x.dispose();
}

test('binary, ternary and per-task-BN tasks export and predict the engine\'s logits', async () => {
  const dir = path.join(tmpDir('pb-proj-'), 'p');
  await engine.createProject({ projectDir: dir, modelPath, backend: 'wasm' });
  await engine.trainTask({ projectDir: dir, task: 'bin', dataset: data, options: { ...quick, seed: 1, lrMask: 5e-3 }, backend: 'wasm' });
  await engine.trainTask({ projectDir: dir, task: 'ter', dataset: data, options: { ...quick, seed: 2, maskKind: 'ternary', lrMask: 5e-3 }, backend: 'wasm' });
  await engine.trainTask({ projectDir: dir, task: 'bn', dataset: data, options: { ...quick, seed: 3, bnMode: 'trainable', lrMask: 5e-3 }, backend: 'wasm' });
  assert.ok(loadTask(dir, 'ter').masks.some((m) => Array.from(m).some((v) => v === -1)), 'the ternary task has -1 entries');
  for (const t of ['bin', 'ter', 'bn']) await checkExport(dir, t, null);

  // A non-empty folder is refused and left alone.
  const busy = tmpDir('pb-busy-');
  fs.writeFileSync(path.join(busy, 'keep.txt'), 'x');
  const before = snapshotDir(busy);
  await assert.rejects(engine.exportTaskModel({ projectDir: dir, task: 'bin', outDir: busy, backend: 'wasm' }),
    (e) => e instanceof PiggybackError && e.code === 'BAD_ARGUMENT' && /is not empty/.test(e.message));
  assert.deepEqual(snapshotDir(busy), before);
  await assert.rejects(engine.exportTaskModel({ projectDir: dir, task: 'nope', outDir: path.join(busy, 'x'), backend: 'wasm' }),
    (e) => e instanceof PiggybackError && e.code === 'UNKNOWN_TASK');
});

test('a backbone cut at a feature map exports with its pooling', async () => {
  const dir = path.join(tmpDir('pb-proj-'), 'cut');
  await engine.createProject({ projectDir: dir, modelPath, cutAt: 'relu4', backend: 'wasm' });
  await engine.trainTask({ projectDir: dir, task: 'pooled', dataset: data, options: { ...quick, seed: 4, bnMode: 'trainable', lrMask: 5e-3 }, backend: 'wasm' });
  await checkExport(dir, 'pooled', 'relu4');
});

test("nsfwjs' MobileNetV2 (depthwise, residual adds, ReLU6): a ternary per-task-BN task exports and predicts the engine's logits", async () => {
  const { openProject } = await import('../../src/core/project/projectDir');
  const { saveTask } = await import('../../src/core/project/taskFiles');
  const { DEFAULT_TRAIN_OPTIONS } = await import('../../src/core/types');
  const { rng } = await import('../helpers/xorshift');
  const dir = path.join(tmpDir('pb-proj-'), 'mnv2');
  await engine.createProject({ projectDir: dir, modelPath: 'nsfwjs-mobilenetv2', backend: 'wasm' });
  const h = openProject(dir);
  const opts = { cutAt: h.manifest.backbone.cutAt, inputHW: [32, 32] as [number, number] };
  const bb = await Backbone.load(h.modelPath, opts);
  // A task made by hand: random ternary masks, a random head, BN parameters moved off the backbone's.
  const r = rng(11);
  const noisy = (t: tf.Tensor, scale: number, positive = false) => Float32Array.from(t.dataSync(), (v) => (positive ? Math.abs(v) * (0.5 + r()) + 1e-3 : v + scale * (r() - 0.5)));
  const a = {
    name: 'hand', dataset: 'mnist', classNames: ['a', 'b', 'c', 'd'],
    options: { ...DEFAULT_TRAIN_OPTIONS, maskKind: 'ternary' as const, bnMode: 'trainable' as const },
    masks: bb.layers.map((l) => Int8Array.from({ length: l.size }, () => { const u = r(); return u < 0.15 ? 0 : u < 0.25 ? -1 : 1; })),
    head: { kernel: Float32Array.from({ length: bb.featureSize * 4 }, () => r() - 0.5), shape: [bb.featureSize, 4] as [number, number], bias: Float32Array.from({ length: 4 }, () => r() - 0.5) },
    bn: bb.bnLayers.map((b) => ({ layer: b.name, gamma: noisy(b.frozen.gamma, 0.2), beta: noisy(b.frozen.beta, 0.2), movingMean: noisy(b.frozen.movingMean, 0.2), movingVariance: noisy(b.frozen.movingVariance, 0, true) })),
    history: [], testAccuracy: NaN, trainSeconds: 0,
  };
  assert.ok(bb.layers.some((l) => l.kind === 'depthwise'));
  saveTask(dir, a);
  const out = path.join(tmpDir('pb-export-'), 'mnv2');
  const res = await engine.exportTaskModel({ projectDir: dir, task: 'hand', outDir: out, backend: 'wasm' });
  const { model } = await loadLayersModelFile(res.modelPath);
  const x = tf.randomUniform([6, 32, 32, 3], 0, 1, 'float32', 3) as tf.Tensor4D;
  const net = new PiggybackNet(bb, 4, { ...a.options, name: 'hand' }, { masks: a.masks, head: a.head, bn: a.bn });
  const want = tf.tidy(() => net.logits(x, false).dataSync() as Float32Array);
  const got = tf.tidy(() => (model.predict(x) as tf.Tensor).dataSync() as Float32Array);
  let maxDiff = 0;
  let maxAbs = 0;
  for (let i = 0; i < got.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(got[i] - want[i]));
    maxAbs = Math.max(maxAbs, Math.abs(want[i]));
  }
  assert.equal(got.length, 24);
  assert.ok(maxAbs > 0.1, `logits ${maxAbs}`);
  assert.ok(maxDiff <= 1e-4 * Math.max(1, maxAbs), `max |logit difference| ${maxDiff} (logits up to ${maxAbs})`);
  // A depthwise kernel really holds W ⊙ m with the -1 entries negated.
  const di = bb.layers.findIndex((l) => l.kind === 'depthwise');
  const w = bb.kernels[di].dataSync();
  const k = model.getLayer(bb.layers[di].name).getWeights()[0].dataSync();
  for (let i = 0; i < w.length; i++) assert.ok(k[i] === a.masks[di][i] * w[i], `${bb.layers[di].name}[${i}]`);
  net.dispose();
  model.dispose();
  bb.dispose();
  x.dispose();
});

test('a Sequential user model kept whole, BN without scale/center trained per task, depthwise multiplier 2: exports exactly', async () => {
  const { saveLayersModelFile } = await import('../../src/core/model/modelIO');
  const { saveTask } = await import('../../src/core/project/taskFiles');
  const { DEFAULT_TRAIN_OPTIONS } = await import('../../src/core/types');
  const { rng } = await import('../helpers/xorshift');
  const m = tf.sequential({ layers: [
    tf.layers.conv2d({ inputShape: [12, 12, 2], filters: 4, kernelSize: 3, name: 'c1' }),
    tf.layers.batchNormalization({ center: false, scale: false, name: 'b1' }),
    tf.layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, useBias: false, name: 'dw' }),
    tf.layers.flatten({ name: 'fl' }),
    tf.layers.dense({ units: 5, useBias: false, activation: 'relu', name: 'd1' }),
  ] });
  const p = await saveLayersModelFile(m, tmpDir('pb-seq-'));
  m.dispose();
  const dir = path.join(tmpDir('pb-proj-'), 'seq');
  await engine.createProject({ projectDir: dir, modelPath: p, keepTop: true, backend: 'wasm' });
  const bb = await Backbone.load(p);
  const r = rng(5);
  const vec = (n: number, lo: number, hi: number) => Float32Array.from({ length: n }, () => lo + (hi - lo) * r());
  const a = {
    name: 't', dataset: 'x', classNames: ['a', 'b', 'c'], options: { ...DEFAULT_TRAIN_OPTIONS, bnMode: 'trainable' as const },
    masks: bb.layers.map((l) => Uint8Array.from({ length: l.size }, () => (r() < 0.7 ? 1 : 0))),
    head: { kernel: vec(bb.featureSize * 3, -0.5, 0.5), shape: [bb.featureSize, 3] as [number, number], bias: vec(3, -0.5, 0.5) },
    bn: bb.bnLayers.map((b) => ({ layer: b.name, gamma: vec(b.channels, 0.5, 1.5), beta: vec(b.channels, -0.5, 0.5), movingMean: vec(b.channels, -0.5, 0.5), movingVariance: vec(b.channels, 0.5, 1.5) })),
    history: [], testAccuracy: NaN, trainSeconds: 0,
  };
  saveTask(dir, a);
  const res = await engine.exportTaskModel({ projectDir: dir, task: 't', outDir: path.join(tmpDir('pb-export-'), 'seq'), backend: 'wasm' });
  const { model } = await loadLayersModelFile(res.modelPath);
  assert.deepEqual(model.layers.map((l) => l.name).slice(-2), ['d1', 'piggyback_head']);
  const x = tf.randomUniform([5, 12, 12, 2], 0, 1, 'float32', 2) as tf.Tensor4D;
  const net = new PiggybackNet(bb, 3, { ...a.options, name: 't' }, { masks: a.masks, head: a.head, bn: a.bn });
  const got = tf.tidy(() => (model.predict(x) as tf.Tensor).dataSync() as Float32Array);
  const want = tf.tidy(() => net.logits(x, false).dataSync() as Float32Array);
  const maxDiff = got.reduce((mx, v, i) => Math.max(mx, Math.abs(v - want[i])), 0);
  assert.ok(maxDiff < 1e-4, `max |logit difference| ${maxDiff}`);
  // The task's gamma/beta are in the export although the backbone's BN had neither.
  const bnWeights = model.getLayer('b1').getWeights().map((w) => Array.from(w.dataSync()));
  assert.deepEqual(bnWeights[0], Array.from(a.bn[0].gamma));
  net.dispose();
  model.dispose();
  bb.dispose();
  x.dispose();
});
