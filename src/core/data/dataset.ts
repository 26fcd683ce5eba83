/**
 * Reading a Dataset's images whether they are held in memory or read per batch from their
 * source (uint8 arrays at stored size, or image files decoded on demand).
 */
import type { Dataset } from '../types';
import { PiggybackError } from '../errors';

/** NHWC float32 of the images at `positions` (indices into the set), in that order. */
export function readImages(ds: Dataset, positions: ArrayLike<number>): Float32Array {
  if (ds.read) return ds.read(positions);
  const per = ds.height * ds.width * ds.channels;
  const out = new Float32Array(positions.length * per);
  for (let k = 0; k < positions.length; k++) {
    const i = positions[k];
    out.set(ds.images.subarray(i * per, (i + 1) * per), k * per);
  }
  return out;
}

/** The images at positions start..end-1 (a view, no copy, for sets held in memory). */
export function readRange(ds: Dataset, start: number, end: number): Float32Array {
  if (!ds.read) {
    const per = ds.height * ds.width * ds.channels;
    return ds.images.subarray(start * per, end * per);
  }
  return ds.read(Array.from({ length: end - start }, (_, k) => start + k));
}

/** A Dataset whose images are read per batch by `read`; touching `images` is a bug and says so. */
export function lazyDataset(fields: Omit<Dataset, 'images' | 'read'>, read: (positions: ArrayLike<number>) => Float32Array): Dataset {
  const ds = { ...fields, read } as Dataset;
  Object.defineProperty(ds, 'images', {
    enumerable: false,
    get(): never {
      throw new PiggybackError('BAD_DATASET', `dataset ${fields.name} (${fields.count} images) is read per batch; its images are not held in memory`, 'this is a bug: read it with readImages()');
    },
  });
  return ds;
}

/** Bytes the set's images take at its size as float32, were they held in memory. */
export function floatBytes(count: number, height: number, width: number, channels: number): number {
  return count * height * width * channels * 4;
}

/** Inference batches hold at most this many pixels: 256 images at 32x32, 5 at 224x224. */
export const INFERENCE_PIXELS = 256 * 32 * 32;

/**
 * The inference batch for images of this size: `wanted`, capped so that a batch holds at most
 * INFERENCE_PIXELS pixels (at 224 px a batch of 256 would need tens of GB of activations).
 */
export function inferenceBatchSize(ds: { height: number; width: number }, wanted = 256): number {
  return Math.max(1, Math.min(wanted, Math.floor(INFERENCE_PIXELS / Math.max(1, ds.height * ds.width))));
}
