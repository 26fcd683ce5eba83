/**
 * Mask training on the 'native' backend gives what the portable wasm path gives: the same losses
 * and the same masks after the same steps (float tolerance), and no tensor leaks. Also: forcing
 * 'native' where the addon is missing is a clear BACKEND_UNAVAILABLE, and 'auto' prefers native.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as os from 'node:os';
import * as path from 'node:path';
import { tf } from '../../src/core/tf';
import { initBackend } from '../../src/core/backend';
import { PiggybackError } from '../../src/core/errors';

import { Backbone } from '../../src/core/model/backbone';
import { buildReferenceCnn } from '../../src/core/model/referenceCnn';
import { PiggybackNet, FinetuneNet, type TaskNet } from '../../src/core/train/taskNets';
import { trainStep } from '../../src/core/train/loop';
import * as fs from 'node:fs';
import { extractNsfwjsMobilenet, MOBILENET_DEFAULT_CUT } from '../../src/core/model/nsfwjsMobilenet';
import { smallResidualNet } from '../helpers/residualNet';
import { adam } from '../../src/core/train/adam';
import { nativeSkip } from '../helpers/nativeSkip';

const skip = nativeSkip();

function batch(i: number, n: number, shape: [number, number, number] = [28, 28, 1]): { x: tf.Tensor4D; y: tf.Tensor1D } {
  return {
    x: tf.randomUniform([n, ...shape], 0, 1, 'float32', 1000 + i) as tf.Tensor4D,
    y: tf.tensor1d(Array.from({ length: n }, (_, j) => (j * 7 + i) % 10), 'int32'),
  };
}

interface Run {
  losses: number[];
  masks: Array<Uint8Array | Int8Array>;
  head: Float32Array;
  leaked: number;
}

type Arch = 'reference' | 'residual' | 'mobilenetv2';

/** The backbone of `arch`, built on the active backend. */
async function backboneOf(arch: Arch): Promise<Backbone> {
  if (arch === 'reference') return Backbone.fromModel(buildReferenceCnn(1), 'test', '(in memory)');
  if (arch === 'residual') return Backbone.fromModel(smallResidualNet(10), 'test', '(in memory)');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pb-nt-mnv2-'));
  return Backbone.load(extractNsfwjsMobilenet(dir), { cutAt: MOBILENET_DEFAULT_CUT, inputHW: [32, 32] });
}

async function run(backend: 'wasm' | 'native', kind: 'mask' | 'finetune', steps: number, arch: Arch = 'reference', n = 16): Promise<Run> {
  await initBackend(backend);
  const backbone = await backboneOf(arch);
  const shape = backbone.inputShape;
  const net: TaskNet =
    kind === 'mask'
      ? new PiggybackNet(backbone, 10, { threshold: 5e-3, maskScale: 1e-2, maskKind: 'binary', bnMode: 'frozen', seed: 1, name: 't' })
      : new FinetuneNet(backbone, 10, 1, 't');
  // Large learning rates so that masks really change within a few steps.
  const optimizers = { mask: adam(2e-3), head: adam(1e-3) };
  const losses: number[] = [];
  trainStep(net, optimizers, batch(0, n, shape));
  const before = tf.memory().numTensors;
  for (let i = 1; i <= steps; i++) losses.push(trainStep(net, optimizers, batch(i, n, shape)).loss);
  const leaked = tf.memory().numTensors - before;
  const masks = net instanceof PiggybackNet ? net.masks() : [];
  const head = ((net as PiggybackNet).head.kernel.dataSync() as Float32Array).slice();
  optimizers.mask.dispose();
  optimizers.head.dispose();
  net.dispose();
  backbone.dispose();
  return { losses, masks, head, leaked };
}

function relDiff(a: number[], b: number[]): number {
  return Math.max(...a.map((v, i) => Math.abs(v - b[i]) / Math.max(1e-6, Math.abs(v))));
}

