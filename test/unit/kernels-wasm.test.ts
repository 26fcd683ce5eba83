/**
 * The wasm conv gradient kernels (src/core/kernels/wasmConvGrads.ts) against the cpu backend's
 * reference kernels: gradients of sum(conv(x, W) * r) wrt x and W, many shapes/strides/paddings.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../src/core/tf';
import { initBackend } from '../../src/core/backend';
import {
  useFastConv2DBackpropInput,
  WASM_CONV_GRAD_KERNELS,
  depthwiseBackpropFilterOps,
  depthwiseBackpropInputConv,
  depthwiseBackpropInputLoop,
} from '../../src/core/kernels/wasmConvGrads';
import { randData, maxRelErr } from '../helpers/kernelCheck';

type Pad = 'same' | 'valid' | number | [[number, number], [number, number], [number, number], [number, number]];
type Shape4 = [number, number, number, number];

interface Case {
  kind: 'conv' | 'depthwise';
  xShape: Shape4;
  wShape: Shape4;
  strides: number;
  pad: Pad;
}

/** Gradients wrt x and W of sum(conv(x, W) * r) on the given backend. */
async function gradsOn(backend: string, c: Case, seed: number): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  return tf.tidy(() => {
    const x = tf.tensor4d(randData(c.xShape, seed), c.xShape);
    const w = tf.tensor4d(randData(c.wShape, seed + 1), c.wShape);
    const conv = (a: tf.Tensor4D, b: tf.Tensor4D): tf.Tensor4D =>
      c.kind === 'conv' ? tf.conv2d(a, b, c.strides, c.pad) : tf.depthwiseConv2d(a, b, c.strides, c.pad);
    const yShape = conv(x, w).shape;
    const r = tf.tensor4d(randData(yShape, seed + 2), yShape);
    const f = (a: tf.Tensor, b: tf.Tensor): tf.Scalar => tf.sum(tf.mul(conv(a as tf.Tensor4D, b as tf.Tensor4D), r));
    return tf.grads(f)([x, w]).map((g) => g.dataSync() as Float32Array);
  });
}

async function check(c: Case, seed: number): Promise<void> {
  const ref = await gradsOn('cpu', c, seed);
  const got = await gradsOn('wasm', c, seed);
  const ex = maxRelErr(ref[0], got[0]);
  const ew = maxRelErr(ref[1], got[1]);
  const what = JSON.stringify(c);
  assert.ok(ex < 1e-4, `dx rel err ${ex} for ${what}`);
  assert.ok(ew < 1e-4, `dW rel err ${ew} for ${what}`);
}

function pads(k: number): Pad[] {
  // 'same' (odd/even remainders come from the sizes), 'valid', a number, explicit asymmetric,
  // and explicit padding larger than k-1 (exercises the cropping branches).
  return ['same', 'valid', 1, [[0, 0], [1, 2], [0, 3], [0, 0]], [[0, 0], [k + 1, 0], [2, k], [0, 0]]];
}

before(async () => {
  await initBackend('cpu'); // (silences the cpu backend's "install tfjs-node" banner)
  const info = await initBackend('wasm');
  assert.equal(info.name, 'wasm');
});

test('the missing wasm gradient kernels are registered', () => {
  for (const k of ['Conv2DBackpropFilter', 'DepthwiseConv2dNativeBackpropFilter', 'DepthwiseConv2dNativeBackpropInput']) {
    assert.ok(tf.getKernel(k, 'wasm'), `${k} registered`);
    assert.ok(WASM_CONV_GRAD_KERNELS.includes(k));
  }
});

test('conv2d gradients match the cpu backend (filters 1..7, strides 1/2, all paddings, odd/even sizes)', async () => {
  const channels: Array<[number, number]> = [[1, 4], [3, 8], [5, 2], [2, 3]];
  let seed = 1;
  let n = 0;
  for (const k of [1, 3, 5, 7]) {
    for (const s of [1, 2]) {
      for (const pad of pads(k)) {
        for (const extra of [2, 3]) {
          const h = k + extra; // odd and even sizes
          const w = k + 5 - extra;
          const batch = n % 2 === 0 ? 1 : 3;
          const [ci, co] = channels[n % channels.length];
          await check({ kind: 'conv', xShape: [batch, h, w, ci], wShape: [k, k, ci, co], strides: s, pad }, seed);
          seed += 3;
          n++;
        }
      }
    }
  }
  assert.equal(n, 80);
});

test('conv2d gradients with the stock Conv2DBackpropInput still match (A/B switch works)', async () => {
  useFastConv2DBackpropInput(false);
  try {
    await check({ kind: 'conv', xShape: [2, 9, 8, 3], wShape: [3, 3, 3, 4], strides: 2, pad: 'same' }, 99);
  } finally {
    useFastConv2DBackpropInput(true);
  }
  await check({ kind: 'conv', xShape: [2, 9, 8, 3], wShape: [3, 3, 3, 4], strides: 2, pad: 'same' }, 99);
});

