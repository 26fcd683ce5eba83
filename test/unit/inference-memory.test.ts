/**
 * Inference holds only the activations it still needs: outside a gradient tape the backbone frees
 * each layer's input after its last use, with the same values as the taped forward pass (exactly:
 * the same ops run), and evaluation batches are capped by pixels so 224 px images do not build a
 * 256-image batch.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { tf } from '../../src/core/tf';
import { initBackend } from '../../src/core/backend';
import { Backbone } from '../../src/core/model/backbone';
import { extractNsfwjsMobilenet, MOBILENET_DEFAULT_CUT } from '../../src/core/model/nsfwjsMobilenet';
import { PiggybackNet } from '../../src/core/train/taskNets';
import { inferenceBatchSize, predictClasses } from '../../src/core/train/batches';
import { smallResidualNet } from '../helpers/residualNet';
import type { Dataset } from '../../src/core/types';

before(async () => {
  await initBackend('wasm');
});

/** Peak bytes the engine tracked while fn ran (every tensor allocation). */
function peakBytes<T>(fn: () => T): { peak: number; result: T } {
  const eng = tf.engine() as unknown as { trackTensor: (a: unknown, b: unknown) => void; state: { numBytes: number } };
  const orig = eng.trackTensor;
  let peak = eng.state.numBytes;
  eng.trackTensor = function (this: unknown, a: unknown, b: unknown) {
    orig.call(eng, a, b);
    peak = Math.max(peak, eng.state.numBytes);
  };
  try {
    const result = fn();
    return { peak, result };
  } finally {
    eng.trackTensor = orig;
  }
}

async function compare(bb: Backbone, shape: [number, number, number, number], maxShare: number): Promise<void> {
  const x = tf.randomUniform(shape, 0, 1, 'float32', 3) as tf.Tensor4D;
  const net = new PiggybackNet(bb, 10, { threshold: 5e-3, maskScale: 1e-2, maskKind: 'binary', bnMode: 'frozen', seed: 1, name: 'mem' });
  try {
    const before = tf.memory().numTensors;
    const base = tf.memory().numBytes;
    const inf = peakBytes(() => tf.tidy(() => net.features(x, false)));
    // The same forward pass under a tape (as training records it): every intermediate kept.
    let tapedValues: Float32Array | null = null;
    let tapedForward = 0;
    const g = tf.tidy(() => tf.grad((z: tf.Tensor) => {
      const f = net.features(z as tf.Tensor4D, false);
      tapedValues = f.dataSync() as Float32Array;
      tapedForward = tf.memory().numBytes - base; // what the forward pass holds for the backward one
      return tf.sum(f);
    })(x));
    g.dispose();
    assert.deepEqual(inf.result.dataSync(), tapedValues, 'freeing early changes no value');
    inf.result.dispose();
    assert.equal(tf.memory().numTensors, before, 'no tensor left behind');
    const infPeak = inf.peak - base;
    assert.ok(infPeak < tapedForward * maxShare, `inference peak ${(infPeak / 2 ** 20).toFixed(1)} MB vs ${(tapedForward / 2 ** 20).toFixed(1)} MB held by the taped forward pass`);
  } finally {
    net.dispose();
    x.dispose();
  }
}

test('residual net (Add skips kept alive until the Add): inference frees activations early, same values', async () => {
  const bb = Backbone.fromModel(smallResidualNet(3), 'mem', '(in memory)');
  try {
    await compare(bb, [16, 28, 28, 3], 0.25); // measured 0.12 (0.55 when every layer's output was kept)
  } finally {
    bb.dispose();
  }
});

test('MobileNetV2 at 96 px: inference peak well under the taped forward pass', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pb-infmem-'));
  const bb = await Backbone.load(extractNsfwjsMobilenet(path.join(dir, 'backbone')), { cutAt: MOBILENET_DEFAULT_CUT, inputHW: [96, 96] });
  try {
    await compare(bb, [4, 96, 96, 3], 0.25); // measured 0.08 (0.56 when every layer's output was kept)
  } finally {
    bb.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('inference batches are capped by pixels: 256 at 28 and 32 px, 64 at 64 px, 5 at 224 px', () => {
  assert.equal(inferenceBatchSize({ height: 28, width: 28 }), 256);
  assert.equal(inferenceBatchSize({ height: 32, width: 32 }), 256);
  assert.equal(inferenceBatchSize({ height: 64, width: 64 }), 64);
  assert.equal(inferenceBatchSize({ height: 224, width: 224 }), 5);
  assert.equal(inferenceBatchSize({ height: 1, width: 1 }, 32), 32);
  assert.equal(inferenceBatchSize({ height: 4096, width: 4096 }), 1);

  // predictClasses at 224 px sees batches of 5, whatever it was asked for.
  const n = 12;
  const ds: Dataset = { name: 'big', labels: new Int32Array(n), count: n, classNames: ['a', 'b'], images: new Float32Array(n * 224 * 224), height: 224, width: 224, channels: 1 };
  const seen: number[] = [];
  predictClasses(ds, (x) => {
    seen.push(x.shape[0]);
    return tf.zeros([x.shape[0], 2]) as tf.Tensor2D;
  }, 256);
  assert.deepEqual(seen, [5, 5, 2]);
});