test('mask training: native gives the same losses and masks as wasm after the same steps, no leaks', { skip }, async () => {
  const steps = 8;
  const wasm = await run('wasm', 'mask', steps);
  const native = await run('native', 'mask', steps);
  assert.equal(native.leaked, 0, 'no tensors leaked on native');
  assert.ok(relDiff(wasm.losses, native.losses) < 1e-3, `losses ${wasm.losses} vs ${native.losses}`);
  const { flips, total, off } = compareMasks(wasm, native);
  assert.ok(off > 0, 'the masks changed during training (the comparison is not vacuous)');
  assert.ok(flips / total < 1e-4, `${flips} of ${total} mask bits differ`);
  let e = 0;
  for (let j = 0; j < wasm.head.length; j++) e = Math.max(e, Math.abs(wasm.head[j] - native.head[j]));
  assert.ok(e < 1e-4, `head weights differ by ${e}`);
});

/** Native and wasm masks after the same steps: the fraction of bits that differ, and the masks moved at all. */
function compareMasks(a: Run, b: Run): { flips: number; total: number; off: number } {
  let flips = 0;
  let total = 0;
  let off = 0;
  a.masks.forEach((m, i) => {
    total += m.length;
    for (let j = 0; j < m.length; j++) {
      if (m[j] !== b.masks[i][j]) flips++;
      if (m[j] === 0) off++;
    }
  });
  return { flips, total, off };
}

for (const arch of ['residual', 'mobilenetv2'] as const) {
  test(`mask training on ${arch}: native gives wasm's losses, masks and head after the same steps, no leaks`, { skip }, async () => {
    const steps = 4;
    const wasm = await run('wasm', 'mask', steps, arch, 8);
    const native = await run('native', 'mask', steps, arch, 8);
    assert.equal(native.leaked, 0, 'no tensors leaked on native');
    assert.ok(relDiff(wasm.losses, native.losses) < 1e-3, `losses ${wasm.losses} vs ${native.losses}`);
    const c = compareMasks(wasm, native);
    assert.ok(c.off > 0, 'the masks changed during training (the comparison is not vacuous)');
    assert.ok(c.flips / c.total < 1e-4, `${c.flips} of ${c.total} mask bits differ`);
    let e = 0;
    for (let j = 0; j < wasm.head.length; j++) e = Math.max(e, Math.abs(wasm.head[j] - native.head[j]));
    assert.ok(e < 1e-3, `head weights differ by ${e}`);
  });
}

test('full fine-tuning (trainable BN): native matches wasm losses', { skip }, async () => {
  const wasm = await run('wasm', 'finetune', 4);
  const native = await run('native', 'finetune', 4);
  assert.equal(native.leaked, 0);
  assert.ok(relDiff(wasm.losses, native.losses) < 1e-3, `losses ${wasm.losses} vs ${native.losses}`);
});

test("forcing 'native' without the addon throws BACKEND_UNAVAILABLE with a build hint; 'auto' then falls back to wasm", async () => {
  const missing = path.join(os.tmpdir(), 'no-such-dir', 'piggyback_native.node');
  await initBackend('wasm');
  await assert.rejects(initBackend('native', { nativeAddon: missing }), (e: unknown) => {
    assert.ok(e instanceof PiggybackError);
    assert.equal(e.code, 'BACKEND_UNAVAILABLE');
    assert.match(e.message, /backend 'native' is not available: the native addon is not built/);
    assert.ok(e.message.includes(missing));
    assert.match(e.hint, /npm run build:native/);
    assert.match(e.hint, /libdnnl-dev/);
    assert.match(e.hint, /wasm/);
    return true;
  });
  assert.equal(tf.getBackend(), 'wasm', 'the failed attempt leaves the previous backend');
  const info = await initBackend('auto', { nativeAddon: missing });
  assert.notEqual(info.name, 'native');
  if (info.name === 'wasm') assert.match(info.fallbackReason ?? '', /native addon is not built/);
});

test("'auto' picks native when the addon is built (and tfjs-node is absent)", { skip }, async (t) => {
  try {
    require.resolve('@tensorflow/tfjs-node');
    return t.skip('tfjs-node is installed here');
  } catch {
    /* expected */
  }
  const info = await initBackend('auto');
  assert.equal(info.name, 'native');
  assert.match(info.detail, /^native \(oneDNN [\d.]+, (up to )?\d+ threads?\)$/);
  assert.match(info.fallbackReason ?? '', /tfjs-node/);
  await initBackend('wasm');
});
