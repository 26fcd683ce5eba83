/**
 * The common tail of every loader: pick indices (per-class cap, val carve-out, test cap,
 * seeded shuffles) on labels only, then materialise just the chosen images at the
 * InputSpec size. Sources keep their raw pixels (uint8 or float) so big sets such as
 * Fashion-MNIST never get converted/resized in full.
 */
import type { DataSplits, Dataset, InputSpec } from '../types';
import { DEFAULT_SEED, FIXED_SPLIT_SEED, LoadOptions, badDataset, validateInputSpec, validateLoadOptions } from './common';
import { toInputShape } from './resize';
import { floatBytes, lazyDataset } from './dataset';
import { limitPerClassIndices, limitTotalIndices, shuffleInPlace, stratifiedSplitIndices } from './split';

/** A source of labelled images from which selected ones can be produced at an InputSpec. */
export interface ImagePool {
  labels: Int32Array;
  /** NHWC float32 in [0, 1] of the images at `indices` (in that order), converted to `input`. */
  gather(indices: readonly number[], input: InputSpec): Promise<Float32Array>;
  /** The same, synchronously (per batch, for sets too large to hold at the input size). */
  readSync(indices: ArrayLike<number>, input: InputSpec): Float32Array;
}

/**
 * A split whose images would take more than this as float32 at the input size is read per
 * batch from its source instead of held in memory ($PIGGYBACK_DATA_BUDGET_MB overrides).
 */
export function memoryBudgetBytes(): number {
  const mb = Number(process.env.PIGGYBACK_DATA_BUDGET_MB);
  return (Number.isFinite(mb) && mb >= 0 ? mb : 512) * 1024 * 1024;
}

/** Pixels held in memory at a common native size. */
export interface ArraySource {
  pixels: Uint8Array | Float32Array;
  /** Multiplier to reach [0, 1] (1/255 for uint8, 1 for floats already in range). */
  scale: number;
  labels: Int32Array;
  count: number;
  height: number;
  width: number;
  channels: number;
}

const CHUNK = 512;

export function arrayPool(src: ArraySource): ImagePool {
  const per = src.height * src.width * src.channels;
  const readSync = (indices: ArrayLike<number>, input: InputSpec): Float32Array => {
    const outPer = input.height * input.width * input.channels;
    const out = new Float32Array(indices.length * outPer);
    for (let start = 0; start < indices.length; start += CHUNK) {
      const n = Math.min(CHUNK, indices.length - start);
      const native = new Float32Array(n * per);
      for (let i = 0; i < n; i++) {
        const base = indices[start + i] * per;
        const o = i * per;
        for (let k = 0; k < per; k++) {
          const v = src.pixels[base + k] * src.scale;
          native[o + k] = v < 0 ? 0 : v > 1 ? 1 : v;
        }
      }
      out.set(toInputShape(native, n, src.height, src.width, src.channels, input), start * outPer);
    }
    return out;
  };
  return { labels: src.labels, readSync, gather: async (indices, input) => readSync(indices, input) };
}

/** Pools on a subset of an ArraySource (e.g. a fixed train/test split of one array). */
export function arraySubsetPool(src: ArraySource, subset: readonly number[]): ImagePool {
  const base = arrayPool(src);
  const labels = Int32Array.from(subset, (i) => src.labels[i]);
  return {
    labels,
    gather: (indices, input) => base.gather(indices.map((i) => subset[i]), input),
    readSync: (indices, input) => base.readSync(Array.from(indices, (i) => subset[i]), input),
  };
}

export interface PoolSet {
  name: string;
  classNames: string[];
  train: ImagePool;
  test: ImagePool;
  /** A source-provided validation set (e.g. an image folder's val/); otherwise carved from train. */
  val?: ImagePool;
  /** Used in error messages, e.g. the folder path. */
  where?: string;
}

/**
 * The chosen images as a Dataset at the InputSpec: converted once and held in memory when
 * that fits the budget, else read (converted, decoded) per batch from the pool, so memory
 * stays bounded by a batch whatever the set's size.
 */
async function materialise(name: string, classNames: string[], pool: ImagePool, indices: number[], input: InputSpec): Promise<Dataset> {
  const fields = {
    name,
    labels: Int32Array.from(indices, (i) => pool.labels[i]),
    count: indices.length,
    height: input.height,
    width: input.width,
    channels: input.channels,
    classNames: classNames.slice(),
  };
  if (floatBytes(indices.length, input.height, input.width, input.channels) > memoryBudgetBytes()) {
    const chosen = Int32Array.from(indices);
    return lazyDataset(fields, (positions) => pool.readSync(Array.from(positions, (p) => chosen[p]), input));
  }
  return { ...fields, images: await pool.gather(indices, input) };
}

const all = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

/** Apply LoadOptions to the pools and build the DataSplits at the InputSpec. */
export async function finishSplits(pools: PoolSet, input: InputSpec, opts: LoadOptions = {}): Promise<DataSplits> {
  validateInputSpec(input);
  validateLoadOptions(opts);
  const seed = opts.seed ?? DEFAULT_SEED;
  const where = pools.where ?? pools.name;

  let trainIdx = all(pools.train.labels.length);
  if (opts.trainPerClass) trainIdx = limitPerClassIndices(pools.train.labels, opts.trainPerClass, seed);
  let valIdx: number[] | undefined;
  let valPool: ImagePool | undefined;
  if (pools.val) {
    valPool = pools.val;
    valIdx = all(pools.val.labels.length);
  } else if (opts.valFraction && opts.valFraction > 0) {
    const s = stratifiedSplitIndices(pools.train.labels, opts.valFraction, seed + 7919, trainIdx);
    trainIdx = s.a;
    valIdx = s.b;
    valPool = pools.train;
  }
  let testIdx = all(pools.test.labels.length);
  if (opts.testLimit) testIdx = limitTotalIndices(pools.test.labels, opts.testLimit, seed);

  if (trainIdx.length === 0) throw badDataset(`${where} has no training images`, 'add images to every class (or lower valFraction)');
  if (testIdx.length === 0) throw badDataset(`${where} has no test images`, 'add test images or use a folder with enough images per class');

  shuffleInPlace(trainIdx, seed);
  shuffleInPlace(testIdx, FIXED_SPLIT_SEED);
  const train = await materialise(pools.name, pools.classNames, pools.train, trainIdx, input);
  const test = await materialise(pools.name, pools.classNames, pools.test, testIdx, input);
  const out: DataSplits = { train, test };
  if (valPool && valIdx && valIdx.length > 0) {
    shuffleInPlace(valIdx, seed + 1);
    out.val = await materialise(pools.name, pools.classNames, valPool, valIdx, input);
  }
  return out;
}
