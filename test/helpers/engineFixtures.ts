/** Small backbones and datasets for engine tests: fast, deterministic, real code paths. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { tf } from '../../src/core/tf';
import { initBackend } from '../../src/core/backend';
import { buildReferenceCnn } from '../../src/core/model/referenceCnn';
import { saveLayersModelFile } from '../../src/core/model/modelIO';
import type { Dataset } from '../../src/core/types';

export async function useWasm(): Promise<void> {
  await initBackend('wasm');
}

export function tmpDir(prefix = 'pb-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** A reference CNN with random (seeded) weights saved as model.json in a fresh folder. */
export async function savedReferenceCnn(seed = 1, input: [number, number, number] = [28, 28, 1]): Promise<string> {
  const dir = tmpDir('pb-model-');
  const model = buildReferenceCnn(seed, input);
  const p = await saveLayersModelFile(model, dir);
  model.dispose();
  return p;
}

/** A learnable synthetic dataset: class c lights up quadrant c (plus noise). */
export function quadrantDataset(n: number, seed = 1, size = 28): Dataset {
  let s = seed >>> 0 || 1;
  const rand = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const images = new Float32Array(n * size * size);
  const labels = new Int32Array(n);
  const h = size / 2;
  for (let i = 0; i < n; i++) {
    const c = i % 4;
    labels[i] = c;
    for (let y = 0; y < size; y++)
      for (let x = 0; x < size; x++) {
        const q = (y < h ? 0 : 2) + (x < h ? 0 : 1);
        images[i * size * size + y * size + x] = 0.4 * rand() + (q === c ? 0.5 : 0);
      }
  }
  return { name: 'quadrants', images, labels, count: n, height: size, width: size, channels: 1, classNames: ['tl', 'tr', 'bl', 'br'] };
}

export { tf };

/** Writes a Dataset as an MNIST-style IDX folder (first `trainCount` images train, rest test). */
export function writeIdxDataset(ds: Dataset, trainCount: number, dir = tmpDir('pb-idx-')): string {
  const { idxBytes } = require('../fixtures/data/gen') as typeof import('../fixtures/data/gen');
  const per = ds.height * ds.width;
  const bytes = (from: number, to: number) => Uint8Array.from(ds.images.subarray(from * per, to * per), (v) => Math.max(0, Math.min(255, Math.round(v * 255))));
  fs.writeFileSync(path.join(dir, 'train-images-idx3-ubyte'), idxBytes([trainCount, ds.height, ds.width], bytes(0, trainCount)));
  fs.writeFileSync(path.join(dir, 'train-labels-idx1-ubyte'), idxBytes([trainCount], ds.labels.subarray(0, trainCount)));
  fs.writeFileSync(path.join(dir, 't10k-images-idx3-ubyte'), idxBytes([ds.count - trainCount, ds.height, ds.width], bytes(trainCount, ds.count)));
  fs.writeFileSync(path.join(dir, 't10k-labels-idx1-ubyte'), idxBytes([ds.count - trainCount], ds.labels.subarray(trainCount)));
  return dir;
}

/** sha256 of every file under a folder, by relative path: to prove nothing on disk changed. */
export function snapshotDir(dir: string): Record<string, string> {
  const { createHash } = require('node:crypto') as typeof import('node:crypto');
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out[path.relative(dir, p)] = createHash('sha256').update(fs.readFileSync(p)).digest('hex');
    }
  };
  walk(dir);
  return out;
}
