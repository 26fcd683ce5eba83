import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { decodeImage, loadImageFolder } from '../../src/core/data/imageFolder';
import { classCounts } from '../../src/core/data/split';
import { jpegBytes, palettePngBytes, pngBytes, rmDir, tmpDir, rejectsWith } from '../fixtures/data/gen';

function put(dir: string, rel: string, buf: Buffer): void {
  const p = path.join(dir, rel);
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, buf);
}

test('decodeImage handles gray, RGB, RGBA, gray+alpha, palette PNG and JPEG', () => {
  const g = decodeImage(pngBytes(3, 2, [51, 51, 51, 255], 0), 'g.png');
  assert.deepEqual([g.height, g.width, g.channels], [2, 3, 1]);
  assert.ok(g.data.every((v) => Math.abs(v - 0.2) < 1e-6));
  const ga = decodeImage(pngBytes(2, 2, [102, 102, 102, 10], 4), 'ga.png');
  assert.equal(ga.channels, 1);
  assert.ok(Math.abs(ga.data[0] - 0.4) < 1e-6);
  const rgb = decodeImage(pngBytes(2, 2, [255, 0, 51, 255], 2), 'rgb.png');
  assert.equal(rgb.channels, 3);
  assert.deepEqual(Array.from(rgb.data.subarray(0, 3)).map((v) => Math.round(v * 255)), [255, 0, 51]);
  const rgba = decodeImage(pngBytes(2, 2, [0, 255, 0, 128], 6), 'rgba.png');
  assert.equal(rgba.channels, 4);
  assert.equal(Math.round(rgba.data[3] * 255), 128);
  const pal = decodeImage(palettePngBytes(2, 1, [[255, 0, 0], [0, 0, 255]], [0, 1]), 'pal.png');
  assert.equal(pal.channels, 3);
  assert.deepEqual(Array.from(pal.data), [1, 0, 0, 0, 0, 1]);
  const jc = decodeImage(jpegBytes(8, 8, [200, 30, 30]), 'c.jpg');
  assert.equal(jc.channels, 3);
  assert.ok(Math.abs(jc.data[0] - 200 / 255) < 0.03 && Math.abs(jc.data[1] - 30 / 255) < 0.03);
  const jg = decodeImage(jpegBytes(8, 8, [128, 128, 128]), 'g.jpg');
  assert.equal(jg.channels, 1);
  assert.ok(Math.abs(jg.data[0] - 128 / 255) < 0.02);
});

test('flat image folder: sorted classes, seeded 80/20 split per class, conversion to InputSpec', async () => {
  const dir = tmpDir('imgflat');
  try {
    // class "cat": 5 red RGB PNGs of 6x4; "10-dog": 5 gray JPEGs of 5x5; "2-bird": 5 palette PNGs (blue)
    for (let i = 0; i < 5; i++) {
      put(dir, `cat/c${i}.png`, pngBytes(6, 4, [255, 0, 0, 255], 2));
      put(dir, `10-dog/d${i}.JPG`, jpegBytes(5, 5, [128, 128, 128]));
      put(dir, `2-bird/b${i}.png`, palettePngBytes(2, 2, [[0, 0, 255]], [0, 0, 0, 0]));
    }
    put(dir, 'cat/notes.txt', Buffer.from('ignored'));
    fs.mkdirSync(path.join(dir, 'empty-folder'));
    const input = { height: 4, width: 4, channels: 3 };
    const s = await loadImageFolder(dir, input);
    assert.deepEqual(s.train.classNames, ['2-bird', '10-dog', 'cat']);
    assert.deepEqual(classCounts(s.train), [4, 4, 4]);
    assert.deepEqual(classCounts(s.test), [1, 1, 1]);
    assert.equal(s.train.images.length, 12 * 4 * 4 * 3);
    assert.equal(s.train.name, path.basename(dir));
    const per = 4 * 4 * 3;
    for (let i = 0; i < s.train.count; i++) {
      const px = Array.from(s.train.images.subarray(i * per, i * per + 3));
      const expect = [[0, 0, 1], [128 / 255, 128 / 255, 128 / 255], [1, 0, 0]][s.train.labels[i]];
      px.forEach((v, k) => assert.ok(Math.abs(v - expect[k]) < 0.03, `image ${i} label ${s.train.labels[i]}: ${px} vs ${expect}`));
    }
    // deterministic: same split again
    const again = await loadImageFolder(dir, input);
    assert.deepEqual(Array.from(again.test.images), Array.from(s.test.images));
    // grayscale target: luminance of red
    const g = await loadImageFolder(dir, { height: 2, width: 2, channels: 1 }, { testFraction: 0.4, valFraction: 0.34 });
    assert.equal(g.train.channels, 1);
    assert.deepEqual(classCounts(g.test), [2, 2, 2]);
    assert.deepEqual(classCounts(g.val!), [1, 1, 1]);
    const red = Array.from(g.train.labels).indexOf(2);
    assert.ok(Math.abs(g.train.images[red * 4] - 0.299) < 1e-3);
  } finally {
    rmDir(dir);
  }
});

