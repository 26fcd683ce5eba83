/**
 * The method's core: the straight-through gradient is what the paper says (checked against
 * hand-computed and finite-difference gradients), and an untrained mask reproduces the
 * backbone exactly.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf, useWasm } from '../helpers/engineFixtures';
import { makeMaskedWeight, maskFromScores } from '../../src/core/model/ste';
import { Backbone } from '../../src/core/model/backbone';
import { buildReferenceCnn } from '../../src/core/model/referenceCnn';
import { PiggybackNet } from '../../src/core/train/taskNets';

before(useWasm);

test('binarizer and ternarizer map scores as the paper defines', () => {
  const s = tf.tensor1d([-0.02, -1e-9, 0, 0.004, 0.005, 0.0051, 0.01]);
  assert.deepEqual(Array.from(maskFromScores(s, 5e-3, 'binary').dataSync()), [0, 0, 0, 0, 0, 1, 1]);
  assert.deepEqual(Array.from(maskFromScores(s, 5e-3, 'ternary').dataSync()), [-1, -1, 0, 0, 0, 1, 1]);
});

test('STE gradient of a masked dense layer equals dL/dW_eff * W, by hand and by finite differences', () => {
  // L = sum((x @ (W ⊙ m(s))) ⊙ r), so dL/dW_eff[i][j] = sum_b x[b][i] r[b][j].
  const B = 3, I = 4, O = 5;
  const rnd = (n: number, k: number) => Array.from({ length: n }, (_, i) => Math.sin(1.3 * i + k) * 0.7);
  const x = rnd(B * I, 1), r = rnd(B * O, 2), W = rnd(I * O, 3);
  const scores = rnd(I * O, 4).map((v) => v * 0.01); // some above, some below the threshold
  const f = makeMaskedWeight(tf.tensor2d(W, [I, O]), 5e-3, 'binary');
  const loss = (s: tf.Tensor) => tf.sum(tf.mul(tf.matMul(tf.tensor2d(x, [B, I]), f(s) as tf.Tensor2D), tf.tensor2d(r, [B, O])));
  const g = tf.grad(loss)(tf.tensor2d(scores, [I, O])).dataSync();

  // Hand-derived STE gradient.
  for (let i = 0; i < I; i++)
    for (let j = 0; j < O; j++) {
      let dWeff = 0;
      for (let b = 0; b < B; b++) dWeff += x[b * I + i] * r[b * O + j];
      assert.ok(Math.abs(g[i * O + j] - dWeff * W[i * O + j]) < 1e-5, `hand gradient mismatch at ${i},${j}`);
    }

  // Finite differences on the effective weight (the mask's threshold has zero derivative;
  // the STE passes dL/dm = dL/dW_eff ⊙ W through to the scores).
  const lossOfWeff = (weff: number[]) => {
    let L = 0;
    for (let b = 0; b < B; b++) for (let j = 0; j < O; j++) {
      let y = 0;
      for (let i = 0; i < I; i++) y += x[b * I + i] * weff[i * O + j];
      L += y * r[b * O + j];
    }
    return L;
  };
  const m = scores.map((s) => (s > 5e-3 ? 1 : 0));
  const weff = W.map((w, k) => w * m[k]);
  const h = 1e-6;
  for (let k = 0; k < I * O; k++) {
    const up = weff.slice(); up[k] += h;
    const dn = weff.slice(); dn[k] -= h;
    const numeric = ((lossOfWeff(up) - lossOfWeff(dn)) / (2 * h)) * W[k];
    assert.ok(Math.abs(g[k] - numeric) < 1e-4, `finite-difference mismatch at ${k}: ${g[k]} vs ${numeric}`);
  }
});

test('STE gradient through a strided conv matches the gradient w.r.t. the effective kernel times W', () => {
  const x = tf.randomUniform([2, 9, 9, 3], -1, 1, 'float32', 1) as tf.Tensor4D;
  const W = tf.randomUniform([3, 3, 3, 4], -1, 1, 'float32', 2) as tf.Tensor4D;
  const s = tf.randomUniform([3, 3, 3, 4], -0.01, 0.02, 'float32', 3);
  const r = tf.randomUniform([2, 5, 5, 4], -1, 1, 'float32', 4);
  const f = makeMaskedWeight(W, 5e-3, 'ternary');
  const gs = tf.grad((sc: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(x, f(sc) as tf.Tensor4D, 2, 'same'), r)))(s);
  const weff = tf.mul(W, maskFromScores(s, 5e-3, 'ternary')) as tf.Tensor4D;
  const gw = tf.grad((w: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(x, w as tf.Tensor4D, 2, 'same'), r)))(weff);
  const expected = tf.mul(gw, W);
  const maxErr = tf.max(tf.abs(tf.sub(gs, expected))).dataSync()[0];
  const scale = tf.max(tf.abs(expected)).dataSync()[0];
  assert.ok(maxErr <= 1e-5 * scale, `max error ${maxErr} (scale ${scale})`);
});

test('an untrained mask reproduces the backbone exactly (binary and ternary)', () => {
  const bb = Backbone.fromModel(buildReferenceCnn(3), 'x', 'mem');
  const x = tf.randomUniform([5, 28, 28, 1], 0, 1, 'float32', 9) as tf.Tensor4D;
  const reference = bb.referenceFeatures(x).dataSync();
  const frozen = bb.features(x, bb.frozenContext()).dataSync();
  assert.deepEqual(Array.from(frozen), Array.from(reference), 'our executor differs from TF.js predict');
  for (const maskKind of ['binary', 'ternary'] as const) {
    for (const bnMode of ['frozen', 'trainable'] as const) {
      const net = new PiggybackNet(bb, 3, { threshold: 5e-3, maskScale: 1e-2, maskKind, bnMode, seed: 1, name: `u-${maskKind}-${bnMode}` });
      const ctxFeatures = net.features(x, false).dataSync();
      assert.deepEqual(Array.from(ctxFeatures), Array.from(reference), `${maskKind}/${bnMode} untrained features differ`);
      assert.ok(net.masks().every((m) => m.every((v) => v === 1)), 'untrained mask must keep every weight');
      net.dispose();
    }
  }
  bb.dispose();
});

test("frozen BatchNorm's shortcut gradient equals TF.js's own batchNorm gradient", () => {
  const bb = Backbone.fromModel(buildReferenceCnn(4), 'x', 'mem');
  const x = tf.randomUniform([3, 28, 28, 1], 0, 1, 'float32', 2) as tf.Tensor4D;
  const r = tf.randomUniform([3, bb.featureSize], -1, 1, 'float32', 3);
  const ours = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(bb.features(v as tf.Tensor4D, bb.frozenContext()), r)))(x);
  const theirs = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(bb.model.apply(v, { training: false }) as tf.Tensor, r)))(x);
  const err = tf.max(tf.abs(tf.sub(ours, theirs))).dataSync()[0];
  const scale = tf.max(tf.abs(theirs)).dataSync()[0];
  assert.ok(scale > 0 && err <= 1e-4 * scale, `max error ${err} (scale ${scale})`);
  bb.dispose();
});
