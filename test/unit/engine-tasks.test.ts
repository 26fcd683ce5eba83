/**
 * Tasks over one frozen backbone, end to end through the engine API and the project on disk:
 * no forgetting (backbone bit-identical, task 1 re-evaluates to exactly its accuracy), same
 * seed same mask, no tensor leak across epochs, cancellation and NaN loss lose nothing.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tf, useWasm, savedReferenceCnn, quadrantDataset, writeIdxDataset, tmpDir, snapshotDir } from '../helpers/engineFixtures';
import * as engine from '../../src/core/engine';
import { loadTask } from '../../src/core/project/taskFiles';
import { DEFAULT_TRAIN_OPTIONS, type TrainEvent } from '../../src/core/types';

let modelPath: string;
let data: string;
const quick = { epochs: 3, batchSize: 16, lrMask: 1e-3, lrHead: 1e-2, lrDecayEvery: 0 };

before(async () => {
  await useWasm();
  modelPath = await savedReferenceCnn(5);
  data = writeIdxDataset(quadrantDataset(160, 1), 128);
});

async function newProject(): Promise<string> {
  const dir = path.join(tmpDir('pb-proj-'), 'project');
  await engine.createProject({ projectDir: dir, modelPath, backend: 'wasm' });
  return dir;
}

test('three tasks in sequence: backbone bit-identical, task 1 keeps exactly its accuracy', async () => {
  const dir = await newProject();
  const modelFiles = snapshotDir(path.dirname(modelPath));
  const t1 = await engine.trainTask({ projectDir: dir, task: 't1', dataset: data, options: { ...quick, seed: 1 }, backend: 'wasm' });
  const eval1 = await engine.evaluateTask({ projectDir: dir, task: 't1', backend: 'wasm' });
  assert.equal(eval1.accuracy, t1.testAccuracy, 'reloaded task 1 must score what it scored right after training');
  const task1Files = snapshotDir(path.join(dir, 'tasks', 't1'));
  await engine.trainTask({ projectDir: dir, task: 't2', dataset: data, options: { ...quick, seed: 2, maskKind: 'ternary' }, backend: 'wasm' });
  await engine.trainTask({ projectDir: dir, task: 't3', dataset: data, options: { ...quick, seed: 3, bnMode: 'trainable' }, backend: 'wasm' });
  assert.deepEqual(snapshotDir(path.dirname(modelPath)), modelFiles, 'backbone files changed');
  assert.deepEqual(snapshotDir(path.join(dir, 'tasks', 't1')), task1Files, 'task 1 files changed');
  const again = await engine.evaluateTask({ projectDir: dir, task: 't1', backend: 'wasm' });
  assert.equal(again.accuracy, t1.testAccuracy);
  assert.deepEqual(again.confusion, eval1.confusion);
  const stats = engine.projectStats(dir);
  assert.deepEqual(stats.tasks.map((t) => t.name), ['t1', 't2', 't3']);
  assert.ok(stats.tasks[0].testAccuracy! > 0.9, `task 1 should learn the quadrant task, got ${stats.tasks[0].testAccuracy}`);
  // Trainable BN is stored with its task and restored exactly.
  const t3 = loadTask(dir, 't3');
  assert.ok(t3.bn && t3.bn.length === 4);
  const eval3 = await engine.evaluateTask({ projectDir: dir, task: 't3', backend: 'wasm' });
  assert.equal(eval3.accuracy, stats.tasks[2].testAccuracy);
  const eval2 = await engine.evaluateTask({ projectDir: dir, task: 't2', backend: 'wasm' });
  assert.equal(eval2.accuracy, stats.tasks[1].testAccuracy);
});

test('same seed, same mask; training really changes the mask', async () => {
  const a = await newProject();
  const b = await newProject();
  for (const dir of [a, b]) await engine.trainTask({ projectDir: dir, task: 'x', dataset: data, options: { ...quick, epochs: 1, seed: 7 }, backend: 'wasm' });
  const ma = loadTask(a, 'x').masks;
  const mb = loadTask(b, 'x').masks;
  assert.deepEqual(ma, mb);
  const off = ma.reduce((n, m) => n + m.filter((v) => v === 0).length, 0);
  assert.ok(off > 0, 'a trained mask should switch some weights off');
});

test('tensor count is flat across epochs and events arrive in order', async () => {
  const dir = await newProject();
  const counts: number[] = [];
  const events: TrainEvent['type'][] = [];
  await engine.trainTask({ projectDir: dir, task: 'leak', dataset: data, options: { ...quick, epochs: 3 }, backend: 'wasm' }, (e) => {
    if (events[events.length - 1] !== e.type) events.push(e.type);
    if (e.type === 'epoch') {
      counts.push(tf.memory().numTensors);
      assert.equal(e.layerSparsity.length, 5);
      assert.ok(e.bitsFlipped >= 0);
    }
  });
  assert.equal(counts.length, 3);
  assert.equal(counts[1], counts[0], `tensors after epoch 1: ${counts[0]}, after epoch 2: ${counts[1]}`);
  assert.equal(counts[2], counts[1]);
  assert.deepEqual(events, ['start', 'step', 'epoch', 'step', 'epoch', 'step', 'epoch', 'done']);
});

test('cancelling mid-epoch stops cleanly and leaves the project exactly as it was', async () => {
  const dir = await newProject();
  await engine.trainTask({ projectDir: dir, task: 'kept', dataset: data, options: { ...quick, epochs: 1 }, backend: 'wasm' });
  const before = snapshotDir(dir);
  const ac = new AbortController();
  let cancelled = false;
  await assert.rejects(
    engine.trainTask({ projectDir: dir, task: 'kept', dataset: data, options: quick, overwrite: true, backend: 'wasm' }, (e) => {
      if (e.type === 'step' && e.step === 2) ac.abort();
      if (e.type === 'cancelled') cancelled = true;
    }, ac.signal),
    (e: any) => e.code === 'CANCELLED',
  );
  assert.ok(cancelled, 'a cancelled event is emitted');
  assert.deepEqual(snapshotDir(dir), before);
});

test('a diverging run stops with NAN_LOSS and saves nothing', async () => {
  // Learning rates are capped by the hyperparameter table (an lr of 1e38 is refused up front),
  // so the NaN comes from the data: a NaN feature through the real head and training loop.
  const { trainLoop } = await import('../../src/core/train/loop');
  const { FeatureHeadNet } = await import('../../src/core/train/taskNets');
  const n = 8;
  const images = new Float32Array(n * 4).fill(0.5);
  images[5] = NaN;
  const train = { name: 'nan', images, labels: Int32Array.from({ length: n }, (_, i) => i % 2), count: n, height: 1, width: 1, channels: 4, classNames: ['a', 'b'] };
  const net = new FeatureHeadNet(4, 2, 1, 'nan-test');
  try {
    await assert.rejects(
      trainLoop(net, { train, test: train }, { ...DEFAULT_TRAIN_OPTIONS, epochs: 1, batchSize: 4 }, { task: 'nan', method: 'classifier', backend: 'wasm', layerNames: [] }),
      (e: any) => e.code === 'NAN_LOSS' && /lower the learning rate/.test(e.oneLine()) && /nothing was saved/.test(e.oneLine()),
    );
  } finally {
    net.dispose();
  }
  // Through the engine an absurd rate is refused before anything is written.
  const dir = await newProject();
  const before = snapshotDir(dir);
  await assert.rejects(engine.trainTask({ projectDir: dir, task: 'nan', dataset: data, options: { ...quick, lrHead: 1e38 }, backend: 'wasm' }), (e: any) => e.code === 'BAD_ARGUMENT' && /lrHead/.test(e.message));
  assert.deepEqual(snapshotDir(dir), before);
  assert.equal(fs.existsSync(path.join(dir, 'tasks', 'nan')), false);
});

test('baselines use the task data and are stored with the task', async () => {
  const dir = await newProject();
  await engine.trainTask({ projectDir: dir, task: 'b', dataset: data, options: { ...quick, epochs: 1 }, backend: 'wasm' });
  const rs = await engine.runBaselines({ projectDir: dir, task: 'b', methods: ['classifier', 'finetune'], backend: 'wasm' });
  assert.deepEqual(rs.map((r) => r.method), ['classifier', 'finetune']);
  for (const r of rs) assert.ok(r.testAccuracy >= 0 && r.testAccuracy <= 1 && r.history.length === 1);
  assert.ok(rs[1].bytesIfStored > 100 * rs[0].bytesIfStored, 'a fine-tuned copy costs the whole network');
  const t = engine.projectStats(dir).tasks[0];
  assert.deepEqual(t.baselines.map((b) => b.method).sort(), ['classifier', 'finetune']);
});
