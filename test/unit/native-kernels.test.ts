/**
 * The 'native' backend's kernels (src/core/native, native/src) against the cpu backend's reference
 * kernels: values and gradients (tf.grads) over many shapes, strides, paddings and broadcasts.
 * Skipped where the addon is not built (the portable path is tested everywhere else).
 */
import * as fs from 'node:fs';
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../src/core/tf';
import { initBackend } from '../../src/core/backend';

import { nativeStats, RELU_GRAD_KERNEL, CLIP_GRAD_KERNEL } from '../../src/core/native/nativeBackend';
import { randData, maxRelErr } from '../helpers/kernelCheck';
import { adam, FUSED_ADAM_KERNEL } from '../../src/core/train/adam';
import { nativeSkip } from '../helpers/nativeSkip';

const skip = nativeSkip();

type Pad = 'same' | 'valid' | number | [[number, number], [number, number], [number, number], [number, number]];

const rand = (shape: number[], seed: number): tf.Tensor => tf.tensor(randData(shape, seed), shape);

/** Runs f on cpu and on native with the same inputs; compares every output (and its shape). */
async function same(what: string, f: () => tf.Tensor | tf.Tensor[], tol = 1e-5): Promise<void> {
  const run = async (backend: string) => {
    await tf.setBackend(backend);
    return tf.tidy(() => {
      const r = f();
      return (Array.isArray(r) ? r : [r]).map((t) => ({ shape: t.shape, dtype: t.dtype, data: Array.from(t.dataSync()) }));
    });
  };
  const ref = await run('cpu');
  const got = await run('native');
  assert.equal(got.length, ref.length, what);
  ref.forEach((r, i) => {
    assert.deepEqual(got[i].shape, r.shape, `${what}: shape of output ${i}`);
    assert.equal(got[i].dtype, r.dtype, `${what}: dtype of output ${i}`);
    const e = maxRelErr(r.data, got[i].data);
    assert.ok(e <= tol, `${what}: output ${i} rel err ${e}`);
  });
}

function ran(kernel: string): number {
  return nativeStats.native.get(kernel) ?? 0;
}

before(async () => {
  if (skip) return;
  await initBackend('cpu');
  const info = await initBackend('native');
  assert.equal(info.name, 'native');
  assert.match(info.detail, /^native \(oneDNN [\d.]+, (up to )?\d+ threads?\)$/);
});

function pads(k: number): Pad[] {
  return ['same', 'valid', 1, [[0, 0], [1, 2], [0, 3], [0, 0]], [[0, 0], [k + 1, 0], [2, k], [0, 0]]];
}

