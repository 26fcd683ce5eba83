import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';
import { PiggybackError } from '../../src/core/errors';
import { loadIdxFolder, parseIdx, readIdxImages, readIdxLabels } from '../../src/core/data/idx';
import { idxBytes, rmDir, tmpDir, writeIdxFolder, rejectsWith } from '../fixtures/data/gen';

const gray = { height: 4, width: 3, channels: 1 };

function expectBad(fn: () => unknown, code: string, re: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof PiggybackError, `expected PiggybackError, got ${String(e)}`);
    assert.equal(e.code, code);
    assert.match(e.message, re);
    assert.ok(e.hint.length > 0, 'has a hint');
    assert.ok(!e.oneLine().includes('\n'), 'one line');
    return true;
  });
}

test('parseIdx reads dims and data, raw and gzipped', () => {
  const data = Array.from({ length: 2 * 3 * 4 }, (_, i) => i * 5);
  const raw = idxBytes([2, 3, 4], data);
  for (const buf of [raw, zlib.gzipSync(raw)]) {
    const r = parseIdx(buf, 'x.idx');
    assert.deepEqual(r.dims, [2, 3, 4]);
    assert.deepEqual(Array.from(r.data), data);
  }
});

test('parseIdx rejects bad magic, truncated and oversized data, naming the file', () => {
  const good = idxBytes([2, 2, 2], [1, 2, 3, 4, 5, 6, 7, 8]);
  const badMagic = Buffer.from(good);
  badMagic[0] = 0x12;
  expectBad(() => parseIdx(badMagic, 'bad-magic-file'), 'BAD_DATASET', /bad-magic-file.*bad magic 0x12000803/);
  expectBad(() => parseIdx(good.subarray(0, good.length - 3), 'short-file'), 'BAD_DATASET', /short-file is truncated.*need 8 data bytes, found 5/);
  expectBad(() => parseIdx(zlib.gzipSync(good.subarray(0, 10)), 'short-gz'), 'BAD_DATASET', /short-gz is truncated/);
  expectBad(() => parseIdx(Buffer.concat([good, Buffer.from([0])]), 'long-file'), 'BAD_DATASET', /long-file .*1 extra/);
  expectBad(() => parseIdx(Buffer.from([0x1f, 0x8b, 1, 2, 3]), 'broken.gz'), 'BAD_DATASET', /broken\.gz is a corrupt gzip/);
  const float = Buffer.from(good);
  float[2] = 0x0d;
  expectBad(() => parseIdx(float, 'float-file'), 'BAD_DATASET', /float-file has IDX element type 0x0d/);
});

test('readIdxImages / readIdxLabels check the number of dims', async () => {
  const dir = tmpDir('idxdims');
  try {
    const labels = path.join(dir, 'l');
    fs.writeFileSync(labels, idxBytes([3], [0, 1, 2]));
    await rejectsWith(readIdxImages(labels), 'BAD_DATASET', /not an IDX image file/);
    assert.deepEqual(Array.from((await readIdxLabels(labels)).labels), [0, 1, 2]);
    await rejectsWith(readIdxLabels(path.join(dir, 'missing')), 'FILE_NOT_FOUND', /missing/);
  } finally {
    rmDir(dir);
  }
});

for (const gz of [false, true]) {
  test(`loadIdxFolder round trip (${gz ? 'gz' : 'raw'})`, async () => {
    const dir = tmpDir('idx');
    try {
      const src = writeIdxFolder(dir, { n: 12, m: 6, h: 4, w: 3, k: 3, gz, variant: gz });
      const s = await loadIdxFolder(dir, gray, {});
      assert.equal(s.train.count, 12);
      assert.equal(s.test.count, 6);
      assert.equal(s.val, undefined);
      assert.deepEqual(s.train.classNames, ['0', '1', '2']);
      assert.equal(s.train.name, path.basename(dir));
      assert.equal(s.train.images.length, 12 * 12);
      // Train is shuffled: every output image must equal the source image of its label's index, /255.
      const seen = new Set<string>();
      for (let i = 0; i < s.train.count; i++) {
        const img = Array.from(s.train.images.subarray(i * 12, (i + 1) * 12));
        const j = [...Array(12).keys()].find((k) => img.every((v, p) => Math.abs(v - src.trainPixels[k * 12 + p] / 255) < 1e-6));
        assert.ok(j !== undefined, `train image ${i} matches a source image`);
        assert.equal(s.train.labels[i], src.trainLabels[j]);
        seen.add(String(j));
      }
      assert.equal(seen.size, 12);
      const sortedTest = Array.from(s.test.labels).sort();
      assert.deepEqual(sortedTest, src.testLabels.slice().sort());
    } finally {
      rmDir(dir);
    }
  });
}

