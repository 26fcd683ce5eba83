/**
 * Learning really happens on real data: on MNIST digits over the embedded Fashion-MNIST
 * backbone, a trained mask beats a classifier-only head trained with the same data, epochs,
 * seed and head learning rate.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { useWasm, tmpDir } from '../helpers/engineFixtures';
import * as engine from '../../src/core/engine';

before(useWasm);

test('a Piggyback mask beats classifier-only on a real MNIST subset', async (ctx) => {
  const dir = path.join(tmpDir('pb-learn-'), 'p');
  await engine.createProject({ projectDir: dir, modelPath: 'reference-cnn' });
  const t = await engine.trainTask({
    projectDir: dir, task: 'mnist', dataset: 'mnist', trainPerClass: 100, testLimit: 400,
    options: { epochs: 2, batchSize: 16, lrMask: 2e-4, lrHead: 1e-3, lrDecayEvery: 0, seed: 1 },
  });
  const [classifier] = await engine.runBaselines({ projectDir: dir, task: 'mnist', methods: ['classifier'] });
  const piggyback = t.testAccuracy as number;
  ctx.diagnostic(`piggyback ${piggyback}, classifier-only ${classifier.testAccuracy}, sparsity ${t.sparsity}`);
  assert.ok(piggyback > classifier.testAccuracy + 0.1, `piggyback ${piggyback} vs classifier-only ${classifier.testAccuracy}`);
  assert.ok((t.sparsity ?? 0) > 0.001, `the mask should switch weights off (sparsity ${t.sparsity})`);
});