test('conv2d: values and gradients wrt x and W (filters 1..5, strides 1/2, all paddings)', { skip }, async () => {
  const before = [ran('Conv2D'), ran('Conv2DBackpropInput'), ran('Conv2DBackpropFilter')];
  const fb = ['Conv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter'].map((k) => nativeStats.fallback.get(k) ?? 0);
  const channels: Array<[number, number]> = [[1, 4], [3, 8], [5, 2], [16, 16]];
  let seed = 1;
  let n = 0;
  for (const k of [1, 3, 5]) {
    for (const s of [1, 2]) {
      for (const pad of pads(k)) {
        for (const extra of [2, 3]) {
          const [ci, co] = channels[n % channels.length];
          const xs = [n % 2 ? 3 : 1, k + extra, k + 5 - extra, ci];
          const ws = [k, k, ci, co];
          const sd = seed;
          await same(`conv k${k} s${s} ${JSON.stringify(pad)} ${xs}`, () => {
            const x = rand(xs, sd) as tf.Tensor4D;
            const w = rand(ws, sd + 1) as tf.Tensor4D;
            const y = tf.conv2d(x, w, s, pad);
            const r = rand(y.shape, sd + 2);
            const g = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, s, pad), r)))([x, w]);
            return [y, ...g];
          }, 1e-4);
          seed += 3;
          n++;
        }
      }
    }
  }
  // dilated forward
  await same('conv dilation 2', () => tf.conv2d(rand([2, 9, 9, 3], 7) as tf.Tensor4D, rand([3, 3, 3, 4], 8) as tf.Tensor4D, 1, 'same', 'NHWC', 2));
  // strided windows that stop short of the input's end ('same'/'valid', stride 2, even sizes)
  for (const [k, hw] of [[1, 14], [1, 8], [3, 8], [2, 9]]) {
    for (const pad of ['same', 'valid'] as const) {
      await same(`conv k${k} s2 ${pad} ${hw}x${hw}`, () => {
        const x = rand([2, hw, hw, 3], k + hw) as tf.Tensor4D;
        const w = rand([k, k, 3, 4], hw) as tf.Tensor4D;
        const y = tf.conv2d(x, w, 2, pad);
        const r = rand(y.shape, 5);
        return [y, ...tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, pad), r)))([x, w])];
      }, 1e-4);
    }
  }
  // 1x1 maps to 1x1 maps (ResNet-18's last stage at 32 px): computed as a product with the one tap
  // the padding leaves; 'same' 3x3 and 5x5, explicit odd padding, dilation 2, stride 2.
  const onePixel: Array<[number, number | 'same' | 'valid', number, number]> = [[3, 'same', 1, 1], [5, 'same', 1, 1], [3, 1, 1, 2], [3, 2, 2, 1], [2, 'same', 1, 1]];
  for (const [k, pad, dil, st] of onePixel) {
    await same(`conv on a 1x1 map: k${k} pad ${pad} dilation ${dil} stride ${st}`, () => {
      const x = rand([5, 1, 1, 24], k + dil) as tf.Tensor4D;
      const w = rand([k, k, 24, 40], k * 7 + st) as tf.Tensor4D;
      const conv = (a: tf.Tensor, b: tf.Tensor) => (dil > 1 ? tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, st, pad, 'NHWC', dil) : tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, st, pad));
      const y = conv(x, w);
      if (dil > 1) return [y]; // tfjs has no gradient for dilated convolutions
      const r = rand(y.shape, 9);
      return [y, ...tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(conv(a, b), r)))([x, w])];
    }, 1e-4);
  }
  // Maps of at most 2x2 outputs (ResNet-18's last stages): one product per tap over the outputs
  // it reaches. 3x3 'same' on 2x2 and 2x1, a 4x4 map 'valid', stride 2 on 3x3 and 4x4, explicit
  // uneven padding, dilation 2.
  const tiny: Array<[number[], number, number | 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]], number, number]> = [
    [[4, 2, 2, 32], 3, 'same', 1, 1], [[3, 2, 1, 16], 3, 'same', 1, 1], [[2, 4, 4, 8], 3, 'valid', 1, 1], [[2, 3, 3, 8], 3, 'same', 1, 2],
    [[2, 4, 4, 8], 3, 'same', 1, 2], [[2, 2, 2, 8], 3, [[0, 0], [2, 0], [0, 1], [0, 0]], 1, 1], [[2, 2, 2, 8], 5, 'same', 1, 1], [[2, 4, 4, 8], 3, 'same', 2, 1], [[2, 2, 2, 8], 3, 'same', 2, 1],
  ];
  for (const [xs, k, pad, dil, st] of tiny) {
    await same(`conv on a tiny map ${xs}: k${k} pad ${JSON.stringify(pad)} dilation ${dil} stride ${st}`, () => {
      const x = rand(xs, k + xs[1]) as tf.Tensor4D;
      const w = rand([k, k, xs[3], 24], k * 5 + st) as tf.Tensor4D;
      const conv = (a: tf.Tensor, b: tf.Tensor) => (dil > 1 ? tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, st, pad as 'same', 'NHWC', dil) : tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, st, pad as 'same'));
      const y = conv(x, w);
      if (dil > 1) return [y];
      const r = rand(y.shape, 4);
      return [y, ...tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(conv(a, b), r)))([x, w])];
    }, 1e-4);
  }
  const after = [ran('Conv2D'), ran('Conv2DBackpropInput'), ran('Conv2DBackpropFilter')];
  after.forEach((a, i) => assert.ok(a > before[i], 'the native conv kernels ran'));
  assert.deepEqual(['Conv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter'].map((k) => nativeStats.fallback.get(k) ?? 0), fb, 'no conv fell back');
});

