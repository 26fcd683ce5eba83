/**
 * Dead feature units: units of a backbone's feature layer that are exactly 0 on every image of
 * a dataset (a ReLU that never fires, or a GAP channel whose ReLU map is all zero). A mask
 * cannot revive them (it only removes weights), so they bound what Piggyback can learn.
 */
import { tf } from '../tf';
import { readRange } from '../data/dataset';
import type { Dataset } from '../types';

export interface DeadUnitCount {
  units: number;
  deadUnits: number;
  /** Fraction of all (image, unit) feature values that are 0. */
  zeroFraction: number;
}

export function countDeadUnits(features: (x: tf.Tensor4D) => tf.Tensor2D, ds: Dataset, batchSize = 128): DeadUnitCount {
  let alive: Uint8Array | null = null;
  let zeros = 0;
  let units = 0;
  for (let s = 0; s < ds.count; s += batchSize) {
    const e = Math.min(ds.count, s + batchSize);
    const f = tf.tidy(() => features(tf.tensor4d(readRange(ds, s, e), [e - s, ds.height, ds.width, ds.channels])));
    units = f.shape[1];
    const a = f.dataSync() as Float32Array;
    f.dispose();
    alive ??= new Uint8Array(units);
    for (let i = 0; i < a.length; i++) {
      if (a[i] === 0) zeros++;
      else alive[i % units] = 1;
    }
  }
  const live = alive ? alive.reduce((x, y) => x + y, 0) : 0;
  return { units, deadUnits: units - live, zeroFraction: ds.count && units ? zeros / (ds.count * units) : 0 };
}
