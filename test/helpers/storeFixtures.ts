/** Small mask projects for store tests: five odd-shaped layers, seeded artifacts, temp folders removed after the run. */
import { after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { EpochMetrics, MaskedLayerInfo, TrainOptions } from '../../src/core/types';
import { DEFAULT_TRAIN_OPTIONS } from '../../src/core/types';
import { PiggybackError } from '../../src/core/errors';
import type { BackboneRecord } from '../../src/core/project/manifest';
import { createProject } from '../../src/core/project/projectDir';
import type { TaskArtifacts } from '../../src/core/project/taskFiles';
import { rng } from './xorshift';

const scratchDirs: string[] = [];
/** A fresh temp folder, removed after the tests. */
export function scratch(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'pb-store-'));
  scratchDirs.push(d);
  return d;
}
after(() => {
  for (const d of scratchDirs) fs.rmSync(d, { recursive: true, force: true });
});

export const LAYERS: MaskedLayerInfo[] = [
  { name: 'conv1', kind: 'conv2d', shape: [3, 3, 3, 8], size: 216 },
  { name: 'dw', kind: 'depthwise', shape: [3, 3, 8, 1], size: 72 },
  { name: 'conv2', kind: 'conv2d', shape: [3, 3, 8, 16], size: 1152 },
  { name: 'odd', kind: 'dense', shape: [37, 1], size: 37 },
  { name: 'fc', kind: 'dense', shape: [64, 10], size: 640 },
];
export const MASKED = LAYERS.reduce((s, l) => s + l.size, 0);
export const SHA = 'ab'.repeat(32);

export function tmpDir(): string {
  return scratch();
}

export function backbone(dir: string): BackboneRecord {
  return { modelPath: path.join(dir, '..', 'model', 'model.json'), sha256: SHA, cutAt: null, inputShape: [28, 28, 1], totalParams: 5000, maskedParams: MASKED };
}

export function newProject(): string {
  const dir = path.join(tmpDir(), 'proj');
  createProject(dir, backbone(dir), LAYERS, 5e-3);
  return dir;
}

export function history(n: number, r: () => number): EpochMetrics[] {
  return Array.from({ length: n }, (_, i) => ({
    epoch: i + 1, trainAccuracy: r(), trainLoss: r() * 3, valAccuracy: i % 2 ? null : r(),
    layerSparsity: LAYERS.map(() => r()), bitsFlipped: Math.floor(r() * 1000), seconds: r() * 10,
  }));
}

export function artifacts(name: string, seed: number, kind: 'binary' | 'ternary' = 'binary', withBn = false): TaskArtifacts {
  const r = rng(seed);
  const p = 0.3 + 0.4 * r();
  const masks = LAYERS.map((l) => {
    if (kind === 'binary') {
      const m = new Uint8Array(l.size);
      for (let i = 0; i < l.size; i++) m[i] = r() < p ? 1 : 0;
      return m;
    }
    const m = new Int8Array(l.size);
    for (let i = 0; i < l.size; i++) m[i] = Math.floor(r() * 3) - 1;
    return m;
  });
  const f = (n: number) => new Float32Array(n).map(() => r() * 2 - 1);
  const options: TrainOptions = { ...DEFAULT_TRAIN_OPTIONS, maskKind: kind, bnMode: withBn ? 'trainable' : 'frozen', seed };
  return {
    name, dataset: 'mnist', classNames: Array.from({ length: 10 }, (_, i) => String(i)), options, masks,
    head: { kernel: f(32 * 10), shape: [32, 10], bias: f(10) },
    bn: withBn ? [{ layer: 'bn1', gamma: f(8), beta: f(8), movingMean: f(8), movingVariance: f(8) }, { layer: 'bn2', gamma: f(16), beta: f(16), movingMean: f(16), movingVariance: f(16) }] : undefined,
    history: history(3, r), testAccuracy: r(),
    evaluation: { accuracy: 0.9, perClassAccuracy: [0.5, 1], confusion: [[1, 1], [0, 2]], count: 4, seconds: 0.1, imagesPerSecond: 40 },
    trainSeconds: 12.5, createdAt: '2024-01-01T00:00:00.000Z', dataLimits: { trainPerClass: 50, valFraction: 0.1 },
  };
}

export function code(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof PiggybackError, `expected PiggybackError, got ${e}`);
    return `${e.code}: ${e.message}`;
  }
  assert.fail('expected an error');
}
