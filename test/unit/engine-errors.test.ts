/** Bad input through the engine: one clear error naming the problem, nothing stored is lost. */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { useWasm, savedReferenceCnn, quadrantDataset, writeIdxDataset, tmpDir, snapshotDir } from '../helpers/engineFixtures';
import * as engine from '../../src/core/engine';
import { PiggybackError } from '../../src/core/errors';

let modelPath: string;
let data: string;

before(async () => {
  await useWasm();
  modelPath = await savedReferenceCnn(11);
  data = writeIdxDataset(quadrantDataset(80, 2), 64);
});

const is = (code: string, pattern?: RegExp) => (e: unknown) => {
  assert.ok(e instanceof PiggybackError, `expected a PiggybackError, got ${e}`);
  assert.equal(e.code, code, e.oneLine());
  if (pattern) assert.match(e.oneLine(), pattern);
  assert.ok(!e.oneLine().includes('\n'), 'one line');
  return true;
};

function copyModel(): string {
  const dir = tmpDir('pb-badmodel-');
  for (const f of fs.readdirSync(path.dirname(modelPath))) fs.copyFileSync(path.join(path.dirname(modelPath), f), path.join(dir, f));
  return path.join(dir, 'model.json');
}

test('a model.json that is not JSON, not a LayersModel, or missing / truncated weights', async () => {
  const proj = () => path.join(tmpDir('pb-p-'), 'p');
  const notJson = copyModel();
  fs.writeFileSync(notJson, '{"modelTopology": ');
  await assert.rejects(engine.createProject({ projectDir: proj(), modelPath: notJson }), is('BAD_MODEL', /not valid JSON/));
  const notModel = copyModel();
  fs.writeFileSync(notModel, JSON.stringify({ hello: 'world' }));
  await assert.rejects(engine.createProject({ projectDir: proj(), modelPath: notModel }), is('BAD_MODEL', /not a TF\.js LayersModel/));
  const noWeights = copyModel();
  fs.rmSync(path.join(path.dirname(noWeights), 'weights.bin'));
  await assert.rejects(engine.createProject({ projectDir: proj(), modelPath: noWeights }), is('FILE_NOT_FOUND', /weights\.bin/));
  const truncated = copyModel();
  const w = path.join(path.dirname(truncated), 'weights.bin');
  fs.writeFileSync(w, fs.readFileSync(w).subarray(0, 1000));
  await assert.rejects(engine.createProject({ projectDir: proj(), modelPath: truncated }), is('BAD_MODEL', /1000 bytes/));
  await assert.rejects(engine.createProject({ projectDir: proj(), modelPath: '/nonexistent/model.json' }), is('FILE_NOT_FOUND'));
  await assert.rejects(engine.createProject({ projectDir: proj(), modelPath, cutAt: 'no_such_layer' }), is('BAD_ARGUMENT', /no_such_layer/));
});

test('unknown dataset, a folder that is not a dataset, bad hyperparameters, duplicate task', async () => {
  const dir = path.join(tmpDir('pb-p-'), 'p');
  await engine.createProject({ projectDir: dir, modelPath });
  const before = snapshotDir(dir);
  await assert.rejects(engine.trainTask({ projectDir: dir, task: 'a', dataset: 'imagenet-21k' }), is('UNKNOWN_DATASET', /mnist/));
  const empty = tmpDir('pb-empty-');
  fs.writeFileSync(path.join(empty, 'notes.txt'), 'hello');
  await assert.rejects(engine.trainTask({ projectDir: dir, task: 'a', dataset: empty }), is('BAD_DATASET'));
  await assert.rejects(engine.trainTask({ projectDir: dir, task: 'a', dataset: data, options: { epochs: 0 } }), is('BAD_ARGUMENT', /epochs/));
  await assert.rejects(engine.trainTask({ projectDir: dir, task: 'a', dataset: data, options: { maskScale: 1e-3 } }), is('BAD_ARGUMENT', /threshold/));
  await assert.rejects(engine.trainTask({ projectDir: dir, task: '../evil', dataset: data }), is('BAD_ARGUMENT'));
  assert.deepEqual(snapshotDir(dir), before);
  await engine.trainTask({ projectDir: dir, task: 'a', dataset: data, options: { epochs: 1, batchSize: 32 } });
  await assert.rejects(engine.trainTask({ projectDir: dir, task: 'a', dataset: data }), is('TASK_EXISTS', /--overwrite/));
  await assert.rejects(engine.evaluateTask({ projectDir: dir, task: 'nope' }), is('UNKNOWN_TASK', /a/));
});

test('evaluating on a dataset with other classes is a shape mismatch', async () => {
  const dir = path.join(tmpDir('pb-p-'), 'p');
  await engine.createProject({ projectDir: dir, modelPath });
  await engine.trainTask({ projectDir: dir, task: 'q', dataset: data, options: { epochs: 1, batchSize: 32 } });
  await assert.rejects(engine.evaluateTask({ projectDir: dir, task: 'q', dataset: 'sklearn-digits' }), is('SHAPE_MISMATCH', /10 classes/));
});

test('a backbone whose weights changed is refused with the mismatch named', async () => {
  const own = copyModel();
  const dir = path.join(tmpDir('pb-p-'), 'p');
  await engine.createProject({ projectDir: dir, modelPath: own });
  const w = path.join(path.dirname(own), 'weights.bin');
  const buf = fs.readFileSync(w);
  buf[100] ^= 0xff;
  fs.writeFileSync(w, buf);
  await assert.rejects(engine.trainTask({ projectDir: dir, task: 'a', dataset: data }), is('BACKBONE_MISMATCH', /sha256/));
});
