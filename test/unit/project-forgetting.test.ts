/** Forgetting and backward transfer from an accuracy matrix, against numbers computed by hand. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { forgettingFromMatrix } from '../../src/core/project/forgetting';

const close = (a: number | null, b: number) => assert.ok(a !== null && Math.abs(a - b) < 1e-12, `${a} vs ${b}`);

test('a learner that forgets: forgetting = best earlier accuracy - final, BWT = mean(final - when learned)', () => {
  const r = forgettingFromMatrix([
    [0.9, 0.8, 0.7],
    [null, 0.6, 0.65],
    [null, null, 0.5],
  ]);
  close(r.forgetting[0], 0.2); // max(0.9, 0.8) - 0.7
  close(r.forgetting[1], -0.05); // 0.6 - 0.65: it improved (positive backward transfer)
  assert.equal(r.forgetting[2], null, 'the last task has nothing to forget yet');
  close(r.bwt, ((0.7 - 0.9) + (0.65 - 0.6)) / 2);
  close(r.meanForgetting, (0.2 - 0.05) / 2);
});

test('an unchanged row is zero forgetting; unknown cells are left out; one task has none', () => {
  const r = forgettingFromMatrix([
    [0.75, 0.75, 0.75],
    [null, null, 0.8], // imported: no accuracy when added
    [null, null, 0.5],
  ]);
  assert.equal(r.forgetting[0], 0);
  assert.equal(r.forgetting[1], null);
  assert.equal(r.bwt, 0);
  assert.deepEqual(forgettingFromMatrix([[0.9]]), { forgetting: [null], bwt: null, meanForgetting: null });
  assert.deepEqual(forgettingFromMatrix([]), { forgetting: [], bwt: null, meanForgetting: null });
});
