/**
 * Deterministic, seeded selection helpers. Index-level functions work on a labels array
 * (so lazy sources such as image folders can select before decoding); Dataset-level
 * wrappers gather the chosen images. Same seed -> same result, always.
 */
import type { Dataset } from '../types';
import { lazyDataset, readImages } from './dataset';

/** mulberry32: tiny 32-bit PRNG, uniform floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = (Math.floor(seed) ^ 0x9e3779b9) >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fisher-Yates shuffle in place with a seeded PRNG. Returns the same array. */
export function shuffleInPlace<T>(arr: T[], seed: number): T[] {
  const rnd = mulberry32(seed);
  for (let i = arr.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    const t = arr[i];
    arr[i] = arr[j];
    arr[j] = t;
  }
  return arr;
}

/** A shuffled copy. */
export function shuffled<T>(arr: readonly T[], seed: number): T[] {
  return shuffleInPlace(arr.slice(), seed);
}

function allIndices(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/** Indices grouped by label (classes in ascending label order, indices in input order). */
export function groupByClass(labels: ArrayLike<number>, indices?: readonly number[]): Map<number, number[]> {
  const idx = indices ?? allIndices(labels.length);
  const groups = new Map<number, number[]>();
  for (const i of idx) {
    const l = labels[i];
    let g = groups.get(l);
    if (!g) groups.set(l, (g = []));
    g.push(i);
  }
  return new Map([...groups.entries()].sort((a, b) => a[0] - b[0]));
}

/** Derive a per-class seed so classes are shuffled independently but reproducibly. */
function classSeed(seed: number, label: number): number {
  return (Math.imul(Math.floor(seed) + 1, 2654435761) ^ Math.imul(label + 1, 40503)) >>> 0;
}

/**
 * Stratified split: from each class, round(n * fraction) seeded-random indices go to `b`
 * (at least 1 and at most n-1 when the class has >= 2 items and fraction > 0), the rest to `a`.
 * Both outputs are sorted ascending (input order).
 */
export function stratifiedSplitIndices(
  labels: ArrayLike<number>,
  fraction: number,
  seed: number,
  indices?: readonly number[],
): { a: number[]; b: number[] } {
  const a: number[] = [];
  const b: number[] = [];
  for (const [label, group] of groupByClass(labels, indices)) {
    let k = Math.round(group.length * fraction);
    if (fraction > 0 && group.length >= 2) k = Math.min(Math.max(k, 1), group.length - 1);
    if (fraction <= 0) k = 0;
    const order = shuffled(group, classSeed(seed, label));
    b.push(...order.slice(0, k));
    a.push(...order.slice(k));
  }
  a.sort((x, y) => x - y);
  b.sort((x, y) => x - y);
  return { a, b };
}

/** At most `perClass` seeded-random indices of each class, sorted ascending. */
export function limitPerClassIndices(
  labels: ArrayLike<number>,
  perClass: number,
  seed: number,
  indices?: readonly number[],
): number[] {
  const out: number[] = [];
  for (const [label, group] of groupByClass(labels, indices)) {
    if (group.length <= perClass) out.push(...group);
    else out.push(...shuffled(group, classSeed(seed, label)).slice(0, perClass));
  }
  return out.sort((x, y) => x - y);
}

/**
 * At most `total` indices overall, class-balanced: classes are visited round robin (each in a
 * seeded-random order) until `total` are taken. Sorted ascending.
 */
export function limitTotalIndices(
  labels: ArrayLike<number>,
  total: number,
  seed: number,
  indices?: readonly number[],
): number[] {
  const idx = indices ?? allIndices(labels.length);
  if (idx.length <= total) return idx.slice().sort((x, y) => x - y);
  const queues = [...groupByClass(labels, idx)].map(([label, g]) => shuffled(g, classSeed(seed, label)));
  const out: number[] = [];
  for (let round = 0; out.length < total; round++) {
    for (const q of queues) {
      if (round < q.length && out.length < total) out.push(q[round]);
    }
  }
  return out.sort((x, y) => x - y);
}

/** A new Dataset with the images at `indices`, in that order. */
export function subsetDataset(ds: Dataset, indices: readonly number[], name = ds.name): Dataset {
  const labels = Int32Array.from(indices, (src) => ds.labels[src]);
  const fields = { name, labels, count: indices.length, height: ds.height, width: ds.width, channels: ds.channels, classNames: ds.classNames.slice() };
  // A set read per batch stays so: the subset maps its positions onto the parent's.
  if (ds.read) return lazyDataset(fields, (positions) => readImages(ds, Array.from(positions, (p) => indices[p])));
  return { ...fields, images: readImages(ds, indices) };
}

/** Stratified train/val split of a Dataset; `val` gets about `fraction` of every class. */
export function stratifiedSplit(ds: Dataset, fraction: number, seed: number): { train: Dataset; val: Dataset } {
  const { a, b } = stratifiedSplitIndices(ds.labels, fraction, seed);
  return { train: subsetDataset(ds, a), val: subsetDataset(ds, b) };
}

export function limitPerClass(ds: Dataset, perClass: number, seed: number): Dataset {
  return subsetDataset(ds, limitPerClassIndices(ds.labels, perClass, seed));
}

export function limitTotal(ds: Dataset, total: number, seed: number): Dataset {
  return subsetDataset(ds, limitTotalIndices(ds.labels, total, seed));
}

export function shuffleDataset(ds: Dataset, seed: number): Dataset {
  return subsetDataset(ds, shuffled(allIndices(ds.count), seed));
}

/** Per-class counts (length = classNames.length). */
export function classCounts(ds: Pick<Dataset, 'labels' | 'classNames'>): number[] {
  const counts = new Array<number>(ds.classNames.length).fill(0);
  for (const l of ds.labels) counts[l]++;
  return counts;
}