test('3x3 stride-1 convs of 8x8-32x32 maps with 32+ channels: Winograd on AVX-512 (values and gradients as the cpu backend)', { skip }, async () => {
  const { loadNativeAddon } = await import('../../src/core/native/addon');
  const addon = loadNativeAddon();
  // oneDNN's Winograd kernel needs AVX-512 core (F, BW, VL, DQ); elsewhere the direct algorithm runs.
  const flags = fs.readFileSync('/proc/cpuinfo', 'utf8');
  const avx512 = ['avx512f', 'avx512bw', 'avx512vl', 'avx512dq'].every((f) => new RegExp(`\\b${f}\\b`).test(flags));
  // [N, H, W, C] and O; 'same' keeps the map, 'valid' takes 2 off each side.
  const cases: Array<[number[], number, 'same' | 'valid']> = [[[2, 16, 16, 32], 32, 'same'], [[2, 12, 10, 32], 48, 'same'], [[1, 18, 18, 64], 32, 'valid'], [[2, 8, 8, 128], 64, 'same']];
  for (const [xs, o, pad] of cases) {
    const off = pad === 'same' ? 0 : 2;
    const p = pad === 'same' ? 1 : 0;
    const dims = Int32Array.from([xs[0], xs[1], xs[2], xs[3], 3, 3, o, xs[1] - off, xs[2] - off, 1, 1, 1, 1, p, p, p, p, 1]);
    if (avx512) for (const mode of [0, 1, 2] as const) assert.match(addon.convImpl(mode, dims), /wino/, `${xs} -> ${o} mode ${mode}`);
    await same(`winograd conv ${xs} -> ${o} ${pad}`, () => {
      const x = rand(xs, xs[1] + o) as tf.Tensor4D;
      const w = rand([3, 3, xs[3], o], o) as tf.Tensor4D;
      const y = tf.conv2d(x, w, 1, pad);
      const r = rand(y.shape, 2);
      return [y, ...tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, pad), r)))([x, w])];
    }, 2e-5); // measured ~1e-6
  }
});

test('STE forward W ⊙ mask(s) as one kernel: binary and ternary values (ties at the threshold and at 0) and the STE gradient', { skip }, async () => {
  const { makeMaskedWeight, MASK_WEIGHT_KERNEL } = await import('../../src/core/model/ste');
  const before = ran(MASK_WEIGHT_KERNEL);
  for (const kind of ['binary', 'ternary'] as const) {
    await same(`masked weight ${kind}`, () => {
      const shape = [3, 3, 7, 11];
      const w = rand(shape, 21);
      const n = 3 * 3 * 7 * 11;
      // Scores around the threshold 0.005 and 0, with exact ties at both.
      const sv = Float32Array.from({ length: n }, (_, i) => (i % 5 === 0 ? 0.005 : i % 7 === 0 ? 0 : (((i * 37) % 23) - 11) / 1000));
      const s = tf.tensor(sv, shape);
      const f = makeMaskedWeight(w, 0.005, kind);
      const r = rand(shape, 22);
      const [g] = tf.grads((x: tf.Tensor) => tf.sum(tf.mul(f(x), r)))([s]);
      // +0 for a -0: the fused kernel writes 0 where tfjs' product of a negative weight and 0 is -0.
      return [tf.add(f(s), 0), g];
    }, 0);
  }
  assert.ok(ran(MASK_WEIGHT_KERNEL) > before, 'the fused kernel ran');
});

test('depthwise conv2d: values and gradients (multipliers 1/2, strides 1/2, paddings)', { skip }, async () => {
  let seed = 100;
  for (const k of [1, 3]) {
    for (const s of [1, 2]) {
      for (const pad of ['same', 'valid', 1] as Pad[]) {
        for (const m of [1, 2]) {
          const sd = seed++;
          await same(`depthwise k${k} s${s} ${pad} m${m}`, () => {
            const x = rand([2, 7, 6, 3], sd) as tf.Tensor4D;
            const w = rand([k, k, 3, m], sd + 50) as tf.Tensor4D;
            const y = tf.depthwiseConv2d(x, w, s, pad as 'same');
            const r = rand(y.shape, sd + 99);
            const g = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.depthwiseConv2d(a as tf.Tensor4D, b as tf.Tensor4D, s, pad as 'same'), r)))([x, w]);
            return [y, ...g];
          }, 1e-4);
        }
      }
    }
  }
  // maps smaller than the window (MobileNetV2's last blocks at 32 px), where oneDNN has no
  // depthwise weight-gradient kernel and the addon's direct loop runs
  for (const [xs, s, pad] of [[[16, 2, 2, 384], 1, 'same'], [[3, 3, 3, 40], 1, 'same'], [[2, 4, 4, 24], 2, 'same'], [[2, 2, 2, 8], 1, 1]] as Array<[number[], number, Pad]>) {
    await same(`depthwise ${xs} s${s} ${pad}`, () => {
      const x = rand(xs, xs[3]) as tf.Tensor4D;
      const w = rand([3, 3, xs[3], 1], 7) as tf.Tensor4D;
      const r = rand(tf.depthwiseConv2d(x, w, s, pad as 'same').shape, 8);
      return tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.depthwiseConv2d(a as tf.Tensor4D, b as tf.Tensor4D, s, pad as 'same'), r)))([x, w]);
    }, 1e-4);
  }
  assert.ok(ran('DepthwiseConv2dNative') > 0 && ran('DepthwiseConv2dNativeBackpropFilter') > 0 && ran('DepthwiseConv2dNativeBackpropInput') > 0);
});

