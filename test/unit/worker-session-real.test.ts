/**
 * WorkerSession against the real worker entry (src/extension/worker.ts, through tsx): two
 * 'call's answered by one worker thread, and an engine error comes back as its one line.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { WorkerSession, type WorkerLike } from '../../src/extension/workerSession';
import { analyzeLayerFilters } from '../../src/core/project/filters';
import { saveTask } from '../../src/core/project/taskFiles';
import type { JobError } from '../../src/extension/jobErrors';
import { artifacts, newProject } from '../helpers/storeFixtures';

const WORKER = path.resolve(__dirname, '../../src/extension/worker.ts');

test('one real worker answers several calls; an engine error is its one line', { timeout: 120_000 }, async () => {
  const dir = newProject();
  saveTask(dir, artifacts('a', 1));
  saveTask(dir, artifacts('b', 2));
  let spawned = 0;
  const session = new WorkerSession(() => {
    spawned++;
    // Runs from source: tsx's require hook compiles the worker entry (Node 20 will not start a .ts worker itself).
    return new Worker(`require('tsx/cjs'); require(${JSON.stringify(WORKER)});`, { eval: true }) as unknown as WorkerLike;
  }, { info: () => undefined });
  try {
    const r1 = await session.call({ kind: 'filters', req: { projectDir: dir, layer: 'conv2', diff: ['a', 'b'] } });
    assert.deepEqual(r1, JSON.parse(JSON.stringify(analyzeLayerFilters(dir, 'conv2', { diff: ['a', 'b'] }))));
    const r2 = await session.call({ kind: 'filters', req: { projectDir: dir, layer: 'dw', positionsOf: 'b' } });
    assert.equal(r2.positions?.task, 'b');
    await assert.rejects(session.call({ kind: 'filters', req: { projectDir: dir, layer: 'nope' } }), (e: JobError) => /no masked layer named "nope"/.test(e.info.line));
    assert.equal(spawned, 1, 'every call in the same worker');
  } finally {
    session.dispose();
  }
});
