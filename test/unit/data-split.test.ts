import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Dataset } from '../../src/core/types';
import {
  classCounts,
  limitPerClass,
  limitPerClassIndices,
  limitTotalIndices,
  mulberry32,
  shuffleDataset,
  shuffled,
  stratifiedSplit,
  stratifiedSplitIndices,
  subsetDataset,
} from '../../src/core/data/split';

/** 3 classes with 10, 20, 5 items; each 1x1x1 image holds its own index. */
function ds(): Dataset {
  const labels = [...Array(10).fill(0), ...Array(20).fill(1), ...Array(5).fill(2)];
  return {
    name: 't',
    images: Float32Array.from(labels.map((_, i) => i)),
    labels: Int32Array.from(labels),
    count: labels.length,
    height: 1,
    width: 1,
    channels: 1,
    classNames: ['a', 'b', 'c'],
  };
}

test('mulberry32 is deterministic, in [0,1) and seed-dependent', () => {
  const a = mulberry32(42);
  const b = mulberry32(42);
  const xs = Array.from({ length: 1000 }, () => a());
  assert.deepEqual(xs, Array.from({ length: 1000 }, () => b()));
  assert.ok(xs.every((x) => x >= 0 && x < 1));
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  assert.ok(Math.abs(mean - 0.5) < 0.05, `mean ${mean}`);
  const c = mulberry32(43);
  assert.notDeepEqual(xs.slice(0, 5), Array.from({ length: 5 }, () => c()));
});

test('shuffle: same seed same order, permutation, different seed different order', () => {
  const arr = Array.from({ length: 50 }, (_, i) => i);
  const s1 = shuffled(arr, 7);
  assert.deepEqual(s1, shuffled(arr, 7));
  assert.notDeepEqual(s1, arr);
  assert.notDeepEqual(s1, shuffled(arr, 8));
  assert.deepEqual(s1.slice().sort((a, b) => a - b), arr);
  const d = shuffleDataset(ds(), 3);
  for (let i = 0; i < d.count; i++) assert.equal(d.labels[i], ds().labels[d.images[i]], 'image and label move together');
});

test('stratified split keeps class proportions, is disjoint and deterministic', () => {
  const d = ds();
  const { a, b } = stratifiedSplitIndices(d.labels, 0.2, 5);
  assert.deepEqual(stratifiedSplitIndices(d.labels, 0.2, 5), { a, b });
  assert.notDeepEqual(stratifiedSplitIndices(d.labels, 0.2, 6).b, b);
  assert.equal(a.length + b.length, 35);
  assert.equal(new Set([...a, ...b]).size, 35);
  const countB = [0, 0, 0];
  for (const i of b) countB[d.labels[i]]++;
  assert.deepEqual(countB, [2, 4, 1]);
  const sp = stratifiedSplit(d, 0.2, 5);
  assert.deepEqual(classCounts(sp.val), [2, 4, 1]);
  assert.deepEqual(classCounts(sp.train), [8, 16, 4]);
  // tiny fractions still give every class with >= 2 items one val example, never all of them
  const tiny = stratifiedSplitIndices(d.labels, 0.01, 1);
  assert.equal(tiny.b.length, 3);
  assert.equal(stratifiedSplitIndices(d.labels, 0, 1).b.length, 0);
});

test('per-class and total caps', () => {
  const d = ds();
  const capped = limitPerClass(d, 6, 9);
  assert.deepEqual(classCounts(capped), [6, 6, 5]);
  assert.deepEqual(limitPerClassIndices(d.labels, 6, 9), limitPerClassIndices(d.labels, 6, 9));
  assert.notDeepEqual(limitPerClassIndices(d.labels, 6, 9), limitPerClassIndices(d.labels, 6, 10));
  for (let i = 0; i < capped.count; i++) assert.equal(capped.labels[i], d.labels[capped.images[i]]);
  const t = limitTotalIndices(d.labels, 7, 2);
  assert.equal(t.length, 7);
  const counts = [0, 0, 0];
  for (const i of t) counts[d.labels[i]]++;
  assert.deepEqual(counts, [3, 2, 2], 'round robin over classes');
  assert.equal(limitTotalIndices(d.labels, 100, 2).length, 35);
  // caps restricted to a subset of indices
  assert.ok(limitPerClassIndices(d.labels, 2, 1, [0, 1, 2, 30, 31]).every((i) => [0, 1, 2, 30, 31].includes(i)));
});

test('subsetDataset copies the chosen images in order', () => {
  const s = subsetDataset(ds(), [34, 0, 12]);
  assert.deepEqual(Array.from(s.images), [34, 0, 12]);
  assert.deepEqual(Array.from(s.labels), [2, 0, 1]);
  assert.equal(s.count, 3);
});
