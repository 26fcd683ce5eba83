import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { tf } from '../../src/core/tf';
import { initBackend, activeBackend, describeBackend, resolveWasmDir } from '../../src/core/backend';
import { PiggybackError } from '../../src/core/errors';
import { loadNativeAddon } from '../../src/core/native/addon';

function nativeBuilt(): boolean {
  try {
    loadNativeAddon();
    return true;
  } catch {
    return false;
  }
}

function tfjsNodeInstalled(): boolean {
  try {
    require.resolve('@tensorflow/tfjs-node');
    return true;
  } catch {
    return false;
  }
}

// Order matters: the bad-wasmDir check must run before wasm is initialised in this process.
test('forcing wasm with a folder lacking the .wasm files throws BACKEND_UNAVAILABLE', async () => {
  const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'pme-wasm-'));
  try {
    await assert.rejects(initBackend('wasm', { wasmDir: empty }), (e: unknown) => {
      assert.ok(e instanceof PiggybackError);
      assert.equal(e.code, 'BACKEND_UNAVAILABLE');
      assert.match(e.message, /wasm/);
      assert.ok(e.message.includes(empty));
      assert.ok(e.hint.length > 0);
      return true;
    });
  } finally {
    fs.rmSync(empty, { recursive: true, force: true });
  }
  assert.equal(activeBackend(), null);
});

test('the default wasm folder is tfjs-backend-wasm/dist when no wasm/ folder ships beside the code', () => {
  const dir = resolveWasmDir();
  assert.ok(fs.existsSync(path.join(dir, 'tfjs-backend-wasm-simd.wasm')), dir);
  assert.equal(resolveWasmDir('some/dir'), path.resolve('some/dir'));
});

test("'auto' picks the fastest available backend and says why it fell back", async () => {
  const first = await initBackend('auto');
  if (tfjsNodeInstalled()) {
    assert.equal(first.name, 'tensorflow');
    return;
  }
  if (nativeBuilt()) {
    assert.equal(first.name, 'native');
    assert.match(first.fallbackReason ?? '', /tfjs-node/);
  }
  // Without the native addon (hidden here by a path where it is not), 'auto' falls back to wasm.
  const info = await initBackend('auto', { nativeAddon: path.join(os.tmpdir(), 'pme-no-native-addon', 'piggyback_native.node') });
  assert.equal(info.name, 'wasm');
  assert.match(info.detail, /^wasm \((SIMD|no SIMD), \d+ threads?\)$/);
  assert.ok(info.fallbackReason);
  assert.match(info.fallbackReason, /tfjs-node/);
  assert.equal(tf.getBackend(), 'wasm');
  assert.deepEqual(activeBackend(), info);
  assert.match(describeBackend(), /^wasm .*tfjs-node/);
  // The conv gradient kernels wasm lacks are there.
  assert.ok(tf.getKernel('Conv2DBackpropFilter', 'wasm'));
  const g = tf.grad((w: tf.Tensor) => tf.sum(tf.conv2d(tf.ones([1, 5, 5, 2]) as tf.Tensor4D, w as tf.Tensor4D, 1, 'same')))(
    tf.ones([3, 3, 2, 2]),
  );
  assert.deepEqual(g.shape, [3, 3, 2, 2]);
});

test("forcing 'tensorflow' without tfjs-node throws BACKEND_UNAVAILABLE with an install hint", async (t) => {
  if (tfjsNodeInstalled()) return t.skip('tfjs-node is installed here');
  await assert.rejects(initBackend('tensorflow'), (e: unknown) => {
    assert.ok(e instanceof PiggybackError);
    assert.equal(e.code, 'BACKEND_UNAVAILABLE');
    assert.match(e.message, /tensorflow/);
    assert.match(e.message, /@tensorflow\/tfjs-node is not installed/);
    assert.match(e.hint, /npm install @tensorflow\/tfjs-node/);
    assert.match(e.hint, /wasm/);
    return true;
  });
  // The failed attempt leaves the previous backend in place.
  assert.equal(tf.getBackend(), 'wasm');
});

test("forcing 'cpu' works, and switching back to wasm too", async () => {
  const cpu = await initBackend('cpu');
  assert.deepEqual(cpu, { name: 'cpu', detail: 'cpu (pure JavaScript, slow)' });
  assert.equal(tf.getBackend(), 'cpu');
  assert.equal(tf.sum(tf.ones([4])).dataSync()[0], 4);
  assert.equal(describeBackend(), 'cpu (pure JavaScript, slow)');
  const wasm = await initBackend('wasm');
  assert.equal(wasm.name, 'wasm');
  assert.equal(wasm.fallbackReason, undefined);
  assert.equal(tf.getBackend(), 'wasm');
});

test('concurrent initBackend calls are serialised', async () => {
  const [a, b, c] = await Promise.all([initBackend('cpu'), initBackend('wasm'), initBackend('cpu')]);
  assert.equal(a.name, 'cpu');
  assert.equal(b.name, 'wasm');
  assert.equal(c.name, 'cpu');
  assert.equal(tf.getBackend(), 'cpu');
  assert.equal(activeBackend()?.name, 'cpu');
});
