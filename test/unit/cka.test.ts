/** Linear CKA (issue #10.5): against the feature-space formula computed naively, its invariances, and per layer between tasks. */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { ckaFromGrams, gram } from '../../src/core/analysis/cka';
import * as engine from '../../src/core/engine';
import { rng } from '../helpers/xorshift';
import { tf, useWasm, savedReferenceCnn, quadrantDataset, writeIdxDataset, tmpDir } from '../helpers/engineFixtures';

/** ‖YᵀX‖²_F / (‖XᵀX‖_F ‖YᵀY‖_F) on column-centred X [n,p], Y [n,q], in float64. */
function naiveCka(X: number[][], Y: number[][]): number {
  const centred = (M: number[][]) => {
    const n = M.length;
    const mean = M[0].map((_, j) => M.reduce((a, r) => a + r[j], 0) / n);
    return M.map((r) => r.map((v, j) => v - mean[j]));
  };
  const xc = centred(X);
  const yc = centred(Y);
  const cross = (A: number[][], B: number[][]) => {
    let s = 0;
    for (let i = 0; i < A[0].length; i++)
      for (let j = 0; j < B[0].length; j++) {
        let d = 0;
        for (let k = 0; k < A.length; k++) d += A[k][i] * B[k][j];
        s += d * d;
      }
    return s;
  };
  return cross(yc, xc) / Math.sqrt(cross(xc, xc) * cross(yc, yc));
}

function cka(X: number[][], Y: number[][]): number {
  const k = gram(tf.tensor2d(X));
  const l = gram(tf.tensor2d(Y));
  const v = ckaFromGrams(k, l);
  tf.dispose([k, l]);
  return v;
}

before(async () => {
  await useWasm();
});

test('CKA from Gram matrices equals the naive feature-space formula', () => {
  const r = rng(3);
  const X = Array.from({ length: 20 }, () => Array.from({ length: 7 }, () => r() - 0.5));
  const Y = X.map((row) => [row[0] * 2 + r() * 0.3, row[1] - row[2], r(), r() - 0.5]);
  const want = naiveCka(X, Y);
  assert.ok(Math.abs(cka(X, Y) - want) < 1e-4, `${cka(X, Y)} vs ${want}`);
  const Z = Array.from({ length: 20 }, () => Array.from({ length: 5 }, () => r()));
  assert.ok(Math.abs(cka(X, Z) - naiveCka(X, Z)) < 1e-4);
});

test('CKA is 1 for the same representation up to scale and rotation', () => {
  const r = rng(4);
  const X = Array.from({ length: 16 }, () => [r(), r(), r()]);
  const c = Math.cos(0.7);
  const s = Math.sin(0.7);
  const rotated = X.map(([a, b, z]) => [3 * (c * a - s * b), 3 * (s * a + c * b), 3 * z]);
  assert.ok(Math.abs(cka(X, X) - 1) < 1e-5);
  assert.ok(Math.abs(cka(X, rotated) - 1) < 1e-4);
});

test('per-layer CKA between tasks: 1 for a task with itself, and beside each layer its Jaccard', async () => {
  const modelPath = await savedReferenceCnn(5);
  const data = writeIdxDataset(quadrantDataset(160, 1), 128);
  const dir = path.join(tmpDir('pb-cka-'), 'p');
  await engine.createProject({ projectDir: dir, modelPath, backend: 'wasm' });
  const quick = { epochs: 2, batchSize: 16, lrMask: 2e-3, lrHead: 1e-2, lrDecayEvery: 0 };
  await engine.trainTask({ projectDir: dir, task: 'a', dataset: data, options: { ...quick, seed: 1 }, backend: 'wasm' });
  await engine.trainTask({ projectDir: dir, task: 'b', dataset: data, options: { ...quick, seed: 2 }, backend: 'wasm' });
  const self = await engine.taskSimilarity({ projectDir: dir, taskA: 'a', taskB: 'a', probeLimit: 32, backend: 'wasm' });
  for (const l of self.layers) assert.ok(Math.abs(l.cka - 1) < 1e-4, `${l.name}: ${l.cka}`);
  const ab = await engine.taskSimilarity({ projectDir: dir, taskA: 'a', taskB: 'b', probeLimit: 32, backend: 'wasm' });
  assert.equal(ab.layers.length, 5);
  assert.equal(ab.probe.count, 12, 'the validation split of task a (10% of 128)');
  const stats = engine.projectStats(dir);
  ab.layers.forEach((l, i) => {
    assert.ok(l.cka > 0 && l.cka <= 1, `${l.name}: ${l.cka}`);
    assert.equal(l.jaccard, stats.overlap.perLayer[i].jaccard[0][1]);
  });
  // The first layer sees the same images through nearly the same weights: high similarity.
  assert.ok(ab.layers[0].cka > 0.9, `conv1 CKA ${ab.layers[0].cka}`);
});
