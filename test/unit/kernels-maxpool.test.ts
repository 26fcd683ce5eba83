/** The JS MaxPoolGrad for wasm (src/core/kernels/wasmMaxPoolGrad.ts) against the cpu backend. */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../src/core/tf';
import { initBackend } from '../../src/core/backend';

function data(n: number, seed: number, ties: boolean): Float32Array {
  let s = seed;
  const next = (): number => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648 - 0.5;
  };
  // With ties: small integers and many zeros (as after a ReLU).
  return Float32Array.from({ length: n }, () => (ties ? Math.max(0, Math.round(next() * 6)) : next()));
}

before(async () => {
  await initBackend('cpu');
  await initBackend('wasm');
});

test('wasm MaxPoolGrad is the JS kernel and matches cpu (sizes, overlapping windows, paddings, ties)', async () => {
  const k = tf.getKernel('MaxPoolGrad', 'wasm');
  assert.ok(k && k.setupFunc === undefined, 'the JS kernel (the stock one binds a wasm function in setupFunc)');
  type Pad = 'same' | 'valid' | number;
  const cases: Array<{ shape: [number, number, number, number]; f: number | [number, number]; s: number; pad: Pad }> = [
    { shape: [2, 8, 8, 3], f: 2, s: 2, pad: 'valid' },
    { shape: [3, 7, 9, 4], f: 2, s: 2, pad: 'valid' },
    { shape: [2, 7, 9, 4], f: 2, s: 2, pad: 'same' },
    { shape: [1, 9, 8, 5], f: 3, s: 2, pad: 'same' },
    { shape: [2, 6, 6, 2], f: 3, s: 1, pad: 'same' },
    { shape: [2, 10, 7, 3], f: [3, 2], s: 2, pad: 1 },
  ];
  let seed = 1;
  for (const c of cases) {
    for (const ties of [false, true]) {
      const n = c.shape.reduce((a, b) => a * b, 1);
      const xd = data(n, seed++, ties);
      const run = async (backend: string): Promise<Float32Array> => {
        await tf.setBackend(backend);
        return tf.tidy(() => {
          const x = tf.tensor4d(xd, c.shape);
          const y = tf.maxPool(x, c.f, c.s, c.pad);
          const r = tf.tensor(data(y.size, seed + 100, false), y.shape);
          return tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(a as tf.Tensor4D, c.f, c.s, c.pad), r)))(x).dataSync() as Float32Array;
        });
      };
      const ref = await run('cpu');
      const got = await run('wasm');
      let err = 0;
      for (let i = 0; i < ref.length; i++) err = Math.max(err, Math.abs(ref[i] - got[i]));
      assert.ok(err < 1e-5, `${JSON.stringify(c)} ties=${ties}: max abs err ${err}`);
    }
  }
});

test('MaxPoolGrad does not leak', async () => {
  await tf.setBackend('wasm');
  const x = tf.randomUniform([2, 8, 8, 3]) as tf.Tensor4D;
  const step = (): void => tf.dispose(tf.grad((a: tf.Tensor) => tf.sum(tf.maxPool(a as tf.Tensor4D, 2, 2, 'valid')))(x));
  step();
  const n = tf.memory().numTensors;
  const ids = tf.engine().backend.numDataIds();
  for (let i = 0; i < 5; i++) step();
  assert.equal(tf.memory().numTensors, n);
  assert.equal(tf.engine().backend.numDataIds(), ids);
  x.dispose();
});