test('fused conv2d and fused matMul (bias, relu, linear; other activations fall back)', { skip }, async () => {
  for (const activation of ['linear', 'relu', 'relu6', 'elu'] as const) {
    await same(`fused conv ${activation}`, () =>
      tf.fused.conv2d({ x: rand([2, 6, 6, 3], 1) as tf.Tensor4D, filter: rand([3, 3, 3, 5], 2) as tf.Tensor4D, strides: 1, pad: 'same', bias: rand([5], 3), activation }),
    );
    await same(`fused matMul ${activation}`, () =>
      tf.fused.matMul({ a: rand([7, 5], 4) as tf.Tensor2D, b: rand([5, 6], 5) as tf.Tensor2D, bias: rand([6], 6), activation }),
    );
  }
  assert.ok(ran('FusedConv2D') > 0 && ran('_FusedMatMul') > 0);
});

test('matMul: transposes, batches, broadcast batch, gradients', { skip }, async () => {
  for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]]) {
    await same(`matMul ${ta} ${tb}`, () => {
      const a = rand(ta ? [5, 4] : [4, 5], 1);
      const b = rand(tb ? [3, 5] : [5, 3], 2);
      const g = tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(tf.matMul(p as tf.Tensor2D, q as tf.Tensor2D, ta, tb)))([a, b]);
      return [tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D, ta, tb), ...g];
    });
  }
  await same('batched', () => tf.matMul(rand([3, 4, 5], 1) as tf.Tensor3D, rand([3, 5, 2], 2) as tf.Tensor3D));
  await same('broadcast batch', () => tf.matMul(rand([3, 4, 5], 1) as tf.Tensor3D, rand([1, 5, 2], 2) as tf.Tensor3D));
  await same('rank 4', () => tf.matMul(rand([2, 3, 4, 5], 1) as tf.Tensor3D, rand([2, 3, 5, 2], 2) as tf.Tensor3D, false, false));
  await same('large dense', () => tf.matMul(rand([64, 300], 1) as tf.Tensor2D, rand([300, 128], 2) as tf.Tensor2D), 1e-5);
  assert.ok(ran('BatchMatMul') > 0);
});

test('element-wise: add/sub/mul/div, broadcasts, scalars, bool/int inputs, comparisons, unary ops', { skip }, async () => {
  const shapes: Array<[number[], number[]]> = [
    [[4, 5, 6], [4, 5, 6]], [[4, 5, 6], [6]], [[6], [4, 5, 6]], [[4, 5, 6], []], [[], [4, 5, 6]],
    [[4, 5, 6], [1, 1, 6]], [[4, 5, 6], [5, 6]], [[4, 5, 1], [4, 5, 6]], [[4, 1, 6], [5, 1]], [[64, 40, 32], [32]],
  ];
  let seed = 1;
  for (const [sa, sb] of shapes) {
    const sd = seed++;
    await same(`binary ${JSON.stringify(sa)} ${JSON.stringify(sb)}`, () => {
      const a = rand(sa, sd);
      const b = tf.add(rand(sb, sd + 9), 2); // away from 0 for div
      return [tf.add(a, b), tf.sub(a, b), tf.mul(a, b), tf.div(a, b), tf.greater(a, b), tf.less(a, b), tf.greaterEqual(a, b), tf.lessEqual(a, b)];
    }, 0);
  }
  await same('int32 and bool inputs', () => {
    const i = tf.tensor([1, 2, 3, 4], [4], 'int32');
    const m = tf.greater(rand([4], 3), 0);
    return [tf.add(i, i), tf.mul(i, tf.tensor([2], [1], 'int32')), tf.mul(tf.cast(m, 'float32'), rand([4], 4)), tf.mul(tf.cast(i, 'float32'), 0.5)];
  }, 0);
  await same('unary', () => {
    const x = tf.concat([rand([1000], 5), tf.tensor([0, -0, NaN, Infinity, -Infinity, 1e-30])]);
    return [tf.relu(x), tf.step(x), tf.sqrt(tf.abs(x)), tf.square(x), tf.relu6(tf.mul(x, 20))];
  }, 0);
  await same('relu gradient', () => tf.grad((x: tf.Tensor) => tf.sum(tf.mul(tf.relu(x), rand([5, 7], 9))))(rand([5, 7], 8)), 0);
  await same('relu gradient, special values', () => {
    const x = tf.tensor([0, -0, NaN, Infinity, -Infinity, 1e-30, -1e-30, 2, -2, 3]);
    const dy = tf.tensor([1, -1, 2, -3, 4, Infinity, NaN, -5, -0, NaN]);
    return tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.relu(a), dy)))(x);
  }, 0);
  for (const k of ['Add', 'Sub', 'Multiply', 'RealDiv', 'Greater', 'Relu', 'Step', 'Sqrt', 'Square']) assert.ok(ran(k) > 0, k);
});

