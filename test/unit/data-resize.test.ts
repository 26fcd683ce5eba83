import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PiggybackError } from '../../src/core/errors';
import { axisWeights, convertChannels, resizeBilinear, resizeDataset, toInputShape } from '../../src/core/data/resize';

const close = (a: ArrayLike<number>, b: number[], eps = 1e-6): void => {
  assert.equal(a.length, b.length, `length ${a.length} vs ${b.length}`);
  for (let i = 0; i < b.length; i++) assert.ok(Math.abs(a[i] - b[i]) < eps, `index ${i}: ${a[i]} vs ${b[i]}`);
};

test('bilinear 1x2 -> 1x4 uses half-pixel centres and clamps at the edges', () => {
  const out = resizeBilinear(Float32Array.from([0, 1]), 1, 1, 2, 1, 1, 4);
  close(out, [0, 0.25, 0.75, 1]);
});

test('bilinear 2x2 -> 4x4 known values', () => {
  const src = Float32Array.from([0, 1, 2, 3]); // [[0,1],[2,3]]
  const out = resizeBilinear(src, 1, 2, 2, 1, 4, 4);
  const row = (a: number, b: number) => [a, a + (b - a) * 0.25, a + (b - a) * 0.75, b];
  const r0 = row(0, 1);
  const r3 = row(2, 3);
  const mix = (t: number) => r0.map((v, i) => v + (r3[i] - v) * t);
  close(out, [...r0, ...mix(0.25), ...mix(0.75), ...r3]);
});

test('2x downscale averages 2x2 blocks; 3x downscale averages 3x3 blocks (area)', () => {
  const src4 = Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]);
  close(resizeBilinear(src4, 1, 4, 4, 1, 2, 2), [3.5, 5.5, 11.5, 13.5]);
  const src6 = Float32Array.from(Array.from({ length: 36 }, (_, i) => i));
  const out = resizeBilinear(src6, 1, 6, 6, 1, 2, 2);
  const block = (r: number, c: number) => {
    let s = 0;
    for (let y = 0; y < 3; y++) for (let x = 0; x < 3; x++) s += src6[(r * 3 + y) * 6 + c * 3 + x];
    return s / 9;
  };
  close(out, [block(0, 0), block(0, 1), block(1, 0), block(1, 1)], 1e-5);
  // every area weight row sums to 1
  for (const e of axisWeights(7, 3)) close([e.weight.reduce((a, b) => a + b, 0)], [1]);
});

test('resize keeps batches and channels separate', () => {
  // 2 images of 1x2 with 2 channels: image0 = [(0,10),(1,11)], image1 = constant 5
  const src = Float32Array.from([0, 10, 1, 11, 5, 5, 5, 5]);
  const out = resizeBilinear(src, 2, 1, 2, 2, 1, 4);
  close(out, [0, 10, 0.25, 10.25, 0.75, 10.75, 1, 11, 5, 5, 5, 5, 5, 5, 5, 5], 1e-5);
  assert.equal(resizeBilinear(src, 2, 1, 2, 2, 1, 2), src, 'same size returns the input');
});

test('channel conversion: replicate, luminance, drop alpha', () => {
  close(convertChannels(Float32Array.from([0.2, 0.7]), 2, 1, 3), [0.2, 0.2, 0.2, 0.7, 0.7, 0.7]);
  close(convertChannels(Float32Array.from([1, 0, 0, 0, 1, 0, 0, 0, 1]), 3, 3, 1), [0.299, 0.587, 0.114]);
  close(convertChannels(Float32Array.from([0.5, 0.5, 0.5, 0.1]), 1, 4, 1), [0.5]);
  close(convertChannels(Float32Array.from([0.1, 0.2, 0.3, 0.4]), 1, 4, 3), [0.1, 0.2, 0.3]);
  close(convertChannels(Float32Array.from([0.1, 0.2, 0.3]), 1, 3, 4), [0.1, 0.2, 0.3, 1]);
  assert.throws(() => convertChannels(new Float32Array(5), 2, 3, 1), (e: unknown) => e instanceof PiggybackError && e.code === 'SHAPE_MISMATCH');
  assert.throws(() => convertChannels(new Float32Array(10), 2, 5, 1), (e: unknown) => e instanceof PiggybackError && e.code === 'SHAPE_MISMATCH');
});

test('toInputShape / resizeDataset combine both', () => {
  const out = toInputShape(Float32Array.from([0, 1]), 1, 1, 2, 1, { height: 2, width: 4, channels: 3 });
  assert.equal(out.length, 2 * 4 * 3);
  close(out.subarray(0, 12), [0, 0, 0, 0.25, 0.25, 0.25, 0.75, 0.75, 0.75, 1, 1, 1]);
  close(out.subarray(12), Array.from(out.subarray(0, 12)));
  const ds = resizeDataset(
    { name: 'x', images: Float32Array.from([1, 0, 0, 1, 0, 0]), labels: Int32Array.from([0]), count: 1, height: 1, width: 2, channels: 3, classNames: ['a'] },
    { height: 1, width: 1, channels: 1 },
  );
  assert.equal(ds.channels, 1);
  close(ds.images, [0.299]);
  assert.throws(() => resizeBilinear(new Float32Array(3), 1, 2, 2, 1, 4, 4), (e: unknown) => e instanceof PiggybackError && e.code === 'SHAPE_MISMATCH');
});