test('loadIdxFolder resizes and replicates channels; caps and val work', async () => {
  const dir = tmpDir('idxcap');
  try {
    writeIdxFolder(dir, { n: 30, m: 9, h: 4, w: 4, k: 3, gz: false });
    const s = await loadIdxFolder(dir, { height: 8, width: 6, channels: 3 }, { trainPerClass: 6, valFraction: 0.5, testLimit: 4, seed: 3 });
    assert.equal(s.train.height, 8);
    assert.equal(s.train.width, 6);
    assert.equal(s.train.channels, 3);
    assert.equal(s.train.images.length, s.train.count * 8 * 6 * 3);
    assert.equal(s.train.count, 9);
    assert.equal(s.val?.count, 9);
    assert.equal(s.test.count, 4);
    for (let p = 0; p < 8 * 6; p++) {
      assert.equal(s.train.images[p * 3], s.train.images[p * 3 + 1]);
      assert.equal(s.train.images[p * 3], s.train.images[p * 3 + 2]);
    }
    for (const v of s.train.images) assert.ok(v >= 0 && v <= 1);
  } finally {
    rmDir(dir);
  }
});

test('loadIdxFolder validates counts, ranges and missing files', async () => {
  const dir = tmpDir('idxbad');
  try {
    writeIdxFolder(dir, { n: 6, m: 4, h: 2, w: 2, k: 2, gz: false });
    // label count mismatch
    fs.writeFileSync(path.join(dir, 'train-labels-idx1-ubyte'), idxBytes([5], [0, 1, 0, 1, 0]));
    await rejectsWith(loadIdxFolder(dir, gray), 'BAD_DATASET', /train-labels-idx1-ubyte has 5 labels but .*train-images-idx3-ubyte has 6 images/);
    // test label out of range of the train classes
    fs.writeFileSync(path.join(dir, 'train-labels-idx1-ubyte'), idxBytes([6], [0, 1, 0, 1, 0, 1]));
    fs.writeFileSync(path.join(dir, 't10k-labels-idx1-ubyte'), idxBytes([4], [0, 1, 7, 1]));
    await rejectsWith(loadIdxFolder(dir, gray), 'BAD_DATASET', /t10k-labels-idx1-ubyte has label 7 at index 2, out of range for 2 classes/);
    // label out of range of classes.txt
    fs.writeFileSync(path.join(dir, 'classes.txt'), 'a\nb\nc\nd\ne\nf\ng\nh\n');
    const s = await loadIdxFolder(dir, gray);
    assert.equal(s.train.classNames.length, 8);
    assert.equal(s.train.classNames[7], 'h');
    // truncated image file
    const ti = path.join(dir, 'train-images-idx3-ubyte');
    fs.writeFileSync(ti, fs.readFileSync(ti).subarray(0, 20));
    await rejectsWith(loadIdxFolder(dir, gray), 'BAD_DATASET', /train-images-idx3-ubyte is truncated: dims \[6, 2, 2\] need 24 data bytes, found 4/);
    fs.rmSync(path.join(dir, 't10k-images-idx3-ubyte'));
    await rejectsWith(loadIdxFolder(dir, gray), 'BAD_DATASET', /not a complete IDX folder: missing testImages/);
    await rejectsWith(loadIdxFolder(path.join(dir, 'nope'), gray), 'FILE_NOT_FOUND', /nope/);
  } finally {
    rmDir(dir);
  }
});

test('IDX: a stray label with no classes.txt is refused instead of making empty classes; empty sets name the right file', async () => {
  const dir = tmpDir('idxgap');
  try {
    writeIdxFolder(dir, { n: 6, m: 4, h: 2, w: 2, k: 2, gz: false });
    fs.writeFileSync(path.join(dir, 'train-labels-idx1-ubyte'), idxBytes([6], [0, 1, 0, 1, 0, 200]));
    fs.writeFileSync(path.join(dir, 't10k-labels-idx1-ubyte'), idxBytes([4], [0, 1, 0, 1]));
    await rejectsWith(loadIdxFolder(dir, gray), 'BAD_DATASET', /train-labels-idx1-ubyte uses labels up to 200 but no training image has label 2, 3, 4, 5, 6, \.\.\.: those classes would be empty/, /classes\.txt/);
    // named classes make the gaps deliberate
    fs.writeFileSync(path.join(dir, 'classes.txt'), Array.from({ length: 201 }, (_, i) => `c${i}`).join('\n'));
    assert.equal((await loadIdxFolder(dir, gray)).train.classNames.length, 201);
    fs.rmSync(path.join(dir, 'classes.txt'));
    // zero training images: said as such, not as a test-label range error
    fs.writeFileSync(path.join(dir, 'train-images-idx3-ubyte'), idxBytes([0, 2, 2], []));
    fs.writeFileSync(path.join(dir, 'train-labels-idx1-ubyte'), idxBytes([0], []));
    await rejectsWith(loadIdxFolder(dir, gray), 'BAD_DATASET', /train-images-idx3-ubyte holds 0 training images/);
  } finally {
    rmDir(dir);
  }
});