test('batchNorm: values (with/without scale and offset) and gradients', { skip }, async () => {
  for (const shape of [[2, 5, 5, 8], [16, 8], [3, 4]]) {
    const c = shape[shape.length - 1];
    await same(`batchNorm ${shape}`, () => {
      const x = rand(shape, 1);
      const mean = rand([c], 2);
      const variance = tf.add(tf.abs(rand([c], 3)), 0.1);
      const offset = rand([c], 4);
      const scale = rand([c], 5);
      const dy = rand(shape, 6);
      const g = tf.grads((a: tf.Tensor, o: tf.Tensor, s: tf.Tensor) => tf.sum(tf.mul(tf.batchNorm(a, mean, variance, o, s, 1e-3), dy)))([x, offset, scale]);
      return [tf.batchNorm(x, mean, variance, offset, scale, 1e-3), tf.batchNorm(x, mean, variance), tf.batchNorm(x, mean, variance, undefined, scale), ...g];
    }, 1e-6);
  }
  assert.ok(ran('FusedBatchNorm') > 0 && ran('Tile') > 0);
});

test('maxPool: values and gradients (2x2/2, 3x3/1 same overlapping, 3x3/2 valid, ties; 1M elements split over threads)', { skip }, async () => {
  const cases: Array<[number, number, 'same' | 'valid']> = [[2, 2, 'valid'], [2, 2, 'same'], [3, 1, 'same'], [3, 2, 'valid'], [3, 2, 'same']];
  for (const [k, s, pad] of cases) {
    // [3, 33, 65, 160]: over 1M elements, so images and output rows are split over the threads.
    const big = (k === 2 && pad === 'valid') || (k === 3 && s === 1) ? [[3, 33, 65, 160]] : [];
    for (const xs of [[2, 7, 6, 3], [1, 8, 8, 16], ...big]) {
      await same(`maxPool ${k}/${s} ${pad} ${xs}`, () => {
        const x = tf.round(tf.mul(rand(xs, k * 10 + s), 6)); // many ties
        const y = tf.maxPool(x as tf.Tensor4D, k, s, pad);
        const r = rand(y.shape, 3);
        return [y, tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(a as tf.Tensor4D, k, s, pad), r)))(x)];
      }, 1e-6);
    }
  }
  assert.ok(ran('MaxPool') > 0 && ran('MaxPoolGrad') > 0);
});

test('sum/mean over leading, trailing and middle axes; tile', { skip }, async () => {
  const x = () => rand([4, 5, 6, 7], 11);
  for (const axis of [[0], [0, 1, 2], [3], [2, 3], [1], [1, 2], [0, 1, 2, 3], [-1]]) {
    for (const keepDims of [false, true]) {
      await same(`sum/mean ${axis} ${keepDims}`, () => [tf.sum(x(), axis, keepDims), tf.mean(x(), axis, keepDims)], 1e-6);
    }
  }
  await same('sum int32', () => tf.sum(tf.tensor([1, 2, 3], [3], 'int32')), 0);
  for (const reps of [[1, 1, 1, 3], [2, 3, 1, 1], [2, 1, 2, 1]]) {
    await same(`tile ${reps}`, () => tf.tile(rand([1, 2, 3, 4], 3), reps), 0);
  }
  assert.ok(ran('Sum') > 0 && ran('Mean') > 0 && ran('Tile') > 0);
});

