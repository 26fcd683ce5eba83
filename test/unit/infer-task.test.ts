/** Task inference (issue #10.7): the most confident task's network wins, by normalised entropy. */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import * as engine from '../../src/core/engine';
import { loadTask, saveTask } from '../../src/core/project/taskFiles';
import { useWasm, savedReferenceCnn, quadrantDataset, writeIdxDataset, tmpDir } from '../helpers/engineFixtures';

before(async () => {
  await useWasm();
});

test('a task whose head is all zeros (uniform predictions) is never inferred; rows count each task\'s test images', async () => {
  const modelPath = await savedReferenceCnn(5);
  const data = writeIdxDataset(quadrantDataset(160, 1), 128);
  const dir = path.join(tmpDir('pb-infer-'), 'p');
  await engine.createProject({ projectDir: dir, modelPath, backend: 'wasm' });
  await engine.trainTask({ projectDir: dir, task: 'quad', dataset: data, options: { epochs: 2, batchSize: 16, lrMask: 1e-3, lrHead: 1e-2, lrDecayEvery: 0 }, backend: 'wasm' });
  const q = loadTask(dir, 'quad');
  saveTask(dir, { ...q, name: 'flat', head: { ...q.head, kernel: new Float32Array(q.head.kernel.length), bias: new Float32Array(q.head.bias.length) } });
  const r = await engine.inferTasks({ projectDir: dir, perTask: 20, backend: 'wasm' });
  assert.deepEqual(r.tasks, ['quad', 'flat']);
  assert.deepEqual(r.imagesPerTask, [20, 20]);
  assert.deepEqual(r.confusion, [[20, 0], [20, 0]], 'the confident network is picked for every image');
  assert.equal(r.accuracy, 0.5);
  await assert.rejects(engine.inferTasks({ projectDir: dir, tasks: ['quad'], backend: 'wasm' }), /at least 2 tasks/);
});
