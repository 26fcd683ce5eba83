/**
 * Sets too large to hold at the input size are read per batch: loading converts nothing,
 * training holds one batch at a time, and the images are the same as when held in memory.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PiggybackError } from '../../src/core/errors';
import { loadImageFolder } from '../../src/core/data/imageFolder';
import { readImages } from '../../src/core/data/dataset';
import { subsetDataset } from '../../src/core/data/split';
import { Backbone } from '../../src/core/model/backbone';
import { buildReferenceCnn } from '../../src/core/model/referenceCnn';
import { PiggybackNet } from '../../src/core/train/taskNets';
import { trainLoop } from '../../src/core/train/loop';
import { DEFAULT_TRAIN_OPTIONS, type Dataset } from '../../src/core/types';
import { pngBytes, jpegBytes, rmDir, tmpDir } from '../fixtures/data/gen';
import { tf, useWasm } from '../helpers/engineFixtures';

/** An image folder of `perClass` files per class: hard links to a few distinct images (cheap to make). */
function imageFolder(perClass: number): string {
  const dir = tmpDir('lazy');
  const sources = [pngBytes(20, 16, [200, 30, 30, 255]), jpegBytes(24, 24, [20, 180, 40]), pngBytes(16, 16, [40, 40, 220, 255], 2)];
  ['a', 'b', 'c'].forEach((c, ci) => {
    fs.mkdirSync(path.join(dir, c));
    const first = path.join(dir, c, `0.${ci === 1 ? 'jpg' : 'png'}`);
    fs.writeFileSync(first, sources[ci]);
    for (let k = 1; k < perClass; k++) fs.linkSync(first, path.join(dir, c, `${k}.${ci === 1 ? 'jpg' : 'png'}`));
  });
  return dir;
}

function withBudget<T>(mb: string, fn: () => Promise<T>): Promise<T> {
  const old = process.env.PIGGYBACK_DATA_BUDGET_MB;
  process.env.PIGGYBACK_DATA_BUDGET_MB = mb;
  return fn().finally(() => {
    if (old === undefined) delete process.env.PIGGYBACK_DATA_BUDGET_MB;
    else process.env.PIGGYBACK_DATA_BUDGET_MB = old;
  });
}

const input = { height: 32, width: 32, channels: 3 };

test('over the memory budget an image folder is read per batch, with the same pixels as in memory', async () => {
  const dir = imageFolder(40);
  try {
    const eager = await withBudget('512', () => loadImageFolder(dir, input, { testFraction: 0.25, seed: 3 }));
    const lazy = await withBudget('0', () => loadImageFolder(dir, input, { testFraction: 0.25, seed: 3 }));
    assert.equal(eager.train.read, undefined);
    assert.equal(typeof lazy.train.read, 'function');
    assert.throws(() => lazy.train.images, (e: unknown) => e instanceof PiggybackError && /read per batch/.test(e.message));
    assert.deepEqual(Array.from(lazy.train.labels), Array.from(eager.train.labels));
    const pos = [0, 5, lazy.train.count - 1, 7];
    assert.deepEqual(Array.from(readImages(lazy.train, pos)), Array.from(readImages(eager.train, pos)));
    // subsets of a lazy set stay lazy and map positions
    const sub = subsetDataset(lazy.train, [3, 1]);
    assert.equal(typeof sub.read, 'function');
    assert.deepEqual(Array.from(readImages(sub, [1])), Array.from(readImages(eager.train, [1])));
  } finally {
    rmDir(dir);
  }
});

test('training on a set read per batch reads one batch at a time and leaks no tensors', async () => {
  await useWasm();
  const dir = imageFolder(30);
  try {
    const data = await withBudget('0', () => loadImageFolder(dir, input, { testFraction: 0.25, seed: 1, valFraction: 0.1 }));
    const per = input.height * input.width * input.channels;
    let maxFloats = 0;
    let reads = 0;
    const spy = (ds: Dataset): Dataset => {
      const read = ds.read!;
      ds.read = (p) => {
        reads++;
        const out = read(p);
        maxFloats = Math.max(maxFloats, out.length);
        return out;
      };
      return ds;
    };
    spy(data.train);
    spy(data.test);
    if (data.val) spy(data.val);
    const backbone = Backbone.fromModel(buildReferenceCnn(1, [32, 32, 3]), 'test', '(memory)');
    const net = new PiggybackNet(backbone, 3, { ...DEFAULT_TRAIN_OPTIONS, name: 'lazy' });
    const opts = { ...DEFAULT_TRAIN_OPTIONS, epochs: 2, batchSize: 8, lrDecayEvery: 0 };
    const before = tf.memory().numTensors;
    const history = await trainLoop(net, data, opts, { task: 'lazy', method: 'piggyback', backend: 'wasm', layerNames: backbone.layers.map((l) => l.name) });
    assert.equal(history.length, 2);
    assert.equal(tf.memory().numTensors, before, 'no tensor leak across epochs');
    assert.ok(reads >= 2 * Math.ceil(data.train.count / 8), `train read per batch (${reads} reads)`);
    // Evaluation reads at most its own batch (256) of this small set; training at most 8 images.
    assert.ok(maxFloats <= Math.max(8, data.val?.count ?? 0) * per, `largest read ${maxFloats / per} images`);
    net.dispose();
    backbone.dispose();
  } finally {
    rmDir(dir);
  }
});