test('recycled output arrays never change what dataSync returned or what a view still sees', { skip }, async () => {
  await tf.setBackend('native');
  const n = 64 * 1024;
  const x = tf.add(rand([n], 1), 0.5);
  const a = tf.relu(x);
  const seen = a.dataSync();
  const copy = Float32Array.from(seen);
  const b = tf.relu(tf.neg(x)); // same size as a
  const view = tf.slice(b, [0], [n / 2]); // a contiguous slice: the cpu kernel returns a subarray view
  const viewCopy = Float32Array.from(view.dataSync());
  a.dispose();
  b.dispose();
  for (let i = 0; i < 6; i++) tf.tidy(() => tf.relu(tf.mul(x, i + 2)).dataSync());
  assert.deepEqual(seen, copy, 'dataSync result unchanged after dispose and reuse');
  assert.deepEqual(view.dataSync(), viewCopy, 'slice view unchanged after its source was disposed');
  // bool outputs (comparisons) are pooled too
  const g = tf.greater(x, 0.7);
  const gSeen = g.dataSync();
  const gCopy = Uint8Array.from(gSeen);
  g.dispose();
  for (let i = 0; i < 6; i++) tf.tidy(() => tf.less(x, 0.1 * i).dataSync());
  assert.deepEqual(gSeen, gCopy, 'bool dataSync result unchanged after dispose and reuse');
  tf.dispose([x, view]);
});

test('no tensors leak from native kernels (including their cpu fallbacks)', { skip }, async () => {
  await tf.setBackend('native');
  const x = rand([2, 8, 8, 3], 1) as tf.Tensor4D;
  const w = rand([3, 3, 3, 4], 2) as tf.Tensor4D;
  const f = () =>
    tf.tidy(() => {
      const g = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
        tf.sum(tf.maxPool(tf.relu<tf.Tensor4D>(tf.batchNorm(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, 'same'), tf.zeros([4]), tf.ones([4]), tf.zeros([4]), tf.ones([4])) as tf.Tensor4D), 2, 2, 'valid')),
      )([x, w]);
      return tf.add(tf.sum(g[0]), tf.sum(g[1]));
    });
  f().dispose();
  const before = tf.memory().numTensors;
  for (let i = 0; i < 5; i++) f().dispose();
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([x, w]);
});

function fellBack(kernel: string): number {
  return nativeStats.fallback.get(kernel) ?? 0;
}

test('slice and pad (any rank, contiguous or not, constant values) and their gradients', { skip }, async () => {
  const fb = [fellBack('Slice'), fellBack('PadV2')];
  const cases: Array<[number[], number[], number[]]> = [
    [[17, 17], [1, 0], [16, 17]], [[4, 5, 6], [1, 2, 0], [2, 3, 6]], [[4, 5, 6], [0, 0, 1], [4, 5, 4]],
    [[2, 9, 9, 5], [0, 1, 1, 0], [2, 8, 8, 5]], [[2, 9, 9, 5], [1, 0, 2, 1], [1, 9, 3, 3]], [[3, 4, 5, 6], [0, 0, 0, 0], [3, 4, 5, 6]],
    [[2, 3, 4, 5, 6], [1, 1, 1, 1, 1], [1, 2, 3, 4, 5]], [[10], [3], [4]], [[4, 5, 6], [0, 2, 0], [4, 0, 6]],
  ];
  let seed = 500;
  for (const [shape, begin, sz] of cases) {
    const sd = seed++;
    await same(`slice ${shape} @${begin} ${sz}`, () => tf.slice(rand(shape, sd), begin, sz), 0);
  }
  const padCases: Array<[number[], Array<[number, number]>, number]> = [
    [[2, 16, 16, 3], [[0, 0], [0, 1], [0, 1], [0, 0]], 0], [[2, 5, 5, 4], [[0, 0], [1, 1], [2, 0], [0, 0]], 0],
    [[3, 4], [[1, 2], [0, 3]], -1.5], [[2, 3, 4, 5, 2], [[1, 0], [0, 1], [1, 1], [0, 0], [2, 1]], 0.25], [[7], [[0, 0]], 3],
  ];
  for (const [shape, paddings, value] of padCases) {
    const sd = seed++;
    await same(`pad ${shape} ${JSON.stringify(paddings)} ${value}`, () => {
      const x = rand(shape, sd);
      const y = tf.pad(x, paddings, value);
      const r = rand(y.shape, sd + 1);
      return [y, tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.pad(a, paddings, value), r)))(x)];
    }, 0);
  }
  assert.ok(ran('Slice') > 0 && ran('PadV2') > 0);
  assert.deepEqual([fellBack('Slice'), fellBack('PadV2')], fb, 'float32 slices and pads never fall back');
});

