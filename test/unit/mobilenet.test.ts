/**
 * Generality on a real third-party architecture: the ImageNet-initialised MobileNetV2 that
 * npm nsfwjs@4.3.0 ships (depthwise convs, BatchNorm, residual adds, ReLU6), cut before its
 * top and rebuilt for 32x32 inputs.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { tf, useWasm, tmpDir, quadrantDataset } from '../helpers/engineFixtures';
import { Backbone } from '../../src/core/model/backbone';
import { extractNsfwjsMobilenet, MOBILENET_DEFAULT_CUT } from '../../src/core/model/nsfwjsMobilenet';
import { PiggybackNet } from '../../src/core/train/taskNets';
import { trainLoop } from '../../src/core/train/loop';
import { DEFAULT_TRAIN_OPTIONS, type Dataset } from '../../src/core/types';

let bb: Backbone;

before(async () => {
  await useWasm();
  const modelPath = extractNsfwjsMobilenet(path.join(tmpDir('pb-mnv2-'), 'backbone'));
  bb = await Backbone.load(modelPath, { cutAt: MOBILENET_DEFAULT_CUT, inputHW: [32, 32] });
});

test('every conv, depthwise conv and dense kernel is maskable; BN layers are found', () => {
  const kinds = bb.layers.reduce<Record<string, number>>((a, l) => ((a[l.kind] = (a[l.kind] ?? 0) + 1), a), {});
  assert.equal(kinds.depthwise, 11, JSON.stringify(kinds));
  assert.equal(kinds.conv2d, 22, JSON.stringify(kinds));
  assert.equal(bb.bnLayers.length, 33);
  assert.deepEqual(bb.inputShape, [32, 32, 3]);
  assert.equal(bb.layers.find((l) => l.name === 'block_1_depthwise')?.shape.join('x'), '3x3x96x1');
});

test("the ZeroPadding2D before each stride-2 depthwise conv is folded into the conv's padding: no PadV2 runs, the values are the model's", async () => {
  const x = tf.randomUniform([2, 32, 32, 3], 0, 1, 'float32', 9) as tf.Tensor4D;
  const pads = bb.model.layers.filter((l) => l.getClassName() === 'ZeroPadding2D').length;
  assert.equal(pads, 4, 'the nsfwjs cut has 4 ZeroPadding2D layers');
  const profile = await tf.profile(() => bb.features(x, bb.frozenContext()));
  assert.ok(!profile.kernelNames.includes('PadV2'), `kernels run: ${profile.kernelNames.join(', ')}`);
  const ref = await tf.profile(() => bb.referenceFeatures(x));
  assert.ok(ref.kernelNames.includes('PadV2'), 'the model itself pads (the check is not vacuous)');
  assert.deepEqual(Array.from(tf.tidy(() => bb.features(x, bb.frozenContext())).dataSync()), Array.from(bb.referenceFeatures(x).dataSync()));
  tf.dispose(x);
});

test('untrained masks reproduce MobileNetV2 exactly, and training moves only the task', async () => {
  const x = tf.randomUniform([3, 32, 32, 3], 0, 1, 'float32', 5) as tf.Tensor4D;
  const ref = Array.from(bb.referenceFeatures(x).dataSync());
  const net = new PiggybackNet(bb, 4, { threshold: 5e-3, maskScale: 1e-2, maskKind: 'binary', bnMode: 'frozen', seed: 1, name: 'mnv2' });
  assert.deepEqual(Array.from(net.features(x, false).dataSync()), ref);
  const kernelsBefore = bb.kernels.map((k) => Array.from(k.dataSync()));
  // A few Adam steps on a tiny RGB set: gradients reach every masked layer, depthwise included.
  const small = quadrantDataset(32, 3, 32);
  const rgb: Dataset = { ...small, channels: 3, images: Float32Array.from({ length: small.images.length * 3 }, (_, i) => small.images[Math.floor(i / 3)]) };
  await trainLoop(net, { train: rgb, test: rgb }, { ...DEFAULT_TRAIN_OPTIONS, epochs: 1, batchSize: 16, lrMask: 5e-3, lrHead: 1e-2 }, { task: 'mnv2', method: 'piggyback', backend: 'wasm', layerNames: [] });
  const off = net.masks().map((m) => m.filter((v) => v === 0).length);
  assert.ok(off.filter((n) => n > 0).length > 20, `most layers should have changed masks: ${off}`);
  assert.ok(bb.layers.some((l, i) => l.kind === 'depthwise' && off[i] > 0), 'depthwise masks must train');
  bb.kernels.forEach((k, i) => assert.deepEqual(Array.from(k.dataSync()), kernelsBefore[i], `backbone kernel ${i} changed`));
  assert.deepEqual(Array.from(bb.referenceFeatures(x).dataSync()), ref, 'backbone output changed');
  net.dispose();
});
