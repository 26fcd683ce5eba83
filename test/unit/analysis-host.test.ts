/**
 * The host side of the explorer's 'analyze' requests: filter drill-down answered from the
 * stored masks (equal to core's analyzeLayerFilters), the engine's error line passed as is,
 * and every reply passes the shared protocol parser the webview uses.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { answerAnalysis } from '../../src/extension/analysisHost';
import { analyzeLayerFilters } from '../../src/core/project/filters';
import { saveTask } from '../../src/core/project/taskFiles';
import { parseHostMessage } from '../../src/shared/protocol';
import { artifacts, newProject } from '../helpers/storeFixtures';

const quiet = { info: () => undefined, error: () => undefined };

test('filters: the host answers with the core report, which the webview parser accepts', async () => {
  const dir = newProject();
  saveTask(dir, artifacts('a', 1));
  saveTask(dir, artifacts('b', 2));
  const reply = await answerAnalysis(7, { kind: 'filters', layer: 'conv2', diff: ['a', 'b'], positionsOf: 'b' }, { projectDir: () => dir, log: quiet });
  assert.equal(reply.type, 'analysisResult');
  const expected = analyzeLayerFilters(dir, 'conv2', { diff: ['a', 'b'], positionsOf: 'b' });
  assert.deepEqual(reply, { type: 'analysisResult', id: 7, result: { kind: 'filters', report: expected } });
  assert.deepEqual(parseHostMessage(JSON.parse(JSON.stringify(reply))), reply);
});

test('filters: an unknown layer or no project is one error line for the same request id', async () => {
  const dir = newProject();
  const errors: string[] = [];
  const reply = await answerAnalysis(3, { kind: 'filters', layer: 'nope' }, { projectDir: () => dir, log: { ...quiet, error: (l) => errors.push(l) } });
  assert.equal(reply.type, 'analysisError');
  assert.ok(reply.type === 'analysisError' && reply.id === 3 && reply.kind === 'filters');
  assert.match(reply.type === 'analysisError' ? reply.message : '', /no masked layer named "nope"/);
  assert.equal(errors.length, 1);
  assert.deepEqual(parseHostMessage(reply), reply);
  const none = await answerAnalysis(4, { kind: 'filters', layer: 'conv2' }, { projectDir: () => undefined, log: quiet });
  assert.deepEqual(none, { type: 'analysisError', id: 4, kind: 'filters', message: 'no mask project is open' });
});

test('forgetting: runs engine.forgettingMatrix as a worker job for the open project and backend', async () => {
  const jobs: unknown[] = [];
  const matrix = { tasks: [], accuracy: [], trainedAccuracy: [], reevaluated: [], baselines: [], damaged: [], zeroForgetting: false, forgetting: [], bwt: null, meanForgetting: null, backend: 'cpu' };
  const deps = {
    projectDir: () => '/p', log: quiet, backend: () => 'wasm' as const,
    runJob: async (job: unknown, title: string) => {
      jobs.push({ job, title });
      return matrix as never;
    },
  };
  assert.deepEqual(await answerAnalysis(9, { kind: 'forgetting' }, deps), { type: 'analysisResult', id: 9, result: { kind: 'forgetting', matrix } });
  assert.deepEqual(jobs, [{ job: { kind: 'forgetting', req: { projectDir: '/p', backend: 'wasm' } }, title: 're-evaluating every task (forgetting matrix)' }]);
  // A busy runner's JobError line reaches the webview as is.
  const { JobError } = await import('../../src/extension/jobErrors');
  const busy = await answerAnalysis(10, { kind: 'forgetting' }, { ...deps, runJob: async () => { throw new JobError({ code: 'BUSY', line: 'another Piggyback job is running (training "x")' }); } });
  assert.deepEqual(busy, { type: 'analysisError', id: 10, kind: 'forgetting', message: 'another Piggyback job is running (training "x")' });
});

test('rethreshold: goes to the long-lived worker; the engine line (missing scores) comes back as is; superseded moves are not logged as failures', async () => {
  const calls: unknown[] = [];
  const errors: string[] = [];
  const { JobError } = await import('../../src/extension/jobErrors');
  const { SUPERSEDED } = await import('../../src/extension/workerSession');
  const r = { task: 'a', trainedThreshold: 5e-3, probe: { split: 'val', count: 512 }, scoresBytes: 10, points: [], savedAs: null };
  const deps = {
    projectDir: () => '/p', log: { info: () => undefined, error: (l: string) => errors.push(l) }, backend: () => 'cpu' as const,
    callWorker: async (job: unknown) => {
      calls.push(job);
      return r as never;
    },
  };
  assert.deepEqual(await answerAnalysis(1, { kind: 'rethreshold', task: 'a', thresholds: [0.004] }, deps), { type: 'analysisResult', id: 1, result: { kind: 'rethreshold', result: r } });
  assert.deepEqual(calls, [{ kind: 'rethreshold', req: { projectDir: '/p', task: 'a', thresholds: [0.004], backend: 'cpu' } }]);
  const line = "scores were not stored for task 'a' (trained before scores were kept, or storage is turned off for this project) (retrain the task to re-threshold it)";
  const missing = await answerAnalysis(2, { kind: 'rethreshold', task: 'a', thresholds: [0.004] }, { ...deps, callWorker: async () => { throw new JobError({ code: 'FILE_NOT_FOUND', line }); } });
  assert.deepEqual(missing, { type: 'analysisError', id: 2, kind: 'rethreshold', message: line });
  assert.equal(errors.length, 1);
  await answerAnalysis(3, { kind: 'rethreshold', task: 'a', thresholds: [0.004] }, { ...deps, callWorker: async () => { throw new JobError({ code: SUPERSEDED, line: 'superseded by a newer request' }); } });
  assert.equal(errors.length, 1, 'a superseded move is not an error in the log');
});

test('similarity goes to the long-lived worker, inference to a one-off job, both for the open project', async () => {
  const calls: unknown[] = [];
  const deps = {
    projectDir: () => '/p', log: quiet, backend: () => 'auto' as const,
    callWorker: async (job: unknown) => {
      calls.push(['session', job]);
      return { taskA: 'a', taskB: 'b' } as never;
    },
    runJob: async (job: unknown, title: string) => {
      calls.push(['job', job, title]);
      return { tasks: ['a', 'b'] } as never;
    },
  };
  const sim = await answerAnalysis(1, { kind: 'similarity', taskA: 'a', taskB: 'b' }, deps);
  assert.deepEqual(sim, { type: 'analysisResult', id: 1, result: { kind: 'similarity', result: { taskA: 'a', taskB: 'b' } } });
  const inf = await answerAnalysis(2, { kind: 'inference' }, deps);
  assert.deepEqual(inf, { type: 'analysisResult', id: 2, result: { kind: 'inference', result: { tasks: ['a', 'b'] } } });
  assert.deepEqual(calls, [
    ['session', { kind: 'similarity', req: { projectDir: '/p', taskA: 'a', taskB: 'b', backend: 'auto' } }],
    ['job', { kind: 'inference', req: { projectDir: '/p', backend: 'auto' } }, 'task inference over every task'],
  ]);
});

test('filters: a small project is counted on the host, a big one in the worker', async () => {
  const dir = newProject();
  saveTask(dir, artifacts('a', 1));
  const { HOST_FILTER_ENTRIES } = await import('../../src/extension/analysisHost');
  const calls: unknown[] = [];
  const callWorker = async (job: unknown) => {
    calls.push(job);
    return analyzeLayerFilters(dir, 'conv1') as never;
  };
  const small = await answerAnalysis(1, { kind: 'filters', layer: 'conv1' }, { projectDir: () => dir, log: quiet, callWorker, maskEntries: () => HOST_FILTER_ENTRIES });
  assert.equal(small.type, 'analysisResult');
  assert.equal(calls.length, 0, 'on the host');
  const big = await answerAnalysis(2, { kind: 'filters', layer: 'conv1', positionsOf: 'a' }, { projectDir: () => dir, log: quiet, callWorker, maskEntries: () => HOST_FILTER_ENTRIES + 1 });
  assert.equal(big.type, 'analysisResult');
  assert.deepEqual(calls, [{ kind: 'filters', req: { projectDir: dir, layer: 'conv1', diff: undefined, positionsOf: 'a' } }]);
});