test('clipByValue / relu6 layer (NaN, infinities, inexact bounds) and its fused gradient', { skip }, async () => {
  const fb = ['ClipByValue', 'LogicalAnd', 'Select', 'ZerosLike', 'GreaterEqual', 'LessEqual'].map(fellBack);
  const grads = [ran(CLIP_GRAD_KERNEL), ran(RELU_GRAD_KERNEL)];
  const special = tf.tensor([0, -0, NaN, Infinity, -Infinity, 6, 6.000001, 0.1, 0.7, -1e-30]);
  for (const [lo, hi] of [[0, 6], [0.1, 0.7], [-1, 1], [-0.3, 0.3]]) {
    await same(`clip ${lo} ${hi}`, () => {
      const x = tf.concat([tf.mul(rand([2000], lo * 10 + hi), 16), special]);
      const dy = rand(x.shape, 3);
      return [tf.clipByValue(x, lo, hi), tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.clipByValue(a, lo, hi), dy)))(x)];
    }, 0);
  }
  await same('ReLU(maxValue 6) layer forward and gradient', () => {
    const layer = tf.layers.reLU({ maxValue: 6 });
    const x = tf.mul(rand([2, 5, 5, 8], 77), 20) as tf.Tensor4D;
    const dy = rand(x.shape, 78);
    return [layer.apply(x) as tf.Tensor, tf.grad((a: tf.Tensor) => tf.sum(tf.mul(layer.apply(a) as tf.Tensor, dy)))(x)];
  }, 0);
  assert.ok(ran('ClipByValue') > 0);
  assert.ok(ran(CLIP_GRAD_KERNEL) > grads[0] && ran(RELU_GRAD_KERNEL) > grads[1], 'the fused Relu and ClipByValue gradients ran');
  assert.deepEqual(['ClipByValue', 'LogicalAnd', 'Select', 'ZerosLike', 'GreaterEqual', 'LessEqual'].map(fellBack), fb, 'no fallbacks');
});

test('logical and/or, where, zerosLike/onesLike and general broadcasts (middle and both-sided)', { skip }, async () => {
  const fb = ['Add', 'Sub', 'Multiply', 'RealDiv', 'Greater', 'LogicalAnd', 'LogicalOr', 'Select'].map(fellBack);
  const pairs: Array<[number[], number[]]> = [
    [[4, 5, 6], [4, 5, 6]], [[4, 1, 6], [5, 1]], [[4, 5, 1], [4, 5, 6]], [[16, 1, 1, 8], [16, 3, 3, 8]], [[32, 1], [32, 10]],
    [[3, 1, 4, 1], [1, 5, 1, 6]], [[2, 3, 4], []], [[1, 1, 7], [3, 1, 1]],
  ];
  let seed = 900;
  for (const [sa, sb] of pairs) {
    const sd = seed++;
    await same(`broadcast ${JSON.stringify(sa)} ${JSON.stringify(sb)}`, () => {
      const a = rand(sa, sd);
      const b = tf.add(rand(sb, sd + 1), 2);
      const p = tf.greater(a, 0);
      const q = tf.less(tf.sub(b, 2), 0.1);
      return [tf.add(a, b), tf.sub(b, a), tf.mul(a, b), tf.div(a, b), tf.greater(a, tf.sub(b, 2)), tf.logicalAnd(p, q), tf.logicalOr(p, q), tf.lessEqual(tf.sub(b, 2), a)];
    }, 0);
  }
  await same('where / zerosLike / onesLike', () => {
    const x = rand([3, 4, 5], 1);
    const y = rand([3, 4, 5], 2);
    const c = tf.greater(x, y);
    return [tf.where(c, x, y), tf.zerosLike(x), tf.onesLike(x), tf.where(tf.logicalNot(c), tf.onesLike(y), tf.zerosLike(y))];
  }, 0);
  for (const k of ['LogicalAnd', 'LogicalOr', 'Select', 'ZerosLike', 'OnesLike']) assert.ok(ran(k) > 0, k);
  assert.deepEqual(['Add', 'Sub', 'Multiply', 'RealDiv', 'Greater', 'LogicalAnd', 'LogicalOr', 'Select'].map(fellBack), fb, 'no fallbacks');
});

