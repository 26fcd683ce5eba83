/** TensorBoard's smoothing (debiased EMA), checked against the formula written out by hand. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { emaDebiased } from '../../webview/smoothing';

test('debiased EMA: weight 0 is the raw series, the first point is the first value, then the bias-corrected average', () => {
  const ys = [2, 1, 4, 3];
  assert.deepEqual(emaDebiased(ys, 0), ys);
  const w = 0.6;
  const ema = [0.4 * 2];
  for (let i = 1; i < 4; i++) ema.push(ema[i - 1] * w + 0.4 * ys[i]);
  const expected = ema.map((v, i) => v / (1 - w ** (i + 1)));
  emaDebiased(ys, w).forEach((v, i) => assert.ok(Math.abs(v - expected[i]) < 1e-12, `${i}: ${v} vs ${expected[i]}`));
  assert.equal(emaDebiased(ys, w)[0], 2);
  // A constant series stays constant at any weight (no pull towards zero).
  emaDebiased([5, 5, 5, 5, 5], 0.95).forEach((v) => assert.ok(Math.abs(v - 5) < 1e-12));
  // Non-finite values pass through and do not enter the average.
  assert.deepEqual(emaDebiased([1, NaN, 1], 0.5), [1, NaN, 1]);
});
