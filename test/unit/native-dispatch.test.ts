/**
 * On the 'native' backend, one Piggyback mask-training step (the engine's trainStep: forward,
 * STE backward, Adam on scores and head) of the reference CNN, of nsfwjs' MobileNetV2 (32 px) and
 * of a small residual net runs every hot kernel in the addon: no convolution or convolution
 * gradient, matmul or batch norm, and no element-wise or data-movement kernel on a large tensor
 * may run as the pure-JS cpu kernel (a fallback, or a kernel the backend does not replace).
 * Only small tensors (the loss over [batch, classes], argmax, the hit count) may stay in JS.
 * Skipped where the addon is not built.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { tf } from '../../src/core/tf';
import { initBackend } from '../../src/core/backend';

import { nativeStats, resetNativeStats } from '../../src/core/native/nativeBackend';
import { Backbone } from '../../src/core/model/backbone';
import { buildReferenceCnn } from '../../src/core/model/referenceCnn';
import { extractNsfwjsMobilenet, MOBILENET_DEFAULT_CUT } from '../../src/core/model/nsfwjsMobilenet';
import { PiggybackNet } from '../../src/core/train/taskNets';
import { trainStep } from '../../src/core/train/loop';
import { smallResidualNet } from '../helpers/residualNet';
import { adam } from '../../src/core/train/adam';
import { nativeSkip } from '../helpers/nativeSkip';

const skip = nativeSkip('native addon not built (npm run build:native): nothing to check');

/** Kernels that must never run in JS, whatever their size. */
const ALWAYS_NATIVE = new Set([
  'Conv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter', 'FusedConv2D',
  'DepthwiseConv2dNative', 'DepthwiseConv2dNativeBackpropInput', 'DepthwiseConv2dNativeBackpropFilter', 'FusedDepthwiseConv2D',
  'BatchMatMul', '_FusedMatMul', 'FusedBatchNorm',
]);
/** A JS kernel that computed an output this large (elements) is a hot kernel left in JS. */
const LARGE = 2048;

before(async () => {
  if (!skip) await initBackend('native');
});

interface StepReport {
  native: Map<string, number>;
  /** Hot kernels that ran as JS: "name xcalls (largest output n)". */
  hotInJs: string[];
}

/** One mask-training step after one warm-up step (the first creates Adam's moment variables). */
function oneStep(backbone: Backbone, inShape: [number, number, number], batch: number): StepReport {
  const net = new PiggybackNet(backbone, 10, { threshold: 5e-3, maskScale: 1e-2, maskKind: 'binary', bnMode: 'frozen', seed: 1, name: 'dispatch' });
  const optimizers = { mask: adam(1e-3), head: adam(1e-3) };
  const data = (i: number) => ({
    x: tf.randomUniform([batch, ...inShape], 0, 1, 'float32', i) as tf.Tensor4D,
    y: tf.tensor1d(Array.from({ length: batch }, (_, j) => (j * 3 + i) % 10), 'int32'),
  });
  try {
    const warm = data(1);
    trainStep(net, optimizers, warm);
    const step = data(2);
    resetNativeStats();
    const { loss } = trainStep(net, optimizers, step);
    assert.ok(Number.isFinite(loss), `loss ${loss}`);
    const hotInJs: string[] = [];
    assert.ok((nativeStats.native.get('PiggybackAdam') ?? 0) > 0, 'the fused Adam kernel ran');
    for (const [k, calls] of nativeStats.js) {
      const largest = nativeStats.jsLargest.get(k) ?? 0;
      if (ALWAYS_NATIVE.has(k) || largest >= LARGE) hotInJs.push(`${k} x${calls} (largest output ${largest})`);
    }
    return { native: new Map(nativeStats.native), hotInJs };
  } finally {
    optimizers.mask.dispose();
    optimizers.head.dispose();
    net.dispose();
  }
}

function assertAllNative(what: string, r: StepReport, mustRun: string[]): void {
  assert.deepEqual(r.hotInJs, [], `${what}: hot kernels ran on the JS cpu backend`);
  const missing = mustRun.filter((k) => !(r.native.get(k) ?? 0));
  assert.deepEqual(missing, [], `${what}: these kernels did not run natively (is the check vacuous?)`);
}

const CONV_STEP = ['Conv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter', 'BatchMatMul', 'Multiply', 'Add', 'PiggybackMaskWeight'];

test('reference CNN: a mask-training step runs every hot kernel natively', { skip }, async () => {
  const bb = Backbone.fromModel(buildReferenceCnn(1), 'dispatch', '(in memory)');
  try {
    assertAllNative('reference CNN', oneStep(bb, [28, 28, 1], 16), [...CONV_STEP, 'MaxPool', 'MaxPoolGrad', 'Relu', 'PiggybackBnRelu', 'PiggybackBnClipGrad']);
  } finally {
    bb.dispose();
  }
});

test('MobileNetV2 (nsfwjs, 32 px): a mask-training step runs every hot kernel natively', { skip }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pb-dispatch-'));
  const bb = await Backbone.load(extractNsfwjsMobilenet(path.join(dir, 'backbone')), { cutAt: MOBILENET_DEFAULT_CUT, inputHW: [32, 32] });
  try {
    assertAllNative('MobileNetV2', oneStep(bb, [32, 32, 3], 8), [
      ...CONV_STEP, 'DepthwiseConv2dNative', 'DepthwiseConv2dNativeBackpropInput', 'DepthwiseConv2dNativeBackpropFilter',
      'ClipByValue', 'FusedBatchNorm', 'PiggybackBnClipGrad', 'Mean',
    ]);
  } finally {
    bb.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('small residual net (Add skips, BN, strided and depthwise convs, 1x1 projection, GAP): every hot kernel native', { skip }, async () => {
  const bb = Backbone.fromModel(smallResidualNet(), 'dispatch', '(in memory)');
  try {
    assert.ok(bb.layers.some((l) => l.kind === 'depthwise') && bb.bnLayers.length >= 8);
    assertAllNative('residual net', oneStep(bb, [28, 28, 3], 16), [
      ...CONV_STEP, 'DepthwiseConv2dNative', 'DepthwiseConv2dNativeBackpropInput', 'DepthwiseConv2dNativeBackpropFilter',
      'ClipByValue', 'FusedBatchNorm', 'PiggybackBnClipGrad', 'Mean', 'PiggybackBnRelu',
    ]);
  } finally {
    bb.dispose();
  }
});
