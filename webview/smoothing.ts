/**
 * TensorBoard's scalar smoothing: an exponential moving average with its start-up bias
 * removed (divide by 1 - w^n), so the first points are not dragged towards zero. Weight 0 is
 * the raw series; non-finite values pass through and do not enter the average.
 */
export function emaDebiased(ys: readonly number[], weight: number): number[] {
  const w = Math.min(Math.max(weight, 0), 0.999);
  const out: number[] = new Array(ys.length);
  let last = 0;
  let n = 0;
  for (let i = 0; i < ys.length; i++) {
    const y = ys[i];
    if (!Number.isFinite(y)) {
      out[i] = y;
      continue;
    }
    last = last * w + (1 - w) * y;
    n++;
    out[i] = w === 0 ? y : last / (1 - Math.pow(w, n));
  }
  return out;
}
