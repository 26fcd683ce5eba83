/** Protocol validators of the analysis views (issue #10): no browser needed. */
import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { parseHostMessage, parseWebviewMessage, parseWebviewState } from '../../src/shared/protocol';
import { LAYERS } from './fixture';
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

  it('analyze requests: filters with an optional pair and kernel task, nothing else', () => {
    const ok = { type: 'analyze', id: 1, request: { kind: 'filters', layer: 'conv2', diff: ['a', 'b'], positionsOf: 'a' } };
    assert.deepEqual(parseWebviewMessage(ok), ok);
    assert.deepEqual(parseWebviewMessage({ type: 'analyze', id: 2, request: { kind: 'filters', layer: 'conv2', extra: 1 } }), { type: 'analyze', id: 2, request: { kind: 'filters', layer: 'conv2' } });
    assert.equal(parseWebviewMessage({ ...ok, id: 1.5 }), undefined);
    assert.equal(parseWebviewMessage({ ...ok, request: { kind: 'filters', layer: '' } }), undefined);
    assert.equal(parseWebviewMessage({ ...ok, request: { kind: 'filters', layer: 'c', diff: ['a'] } }), undefined);
    assert.equal(parseWebviewMessage({ ...ok, request: { kind: 'train', layer: 'c' } }), undefined);
  });

  it('filter reports: every per-filter array has one entry per filter', () => {
    const report = {
      layer: LAYERS[0], filters: 2, weightsPerFilter: 27, kernel: [3, 3], skipped: [],
      tasks: [{ task: 'a', kept: [0, 27], fraction: [0, 1], dead: [0] }],
      positions: { task: 'a', perPosition: 3, kept: [[0, 0, 0, 0, 0, 0, 0, 0, 0], [3, 3, 3, 3, 3, 3, 3, 3, 3]] },
    };
    const msg = { type: 'analysisResult', id: 4, result: { kind: 'filters', report } };
    assert.deepEqual(parseHostMessage(msg), msg);
    assert.equal(parseHostMessage({ ...msg, result: { kind: 'filters', report: { ...report, filters: 3 } } }), undefined);
    assert.equal(parseHostMessage({ ...msg, result: { kind: 'filters', report: { ...report, positions: { ...report.positions, kept: [[0], [1]] } } } }), undefined);
    assert.equal(parseHostMessage({ ...msg, result: { kind: 'filters', report: { ...report, kernel: null } } }), undefined, 'positions need a kernel');
    assert.deepEqual(parseHostMessage({ type: 'analysisError', id: 4, kind: 'filters', message: 'x' }), { type: 'analysisError', id: 4, kind: 'filters', message: 'x' });
    assert.equal(parseHostMessage({ type: 'analysisError', id: 4, kind: 'nope', message: 'x' }), undefined);
  });

  it('what-if requests, results and save: thresholds are finite and non-negative, at most 32', () => {
    const req = { type: 'analyze', id: 5, request: { kind: 'rethreshold', task: 'a', thresholds: [0, 0.004] } };
    assert.deepEqual(parseWebviewMessage(req), req);
    assert.equal(parseWebviewMessage({ ...req, request: { kind: 'rethreshold', task: 'a', thresholds: [] } }), undefined);
    assert.equal(parseWebviewMessage({ ...req, request: { kind: 'rethreshold', task: 'a', thresholds: [-1] } }), undefined);
    assert.equal(parseWebviewMessage({ ...req, request: { kind: 'rethreshold', task: 'a', thresholds: new Array(33).fill(0) } }), undefined);
    assert.deepEqual(parseWebviewMessage({ type: 'saveThreshold', task: 'a', threshold: 0.004 }), { type: 'saveThreshold', task: 'a', threshold: 0.004 });
    assert.equal(parseWebviewMessage({ type: 'saveThreshold', task: 'a', threshold: Number.NaN }), undefined);
    const result = { task: 'a', trainedThreshold: 5e-3, probe: { split: 'val', count: 512 }, scoresBytes: 10, savedAs: null, points: [{ threshold: 0.004, layerSparsity: [0.1], sparsity: 0.1, bitsPerMaskedWeight: 0.9, probeAccuracy: 0.8 }] };
    const msg = { type: 'analysisResult', id: 5, result: { kind: 'rethreshold', result } };
    assert.deepEqual(parseHostMessage(msg), msg);
    assert.equal(parseHostMessage({ ...msg, result: { kind: 'rethreshold', result: { ...result, probe: { split: 'train', count: 1 } } } }), undefined);
    assert.equal(parseHostMessage({ ...msg, result: { kind: 'rethreshold', result: { ...result, points: [{ threshold: 0.004 }] } } }), undefined);
    assert.equal(parseWebviewState({ whatIfTask: 'a' }).whatIfTask, 'a');
  });

  it('similarity and inference: requests name their tasks, results are checked for shape', () => {
    assert.deepEqual(parseWebviewMessage({ type: 'analyze', id: 1, request: { kind: 'similarity', taskA: 'a', taskB: 'b' } }), { type: 'analyze', id: 1, request: { kind: 'similarity', taskA: 'a', taskB: 'b' } });
    assert.equal(parseWebviewMessage({ type: 'analyze', id: 1, request: { kind: 'similarity', taskA: 'a' } }), undefined);
    assert.deepEqual(parseWebviewMessage({ type: 'analyze', id: 2, request: { kind: 'inference' } }), { type: 'analyze', id: 2, request: { kind: 'inference' } });
    const sim = { taskA: 'a', taskB: 'b', probe: { task: 'a', split: 'val', count: 8 }, layers: [{ name: 'c', cka: 0.5, jaccard: null }], seconds: 1 };
    assert.equal(parseHostMessage({ type: 'analysisResult', id: 1, result: { kind: 'similarity', result: sim } })?.type, 'analysisResult');
    assert.equal(parseHostMessage({ type: 'analysisResult', id: 1, result: { kind: 'similarity', result: { ...sim, layers: [{ name: 'c', cka: 'x' }] } } }), undefined);
    const inf = { tasks: ['a', 'b'], confusion: [[3, 1], [0, 4]], accuracy: 0.875, imagesPerTask: [4, 4] };
    assert.equal(parseHostMessage({ type: 'analysisResult', id: 2, result: { kind: 'inference', result: inf } })?.type, 'analysisResult');
    assert.equal(parseHostMessage({ type: 'analysisResult', id: 2, result: { kind: 'inference', result: { ...inf, confusion: [[3, 1]] } } }), undefined, 'square');
    assert.equal(parseHostMessage({ type: 'analysisResult', id: 2, result: { kind: 'inference', result: { ...inf, confusion: [[3, -1], [0, 4]] } } }), undefined, 'counts');
  });
});
