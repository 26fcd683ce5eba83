/** The time-left estimate covers the whole run: remaining steps of every epoch plus each epoch's overhead. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RunClock, formatDuration } from '../../src/core/train/eta';
import type { TrainEvent } from '../../src/core/types';

function run(events: Array<[number, TrainEvent]>): RunClock {
  let now = 0;
  const c = new RunClock(() => now);
  for (const [t, e] of events) {
    now = t * 1000;
    c.onEvent(e);
  }
  return c;
}

const start: TrainEvent = { type: 'start', task: 't', method: 'piggyback', backend: 'x', epochs: 3, stepsPerEpoch: 10, layers: [] };
const step = (epoch: number, s: number): TrainEvent => ({ type: 'step', task: 't', epoch, step: s, stepsPerEpoch: 10, loss: 1 });
const epochEnd = (epoch: number): TrainEvent => ({ type: 'epoch', task: 't', epoch, trainAccuracy: 0.5, trainLoss: 1, valAccuracy: 0.5, layerSparsity: [], bitsFlipped: 0, seconds: 1 });

test('no estimate before a step rate is known; the slow first step is not the rate', () => {
  assert.equal(run([[0, start]]).secondsLeft(), null);
  assert.equal(run([[0, start], [30, step(1, 1)]]).secondsLeft(), null);
  // first step 30 s (set-up), then 2 s per step: 27 steps left at 2 s, not at 30 s
  const c = run([[0, start], [30, step(1, 1)], [32, step(1, 2)], [34, step(1, 3)]]);
  assert.equal(c.secondsLeft(), 27 * 2);
});

test('after an epoch its overhead (validation) is added for every epoch still to run', () => {
  const ev: Array<[number, TrainEvent]> = [[0, start]];
  for (let s = 1; s <= 10; s++) ev.push([s, step(1, s)]);
  ev.push([15, epochEnd(1)]); // 5 s of validation after the last step
  const c = run(ev);
  assert.equal(c.secondsLeft(), 20 * 1 + 2 * 5);
});

test('thinned step events (every 5th step) still give the per-step rate', () => {
  const c = run([[0, start], [1, step(1, 1)], [11, step(1, 6)], [21, step(1, 11 - 1)]]);
  // 6 -> 10 took 10 s for 4 steps after 1 -> 6 took 10 s for 5 steps: about 2-2.5 s a step
  const left = c.secondsLeft()!;
  assert.ok(left > 20 * 2 && left < 20 * 2.5 + 1, `left ${left}`);
});

test('durations read naturally', () => {
  assert.equal(formatDuration(12.4), '12 s');
  assert.equal(formatDuration(200), '3 min 20 s');
  assert.equal(formatDuration(7500), '2 h 05 min');
});
