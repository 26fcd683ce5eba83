/** Mask dynamics (issue #10.4): flips per layer per epoch from the history, and when each layer settled. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { maskDynamics } from '../../src/core/analysis/dynamics';
import { maskChange } from '../../src/core/engine';
import type { EpochMetrics, MaskedLayerInfo } from '../../src/core/types';

const layers: MaskedLayerInfo[] = [
  { name: 'a', kind: 'conv2d', shape: [1, 1, 10, 10], size: 100 },
  { name: 'b', kind: 'dense', shape: [10, 100], size: 1000 },
];
const epoch = (e: number, flips: number[]): EpochMetrics => ({
  epoch: e, trainAccuracy: 0, trainLoss: 0, valAccuracy: null, layerSparsity: [0, 0], bitsFlipped: flips[0] + flips[1], layerBitsFlipped: flips, seconds: 1,
});

test('settled after the first epoch past which every epoch flips under 1% of the layer', () => {
  // a: 30, 5, 0, 0 of 100 -> 30%, 5%, 0, 0: settled after epoch 2. b: 50, 40, 20, 11 of 1000 -> 1.1% in epoch 4: not settled.
  const d = maskDynamics([epoch(1, [30, 50]), epoch(2, [5, 40]), epoch(3, [0, 20]), epoch(4, [0, 11])], layers);
  assert.equal(d.perLayer, true);
  assert.deepEqual(d.layers[0].flips, [30, 5, 0, 0]);
  assert.deepEqual(d.layers[0].flipFraction, [0.3, 0.05, 0, 0]);
  assert.equal(d.layers[0].settledAfterEpoch, 2);
  assert.equal(d.layers[1].settledAfterEpoch, null);
  // b quiet from epoch 3 on (9 of 1000): settled after epoch 2
  assert.equal(maskDynamics([epoch(1, [30, 50]), epoch(2, [5, 40]), epoch(3, [0, 9]), epoch(4, [0, 2])], layers).layers[1].settledAfterEpoch, 2);
});

test('history without per-layer counts says so', () => {
  const old = [{ ...epoch(1, [1, 1]), layerBitsFlipped: undefined }];
  const d = maskDynamics(old, layers);
  assert.equal(d.perLayer, false);
  assert.equal(d.layers[0].settledAfterEpoch, null);
});

test('maskChange counts flips per layer', () => {
  const before = [Uint8Array.from([1, 1, 1, 1]), Uint8Array.from([1, 0])];
  const now = [Uint8Array.from([1, 0, 0, 1]), Uint8Array.from([0, 0])];
  const c = maskChange(before, now);
  assert.deepEqual(c.layerBitsFlipped, [2, 1]);
  assert.equal(c.bitsFlipped, 3);
  assert.deepEqual(c.layerSparsity, [0.5, 1]);
});