test('train/ + test/ layout is used as given', async () => {
  const dir = tmpDir('imgsplit');
  try {
    for (let i = 0; i < 3; i++) {
      put(dir, `train/a/${i}.png`, pngBytes(2, 2, [0, 0, 0, 255], 0));
      put(dir, `train/b/${i}.png`, pngBytes(2, 2, [255, 255, 255, 255], 0));
    }
    put(dir, 'test/a/x.png', pngBytes(3, 3, [0, 0, 0, 255], 0));
    put(dir, 'test/b/y.jpg', jpegBytes(3, 3, [255, 255, 255]));
    put(dir, 'test/b/z.jpeg', jpegBytes(3, 3, [255, 255, 255]));
    const s = await loadImageFolder(dir, { height: 2, width: 2, channels: 1 });
    assert.deepEqual(s.train.classNames, ['a', 'b']);
    assert.deepEqual(classCounts(s.train), [3, 3]);
    assert.deepEqual(classCounts(s.test), [1, 2]);
    for (let i = 0; i < s.test.count; i++) assert.ok(Math.abs(s.test.images[i * 4] - s.test.labels[i]) < 0.02);
    put(dir, 'test/c/w.png', pngBytes(2, 2, [0, 0, 0, 255], 0));
    await rejectsWith(loadImageFolder(dir, { height: 2, width: 2, channels: 1 }), 'BAD_DATASET', /class folder\(s\) "c" that train\/ does not have/);
  } finally {
    rmDir(dir);
  }
});

test('clear errors: missing folder, non-dataset folder, one class, corrupt image', async () => {
  const dir = tmpDir('imgbad');
  const input = { height: 2, width: 2, channels: 1 };
  try {
    await rejectsWith(loadImageFolder(path.join(dir, 'missing'), input), 'FILE_NOT_FOUND', /missing/);
    put(dir, 'notes/readme.txt', Buffer.from('hi'));
    put(dir, 'top.png', pngBytes(2, 2, [0, 0, 0, 255], 0));
    await rejectsWith(loadImageFolder(dir, input), 'BAD_DATASET', /is not an image dataset: no class subfolders/);
    put(dir, 'only/a.png', pngBytes(2, 2, [0, 0, 0, 255], 0));
    await rejectsWith(loadImageFolder(dir, input), 'BAD_DATASET', /only one class folder \("only"\)/);
    put(dir, 'other/b.png', pngBytes(2, 2, [0, 0, 0, 255], 0));
    put(dir, 'other/broken.png', Buffer.concat([pngBytes(2, 2, [0, 0, 0, 255], 0).subarray(0, 30)]));
    put(dir, 'only/c.png', pngBytes(2, 2, [0, 0, 0, 255], 0));
    await rejectsWith(loadImageFolder(dir, input, { testFraction: 0.5 }), 'BAD_DATASET', /cannot decode image .*other[\\/]broken\.png/);
    fs.writeFileSync(path.join(dir, 'other/broken.png'), Buffer.from('not an image at all'));
    await rejectsWith(loadImageFolder(dir, input, { testFraction: 0.5 }), 'BAD_DATASET', /broken\.png: not a PNG or JPEG/);
  } finally {
    rmDir(dir);
  }
});
