/**
 * The paper's baselines train with SGD + momentum on their own rate and decay: the optimiser
 * override must really apply that rate (also after a decay), be recorded with the result and
 * leak no tensors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../src/core/tf';
import { initBackend } from '../../src/core/backend';
import { makeOptimizer, setRate } from '../../src/core/train/loop';
import * as engine from '../../src/core/engine';
import * as path from 'node:path';
import { savedReferenceCnn, quadrantDataset, writeIdxDataset, tmpDir } from '../helpers/engineFixtures';

async function makeProjectWithTask(): Promise<{ dir: string; task: string }> {
  const dir = path.join(tmpDir('pb-sgdm-'), 'project');
  await engine.createProject({ projectDir: dir, modelPath: await savedReferenceCnn(5), backend: 'wasm' });
  const dataset = writeIdxDataset(quadrantDataset(96, 1), 64);
  await engine.trainTask({ projectDir: dir, task: 'q', dataset, options: { epochs: 1, batchSize: 16, lrMask: 1e-3, lrHead: 1e-2, lrDecayEvery: 0 }, backend: 'wasm' });
  return { dir, task: 'q' };
}

test('SGD momentum: the first step moves a weight by -lr * g, the next by -lr2 * (0.9 g + g) after a rate change', async () => {
  await initBackend('wasm');
  const v = tf.variable(tf.tensor1d([1, 2]), true, 'sgdm-test-v');
  const o = makeOptimizer('sgd-momentum', 0.1, 0.9);
  const g = tf.tensor1d([0.5, -1]);
  o.applyGradients({ [v.name]: g });
  const a = Array.from(v.dataSync());
  assert.ok(Math.abs(a[0] - (1 - 0.05)) < 1e-6 && Math.abs(a[1] - (2 + 0.1)) < 1e-6, `after step 1: ${a}`);
  setRate(o, 0.01);
  o.applyGradients({ [v.name]: g });
  const b = Array.from(v.dataSync());
  assert.ok(Math.abs(b[0] - (a[0] - 0.01 * 1.9 * 0.5)) < 1e-6 && Math.abs(b[1] - (a[1] + 0.01 * 1.9)) < 1e-6, `after step 2: ${b}`);
  o.dispose();
  tf.dispose([v, g]);
});

test('runBaselines with SGD momentum overrides: recorded in task.json, learns, no tensor leak', async () => {
  await initBackend('wasm');
  const { dir, task } = await makeProjectWithTask();
  const optimizers = {
    classifier: { kind: 'sgd-momentum' as const, lr: 0.05, lrDecayEvery: 0, momentum: 0.9 },
    finetune: { kind: 'sgd-momentum' as const, lr: 1e-3, lrDecayEvery: 1, momentum: 0.9 },
  };
  await engine.runBaselines({ projectDir: dir, task, methods: ['classifier', 'finetune'], backend: 'wasm', optimizers });
  const before = tf.memory().numTensors;
  const rs = await engine.runBaselines({ projectDir: dir, task, methods: ['classifier', 'finetune'], backend: 'wasm', optimizers });
  assert.equal(tf.memory().numTensors, before, 'tensors leaked');
  assert.deepEqual(rs.map((r) => r.optimizer), [optimizers.classifier, optimizers.finetune]);
  const stored = engine.projectStats(dir).tasks.find((t) => t.name === task)!;
  assert.deepEqual(stored.baselines.map((b) => [b.method, b.optimizer?.kind, b.optimizer?.lr]).sort(), [['classifier', 'sgd-momentum', 0.05], ['finetune', 'sgd-momentum', 1e-3]]);
  assert.ok(rs[0].testAccuracy > 0.8, `the SGD classifier learns the quadrant task: ${rs[0].testAccuracy}`);
});
