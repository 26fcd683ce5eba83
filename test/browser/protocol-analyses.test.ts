/** Protocol validators of the analysis views (issue #10): no browser needed. */
import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { parseHostMessage, parseWebviewState } from '../../src/shared/protocol';
import { makeStats } from './fixture';

describe('protocol: analysis views', () => {
  it('history may carry per-layer flips, as numbers only', () => {
    const stats = makeStats();
    stats.tasks[0].history[0].layerBitsFlipped = [1, 2, 3, 4, 5, 6];
    assert.equal(parseHostMessage({ type: 'state', stats })?.type, 'state');
    const bad = structuredClone(stats);
    (bad.tasks[0].history[0] as unknown as { layerBitsFlipped: unknown }).layerBitsFlipped = ['1'];
    assert.equal(parseHostMessage({ type: 'state', stats: bad }), undefined);
    assert.equal(parseWebviewState({ view: 'dynamics', dynamicsTask: 'mnist' }).dynamicsTask, 'mnist');
    assert.equal(parseWebviewState({ view: 'dynamics', dynamicsTask: 3 }).dynamicsTask, undefined);
  });
});
