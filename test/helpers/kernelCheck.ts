/** Shared by the kernel tests: seeded inputs and the error measure used against the cpu backend. */
import assert from 'node:assert/strict';

/** Seeded values in [-0.5, 0.5) (a SplitMix-style generator). */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296 - 0.5;
  };
}

export function randData(shape: number[], seed: number): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, r);
}

/** Largest absolute difference relative to the largest reference magnitude; equal NaNs/infinities count as equal. */
export function maxRelErr(ref: ArrayLike<number>, got: ArrayLike<number>): number {
  assert.equal(got.length, ref.length);
  let m = 0;
  let s = 1e-12;
  for (let i = 0; i < ref.length; i++) {
    if (Object.is(ref[i], got[i]) || ref[i] === got[i] || (Number.isNaN(ref[i]) && Number.isNaN(got[i]))) continue;
    m = Math.max(m, Math.abs(ref[i] - got[i]));
    s = Math.max(s, Math.abs(ref[i]));
  }
  return m / s;
}
