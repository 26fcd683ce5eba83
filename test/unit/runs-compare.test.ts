/**
 * Runs you can compare and repeat (issue #9.3): "like task X" copies a run's options and
 * data caps (not the project's threshold), the estimate is measured speed x planned images,
 * and the options that differ between runs are found across options and data caps.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_TRAIN_OPTIONS, type TaskStats } from '../../src/core/types';
import { differingKeys, differingText, estimateRun, formatDuration, presetFromTask, type Hyper } from '../../src/extension/hyperModel';
import { saveTask } from '../../src/core/project/taskFiles';
import { readProjectStats } from '../../src/core/project/stats';
import { artifacts, newProject } from '../helpers/storeFixtures';

function task(name: string, over: Partial<TaskStats> = {}, opts: Partial<TaskStats['options']> = {}): TaskStats {
  return {
    name, dataset: 'mnist', classNames: Array.from({ length: 10 }, (_, i) => String(i)), maskKind: 'binary', bnMode: 'frozen',
    testAccuracy: 0.9, layerSparsity: [], sparsity: 0.1, bytes: 1, bitsPerMaskedWeight: 0.5, rawBitsPerMaskedWeight: 1,
    state: 'trained', damage: null,
    history: [1, 2, 3].map((epoch) => ({ epoch, trainAccuracy: 0.9, trainLoss: 0.3, valAccuracy: null, layerSparsity: [], bitsFlipped: 0, seconds: 9 })),
    stepLoss: null, baselines: [], options: { ...DEFAULT_TRAIN_OPTIONS, epochs: 3, ...opts },
    dataLimits: { trainPerClass: 200, valFraction: 0.1 }, trainImages: 1800, confusion: null, layerNegated: null, ...over,
  };
}
const { threshold: _t, ...defaults } = DEFAULT_TRAIN_OPTIONS;
const fresh: Hyper = { options: defaults, valFraction: 0.1 };

test('"like task X" copies its options and data caps, never the threshold', () => {
  const t = task('a', { dataLimits: { trainPerClass: 50, testLimit: 100, valFraction: 0.2 } }, { lrMask: 2e-4, seed: 7, bnMode: 'trainable', threshold: 1e-3 });
  const h = presetFromTask(t, fresh);
  assert.deepEqual(h, { options: { ...defaults, epochs: 3, lrMask: 2e-4, seed: 7, bnMode: 'trainable' }, trainPerClass: 50, testLimit: 100, valFraction: 0.2 });
  assert.equal('threshold' in h.options, false);
  // A task saved before data caps were recorded keeps the current caps.
  assert.deepEqual(presetFromTask(task('old', { dataLimits: null }), { ...fresh, trainPerClass: 30 }).trainPerClass, 30);
});

test('every option that differs between runs, data caps and threshold included, and only those', () => {
  const tasks = [task('a'), task('b', { dataLimits: { trainPerClass: 200, testLimit: 500, valFraction: 0.1 } }, { seed: 2, lrHead: 1e-3 }), task('c', {}, { threshold: 1e-3 })];
  assert.deepEqual(differingKeys(tasks), ['lrHead', 'threshold', 'seed', 'testLimit']);
  assert.equal(differingText(tasks[1], differingKeys(tasks)), 'lrHead 0.001 · threshold 0.005 · seed 2 · testLimit 500');
  assert.equal(differingText(tasks[0], differingKeys(tasks)), 'lrHead 0.0001 · threshold 0.005 · seed 1 · testLimit all');
  assert.deepEqual(differingKeys([task('a'), task('b')]), []);
  assert.deepEqual(differingKeys([task('a'), task('b', { state: 'failed' }, { seed: 9 })]), [], 'a damaged task does not count');
});

test('the estimate is measured seconds per image x planned images x epochs, and says when it cannot be made', () => {
  // 'a' took 27 s for 3 epochs of 1800 images: 5 ms per image.
  const tasks = [task('a')];
  const e30 = estimateRun({ ...fresh, trainPerClass: 200 }, 'mnist', tasks);
  assert.ok(Math.abs(e30.seconds! - 0.005 * 1800 * 30) < 1e-9, String(e30.seconds));
  assert.match(e30.basis, /1,800 images per epoch as in "a" × 30 epochs at 5\.0 ms per image measured on "a"/);
  assert.equal(formatDuration(e30.seconds!), '5 min');
  // Other caps on the same dataset: the class count bounds the images.
  const e50 = estimateRun({ ...fresh, trainPerClass: 50, options: { ...defaults, epochs: 2 } }, 'mnist', tasks);
  assert.ok(Math.abs(e50.seconds! - 0.005 * 450 * 2) < 1e-9);
  assert.match(e50.basis, /at most 450 images per epoch \(10 classes × 50\)/);
  // All of an unseen dataset: no number, and why.
  const none = estimateRun(fresh, 'fashion-mnist', tasks);
  assert.equal(none.seconds, null);
  assert.match(none.basis, /no earlier run on fashion-mnist with these caps \(measured 5\.0 ms per image on "a"\)/);
  assert.match(estimateRun(fresh, 'mnist', []).basis, /no run of this project has been timed/);
  // Older tasks without trainImages: the stored loss series gives the steps.
  const old = task('old', { trainImages: null, stepLoss: { stride: 1, step: [1, 2, 3, 4, 5, 6], loss: [1, 1, 1, 1, 1, 1] } }, { batchSize: 100 });
  // 6 steps over 3 epochs at batch 100 = 200 images per epoch; 27 s / 600 images.
  assert.ok(Math.abs(estimateRun({ ...fresh, trainPerClass: 200 }, 'mnist', [old, task('b', { history: [] })]).seconds! - (27 / 600) * 1800 * 30) < 1e-6);
});

test('task.json keeps the data caps and image count the comparison uses; older files give null', () => {
  const dir = newProject();
  saveTask(dir, { ...artifacts('new', 1), trainImages: 450 });
  saveTask(dir, { ...artifacts('old', 2), dataLimits: undefined });
  const [a, b] = readProjectStats(dir).tasks;
  assert.equal(a.trainImages, 450);
  assert.deepEqual(a.dataLimits, { trainPerClass: 50, valFraction: 0.1 });
  assert.equal(b.trainImages, null);
  assert.equal(b.dataLimits, null);
});