test('depthwise conv gradients match the cpu backend (multiplier 1 and 2)', async () => {
  let seed = 1000;
  let n = 0;
  for (const k of [1, 3, 5]) {
    for (const s of [1, 2]) {
      for (const pad of pads(k)) {
        for (const m of [1, 2]) {
          const extra = n % 2 === 0 ? 2 : 3;
          const h = k + extra;
          const w = k + 5 - extra;
          const batch = n % 3 === 0 ? 3 : 1;
          const c = [1, 4, 3][n % 3];
          await check({ kind: 'depthwise', xShape: [batch, h, w, c], wShape: [k, k, c, m], strides: s, pad }, seed);
          seed += 3;
          n++;
        }
      }
    }
  }
  assert.equal(n, 60);
});

test('the alternative depthwise gradient implementations (bench comparisons) are correct too', async () => {
  let seed = 3000;
  for (const s of [1, 2]) {
    for (const pad of ['same', 'valid', [[0, 0], [0, 1], [1, 2], [0, 0]]] as Pad[]) {
      for (const m of [1, 2]) {
        const xShape: Shape4 = [2, 9, 8, 3];
        const wShape: Shape4 = [3, 3, 3, m];
        const run = async (backend: string, f: 'kernel' | 'alt'): Promise<Float32Array[]> => {
          await tf.setBackend(backend);
          return tf.tidy(() => {
            const x = tf.tensor4d(randData(xShape, seed), xShape);
            const w = tf.tensor4d(randData(wShape, seed + 1), wShape);
            const dy = tf.depthwiseConv2d(x, w, s, pad);
            const fa = { strides: s, pad, dilations: 1, filterShape: wShape };
            const ia = { strides: s, pad, dilations: 1, inputShape: xShape };
            const run = (k: string, inputs: tf.NamedTensorMap, attrs: object): tf.Tensor =>
              tf.engine().runKernel(k, inputs, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;
            const outs =
              f === 'kernel'
                ? [run('DepthwiseConv2dNativeBackpropFilter', { x, dy }, fa), run('DepthwiseConv2dNativeBackpropInput', { dy, filter: w }, ia)]
                : [depthwiseBackpropFilterOps(x, dy, fa), depthwiseBackpropInputConv(dy, w, ia), depthwiseBackpropInputLoop(dy, w, ia)];
            return outs.map((t) => t.dataSync() as Float32Array);
          });
        };
        const [refW, refX] = await run('cpu', 'kernel');
        const [opsW, convX, loopX] = await run('wasm', 'alt');
        const what = JSON.stringify({ s, pad, m });
        assert.ok(maxRelErr(refW, opsW) < 1e-4, `ops dW ${what}`);
        assert.ok(maxRelErr(refX, convX) < 1e-4, `conv dx ${what}`);
        assert.ok(maxRelErr(refX, loopX) < 1e-4, `loop dx ${what}`);
        seed += 3;
      }
    }
  }
});

test('MobileNetV2-style blocks: ZeroPadding + depthwise 3x3 stride 2 valid, and same stride 1', async () => {
  for (const [h, c] of [[16, 8], [15, 6]] as const) {
    await check({ kind: 'depthwise', xShape: [2, h, h, c], wShape: [3, 3, c, 1], strides: 2, pad: [[0, 0], [0, 1], [0, 1], [0, 0]] }, h);
    await check({ kind: 'depthwise', xShape: [2, h, h, c], wShape: [3, 3, c, 1], strides: 1, pad: 'same' }, h + 1);
  }
});

test('tfjs-layers conv + depthwise model (fused conv path) trains the same on wasm as on cpu', async () => {
  const grads = async (backend: string): Promise<Float32Array[]> => {
    await tf.setBackend(backend);
    const model = tf.sequential({
      layers: [
        tf.layers.conv2d({ inputShape: [10, 10, 3], filters: 4, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', kernelInitializer: 'ones' }),
        tf.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same', depthMultiplier: 2, activation: 'linear', depthwiseInitializer: 'ones' }),
        tf.layers.conv2d({ filters: 3, kernelSize: 1, useBias: false, kernelInitializer: 'ones' }),
        tf.layers.flatten(),
      ],
    });
    // Deterministic but non-trivial weights.
    model.setWeights(model.getWeights().map((wt, i) => tf.tensor(randData(wt.shape, 500 + i), wt.shape)));
    const x = tf.tensor4d(randData([2, 10, 10, 3], 7), [2, 10, 10, 3]);
    const { grads: g, value } = tf.variableGrads(() => tf.sum(tf.square(model.apply(x) as tf.Tensor)) as tf.Scalar);
    const out = model.trainableWeights.map((v) => g[v.originalName].dataSync() as Float32Array);
    tf.dispose([x, value, ...Object.values(g)]);
    model.dispose();
    return out;
  };
  const ref = await grads('cpu');
  const got = await grads('wasm');
  assert.equal(got.length, ref.length);
  ref.forEach((r, i) => assert.ok(maxRelErr(r, got[i]) < 1e-4, `weight ${i}: ${maxRelErr(r, got[i])}`));
});

test('matMul with transposeA/transposeB (plain, batched, fused) matches the cpu backend', async () => {
  const cases: Array<{ a: number[]; b: number[]; tA: boolean; tB: boolean; fused?: boolean }> = [
    { a: [7, 5], b: [5, 3], tA: false, tB: false },
    { a: [5, 7], b: [5, 3], tA: true, tB: false },
    { a: [7, 5], b: [3, 5], tA: false, tB: true },
    { a: [5, 7], b: [3, 5], tA: true, tB: true },
    { a: [4, 5, 7], b: [4, 5, 3], tA: true, tB: false },
    { a: [2, 3, 7, 5], b: [2, 3, 3, 5], tA: false, tB: true },
    { a: [6, 9], b: [4, 6], tA: true, tB: true, fused: true },
    { a: [9, 6], b: [4, 6], tA: false, tB: true, fused: true },
  ];
  let seed = 2000;
  for (const c of cases) {
    const run = async (backend: string): Promise<Float32Array[]> => {
      await tf.setBackend(backend);
      return tf.tidy(() => {
        const a = tf.tensor(randData(c.a, seed), c.a);
        const b = tf.tensor(randData(c.b, seed + 1), c.b);
        const bias = tf.tensor1d(randData([c.b[c.tB ? c.b.length - 2 : c.b.length - 1]], seed + 2));
        const f = (x: tf.Tensor, y: tf.Tensor): tf.Scalar => {
          const p = c.fused
            ? tf.fused.matMul({ a: x as tf.Tensor2D, b: y as tf.Tensor2D, transposeA: c.tA, transposeB: c.tB, bias, activation: 'relu' })
            : tf.matMul(x, y, c.tA, c.tB);
          return tf.sum(tf.square(p));
        };
        const value = c.fused
          ? tf.fused.matMul({ a: a as tf.Tensor2D, b: b as tf.Tensor2D, transposeA: c.tA, transposeB: c.tB, bias, activation: 'relu' })
          : tf.matMul(a, b, c.tA, c.tB);
        return [value, ...tf.grads(f)([a, b])].map((t) => t.dataSync() as Float32Array);
      });
    };
    const ref = await run('cpu');
    const got = await run('wasm');
    ref.forEach((r, i) => assert.ok(maxRelErr(r, got[i]) < 1e-4, `${JSON.stringify(c)} output ${i}: ${maxRelErr(r, got[i])}`));
    seed += 3;
  }
});

test('no tensor or wasm buffer leaks over repeated gradient calls and optimizer steps', async () => {
  await tf.setBackend('wasm');
  const x = tf.tensor4d(randData([3, 12, 11, 4], 3), [3, 12, 11, 4]);
  const w = tf.variable(tf.tensor4d(randData([3, 3, 4, 6], 4), [3, 3, 4, 6]));
  const dwv = tf.variable(tf.tensor4d(randData([3, 3, 6, 2], 5), [3, 3, 6, 2]));
  const opt = tf.train.sgd(0.01);
  const step = (): void => {
    const g = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
      tf.sum(tf.square(tf.depthwiseConv2d(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, 'same'), dwv, 1, 'valid'))),
    )([x, w]);
    tf.dispose(g);
    const cost = opt.minimize(
      () => tf.sum(tf.square(tf.depthwiseConv2d(tf.conv2d(x, w, 1, [[0, 0], [1, 0], [2, 1], [0, 0]]), dwv, 2, 'same'))) as tf.Scalar,
      true,
      [w, dwv],
    );
    cost?.dispose();
    // A dense layer's backward pass (transposed matMuls).
    tf.tidy(() => {
      tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.matMul(a, b)))([tf.reshape(x, [3, -1]), tf.reshape(x, [-1, 3])]);
    });
  };
  step(); // warm-up (optimizer slots, etc.)
  const be = tf.engine().backend;
  const tensors = tf.memory().numTensors;
  const ids = be.numDataIds();
  for (let i = 0; i < 10; i++) step();
  assert.equal(tf.memory().numTensors, tensors, 'tensor count flat');
  assert.equal(be.numDataIds(), ids, 'wasm data ids flat');
  tf.dispose([x, w, dwv]);
  opt.dispose();
});