test('mean/sum over middle axes (global average pooling) and its gradient', { skip }, async () => {
  const fb = [fellBack('Mean'), fellBack('Sum'), fellBack('Multiply')];
  for (const shape of [[16, 2, 2, 96], [3, 7, 5, 4], [2, 3, 4, 5, 6]]) {
    for (const axis of [[1, 2], [1], [2]]) {
      await same(`mean ${shape} ${axis}`, () => {
        const x = rand(shape, shape[1] + axis.length);
        const y = tf.mean(x, axis);
        const r = rand(y.shape, 5);
        return [y, tf.sum(x, axis, true), tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.mean(a, axis), r)))(x)];
      }, 0);
    }
  }
  assert.deepEqual([fellBack('Mean'), fellBack('Sum'), fellBack('Multiply')], fb, 'no fallbacks');
});

test('element-wise kernels on tensors large enough to be split over threads give the cpu results', { skip }, async () => {
  const shape = [8, 65, 63, 40]; // 1.3M elements (over the addon's kParMin), an odd split
  const c = shape[3];
  await same('large element-wise', () => {
    const a = tf.mul(rand(shape, 1), 14);
    const b = tf.add(rand(shape, 2), 2);
    const v = tf.add(rand([c], 3), 1);
    const s = tf.scalar(0.3);
    const m = tf.greater(a, 0);
    const mid = rand([8, 1, 63, 1], 4);
    return [
      tf.add(a, b), tf.sub(a, v), tf.mul(v, a), tf.div(a, s), tf.div(s, b),
      tf.greater(a, b), tf.less(a, s), tf.greaterEqual(a, v), tf.lessEqual(v, a),
      tf.relu(a), tf.step(a), tf.relu6(a), tf.sqrt(b), tf.square(a), tf.clipByValue(a, 0, 6), tf.clipByValue(a, -0.1, 0.7),
      tf.where(m, a, b), tf.logicalAnd(m, tf.less(a, 3)), tf.mul(a, mid), tf.cast(m, 'float32'), tf.mul(tf.cast(m, 'float32'), a),
      tf.batchNorm(a, v, tf.add(v, 0.5), tf.sub(v, 1), v, 1e-3),
      tf.grad((x: tf.Tensor) => tf.sum(tf.mul(tf.relu(x), b)))(a),
    ];
  }, 1e-6);
});

test('fused Adam (one kernel per variable) gives bit-identical weights and moments to tfjs Adam on cpu', { skip }, async () => {
  const shapes = [[300, 7], [1100, 1000], [5], [3, 3, 8, 1]]; // the 1.1M one is split over threads
  const run = async (backend: string, fused: boolean) => {
    await tf.setBackend(backend);
    const vars = shapes.map((sh, i) => tf.variable(rand(sh, 40 + i), true, `adam-${backend}-${fused}-${i}`));
    const opt: tf.Optimizer = fused ? adam(0.01) : tf.train.adam(0.01);
    for (let step = 0; step < 5; step++) {
      if (step === 3) (opt as unknown as { learningRate: number }).learningRate = 0.002;
      const grads: tf.NamedTensorMap = {};
      // gradients of mixed magnitudes (and an exact zero) so the moments differ from step to step
      vars.forEach((v, i) => (grads[v.name] = tf.tidy(() => tf.mul(rand(v.shape, 100 * step + i), i === 2 && step === 1 ? 0 : 10 ** (i - 2)))));
      opt.applyGradients(grads);
      tf.dispose(Object.values(grads));
    }
    const weights = await opt.getWeights();
    const out = [...vars.map((v) => Array.from(v.dataSync())), ...weights.slice(1).map((w) => Array.from(w.tensor.dataSync()))];
    opt.dispose();
    vars.forEach((v) => v.dispose());
    return out;
  };
  const before = ran(FUSED_ADAM_KERNEL);
  const ref = await run('cpu', false);
  const got = await run('native', true);
  assert.ok(ran(FUSED_ADAM_KERNEL) >= before + 5 * shapes.length, 'the fused kernel ran on native');
  assert.equal(got.length, ref.length);
  ref.forEach((r, i) => assert.equal(maxRelErr(r, got[i]), 0, `array ${i} (weights, then first and second moments)`));
  // and on cpu the same class is plain tfjs Adam
  const cpuFused = await run('cpu', true);
  ref.forEach((r, i) => assert.equal(maxRelErr(r, cpuFused[i]), 0, `cpu fallback, array ${i}`));
});
