/** --augment crop-flip (issue #12.6): a random crop of the zero-padded image and a horizontal flip, seeded. */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { augmentBatch } from '../../src/core/train/augment';
import * as engine from '../../src/core/engine';
import { loadTask } from '../../src/core/project/taskFiles';
import { tf, useWasm, savedReferenceCnn, quadrantDataset, writeIdxDataset, tmpDir } from '../helpers/engineFixtures';

before(async () => {
  await useWasm();
});

/** 16 images 16x16x1 whose pixel (y, x) is x + 1 (a left-to-right ramp, never 0). */
function ramp(): tf.Tensor4D {
  return tf.tidy(() => tf.tile(tf.reshape(tf.add(tf.range(0, 16), 1), [1, 1, 16, 1]), [16, 16, 1, 1]).cast('float32') as tf.Tensor4D);
}

test('each image is its own crop (shifted by at most 1/8, zeros at the border) and about half are mirrored; same seed, same batch', () => {
  const x = ramp();
  const a = augmentBatch(x, 7);
  assert.deepEqual(a.shape, x.shape);
  const v = a.arraySync() as number[][][][];
  let flipped = 0;
  for (const img of v) {
    // Every row of one image is the same shifted ramp: values 0 (padding) or 1..16, consecutive.
    const row = img[8].map((p) => p[0]);
    const nonzero = row.filter((p) => p > 0);
    assert.ok(nonzero.length >= 14, `at most 2 of 16 columns are padding: ${row}`);
    const d = nonzero[1] - nonzero[0];
    assert.ok(d === 1 || d === -1, `a ramp, increasing or mirrored: ${row}`);
    nonzero.forEach((p, i) => assert.equal(p, nonzero[0] + i * d, 'exact pixels, no interpolation'));
    if (d === -1) flipped++;
  }
  assert.ok(flipped >= 3 && flipped <= 13, `${flipped} of 16 mirrored`);
  assert.deepEqual(augmentBatch(x, 7).arraySync(), v, 'same seed, same batch');
  assert.notDeepEqual(augmentBatch(x, 8).arraySync(), v);
  tf.dispose([x, a]);
});

test('training with --augment crop-flip stores the option and leaks no tensors', async () => {
  const modelPath = await savedReferenceCnn(5);
  const data = writeIdxDataset(quadrantDataset(96, 1), 64);
  const dir = path.join(tmpDir('pb-aug-'), 'p');
  await engine.createProject({ projectDir: dir, modelPath, backend: 'wasm' });
  // A first run loads (and caches) the backbone; the augmented run must add no tensor after it.
  await engine.trainTask({ projectDir: dir, task: 'plain', dataset: data, options: { epochs: 1, batchSize: 16, lrDecayEvery: 0 }, backend: 'wasm' });
  const before = tf.memory().numTensors;
  const t = await engine.trainTask({ projectDir: dir, task: 'aug', dataset: data, options: { epochs: 1, batchSize: 16, lrDecayEvery: 0, augment: 'crop-flip' }, backend: 'wasm' });
  assert.equal(tf.memory().numTensors, before);
  assert.equal(t.options.augment, 'crop-flip');
  assert.equal(loadTask(dir, 'aug').options.augment, 'crop-flip');
  await assert.rejects(engine.trainTask({ projectDir: dir, task: 'bad', dataset: data, options: { augment: 'rotate' as never }, backend: 'wasm' }), /augment must be one of none, crop-flip/);
});
