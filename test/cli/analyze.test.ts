/**
 * `piggyback analyze filters`, `export` and `import-mask` as a user meets them: human and JSON
 * output from one real trained project, round trips through the files they write, and one-line
 * errors that leave the project as it was.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { useWasm, savedReferenceCnn, quadrantDataset, writeIdxDataset, tmpDir, snapshotDir } from '../helpers/engineFixtures';
import * as engine from '../../src/core/engine';
import { loadTask } from '../../src/core/project/taskFiles';
import { assertOneLineError, cli } from '../helpers/cli';



let project: string;
let data: string;

before(async () => {
  await useWasm();
  const modelPath = await savedReferenceCnn(8);
  data = writeIdxDataset(quadrantDataset(96, 2), 64);
  project = path.join(tmpDir('pb-cli-an-'), 'proj');
  await engine.createProject({ projectDir: project, modelPath, backend: 'wasm' });
  const quick = { epochs: 1, batchSize: 16, lrMask: 5e-3, lrHead: 1e-2, lrDecayEvery: 0 };
  await engine.trainTask({ projectDir: project, task: 'a', dataset: data, options: { ...quick, seed: 1 }, backend: 'wasm' });
  await engine.trainTask({ projectDir: project, task: 'b', dataset: data, options: { ...quick, seed: 2 }, backend: 'wasm' });
});

test('analyze filters: filters x tasks, diff and kernel positions, human and JSON agree', () => {
  const j = cli('analyze', 'filters', project, '--layer', 'conv2', '--task', 'a', '--diff', 'a,b', '--json');
  assert.equal(j.code, 0, j.stderr);
  const r = JSON.parse(j.stdout);
  assert.equal(r.filters, 32);
  assert.equal(r.weightsPerFilter, 9 * 32);
  assert.deepEqual(r.tasks.map((t: { task: string }) => t.task), ['a', 'b']);
  // Per filter, both + a only = what a keeps; both + b only = what b keeps.
  for (let f = 0; f < 32; f++) {
    assert.equal(r.diff.both[f] + r.diff.aOnly[f], r.tasks[0].kept[f]);
    assert.equal(r.diff.both[f] + r.diff.bOnly[f], r.tasks[1].kept[f]);
    assert.equal(r.positions.kept[f].reduce((s: number, v: number) => s + v, 0), r.tasks[0].kept[f]);
  }
  // The per-filter kept counts add up to the layer's sparsity in `stats`.
  const stats = engine.projectStats(project);
  const li = stats.layers.findIndex((l) => l.name === 'conv2');
  const kept = r.tasks[0].kept.reduce((s: number, v: number) => s + v, 0);
  assert.equal(kept, Math.round(stats.layers[li].size * (1 - stats.tasks[0].layerSparsity[li])));
  const h = cli('analyze', 'filters', project, '--layer', 'conv2', '--task', 'a', '--diff', 'a,b');
  assert.equal(h.code, 0, h.stderr);
  assert.match(h.stdout, /layer conv2 \(conv2d \[3,3,32,32\]\): 32 filters of 288 weights/);
  assert.match(h.stdout, /diff of a and b/);
  assert.match(h.stdout, /task a: kept weights at each kernel position/);
  const row0 = h.stdout.split('\n').find((l) => /^0\s/.test(l))!;
  assert.match(row0, new RegExp(`${(100 * r.tasks[0].fraction[0]).toFixed(1)}%`));
  const sum = cli('analyze', 'filters', project, '--json');
  assert.equal(sum.code, 0, sum.stderr);
  const sj = JSON.parse(sum.stdout);
  assert.deepEqual(sj.layers.map((l: { layer: string }) => l.layer), ['conv1', 'conv2', 'conv3', 'conv4', 'fc1']);
  assert.deepEqual(sj.layers[1].dead, r.tasks.map((t: { dead: number[] }) => t.dead.length));
  assert.match(cli('analyze', 'filters', project).stdout, /dead filters \(no weight kept\) per layer and task/);
  assertOneLineError(cli('analyze', 'filters', project, '--diff', 'a,b'), /--diff needs --layer/);
  assertOneLineError(cli('analyze', 'filters', project, '--layer', 'nope'), /no masked layer named "nope".*masked layers: conv1, conv2, conv3, conv4, fc1/);
  assertOneLineError(cli('analyze', 'filters', project, '--layer', 'fc1', '--task', 'a'), /fc1 is a dense layer/);
  assertOneLineError(cli('analyze', 'filters', project, '--layer', 'conv1', '--diff', 'a,zz'), /no task "zz"/);
});

test('analyze forgetting: the accuracy matrix re-evaluated, exactly zero forgetting', () => {
  const j = cli('analyze', 'forgetting', project, '--backend', 'wasm', '--json');
  assert.equal(j.code, 0, j.stderr);
  const r = JSON.parse(j.stdout);
  const stats = engine.projectStats(project);
  assert.deepEqual(r.tasks, ['a', 'b']);
  assert.deepEqual(r.trainedAccuracy, stats.tasks.map((t) => t.testAccuracy));
  assert.equal(r.accuracy[1][0], null, 'b did not exist after a was added');
  assert.equal(r.accuracy[0][0], r.trainedAccuracy[0]);
  assert.equal(r.accuracy[0][1], r.reevaluated[0]);
  assert.equal(r.reevaluated[0], r.trainedAccuracy[0], 'task a re-evaluates to exactly its accuracy');
  assert.equal(r.reevaluated[1], r.trainedAccuracy[1]);
  assert.deepEqual(r.forgetting, [0, null]);
  assert.equal(r.bwt, 0);
  assert.equal(r.zeroForgetting, true);
  const h = cli('analyze', 'forgetting', project, '--backend', 'wasm');
  assert.equal(h.code, 0, h.stderr);
  assert.match(h.stdout, /task\s+after a\s+after b\s+classifier-only\s+fine-tune/);
  assert.match(h.stdout, /forgetting: a 0\.00 pts; BWT 0\.00 pts/);
  assert.match(h.stdout, /^zero forgetting: every task re-evaluates to exactly/m);
});

test('export npz and import-mask: the imported task has the exported masks; errors leave the project alone', () => {
  const out = path.join(tmpDir('pb-npz-'), 'a.npz');
  const e = cli('export', project, '--task', 'a', '--format', 'npz', '--out', out, '--json');
  assert.equal(e.code, 0, e.stderr);
  const r = JSON.parse(e.stdout);
  assert.deepEqual(r.layers.map((l: { key: string }) => l.key), ['conv1', 'conv2', 'conv3', 'conv4', 'fc1']);
  assert.equal(r.bytes, fs.statSync(out).size);
  const before = snapshotDir(project);
  assertOneLineError(cli('export', project, '--task', 'a', '--format', 'npz', '--out', out), /already exists/);
  fs.writeFileSync(`${out}.bad`, fs.readFileSync(out).subarray(0, 100));
  assertOneLineError(cli('import-mask', project, '--task', 'c', '--npz', `${out}.bad`, '--head-from', 'b'), /is not a zip archive/);
  assert.deepEqual(snapshotDir(project), before, 'a failed import changes nothing');
  const i = cli('import-mask', project, '--task', 'c', '--npz', out, '--head-from', 'b');
  assert.equal(i.code, 0, i.stderr);
  assert.match(i.stdout, /imported task c: 5 binary masks/);
  assert.match(i.stdout, /accuracy is unknown: run `piggyback eval/);
  assert.deepEqual(loadTask(project, 'c').masks, loadTask(project, 'a').masks);
  assert.deepEqual(loadTask(project, 'c').head, loadTask(project, 'b').head);
  assert.match(cli('import-mask', '--help').stdout, /--head-from <task>/);

  // A fresh head trained on the imported mask, which stays exactly as imported.
  const t = cli('import-mask', project, '--task', 'fresh', '--npz', out, '--dataset', data, '--epochs', '3', '--lr-head', '1e-2', '--backend', 'wasm', '--json');
  assert.equal(t.code, 0, t.stderr);
  const fresh = JSON.parse(t.stdout.slice(t.stdout.indexOf('{\n')));
  assert.equal(fresh.name, 'fresh');
  assert.equal(fresh.history.length, 3);
  assert.ok(fresh.history.every((e: { bitsFlipped: number }) => e.bitsFlipped === 0));
  assert.ok(fresh.testAccuracy > 0.5, `a head on a's mask learns the quadrant task: ${fresh.testAccuracy}`);
  assert.deepEqual(loadTask(project, 'fresh').masks, loadTask(project, 'a').masks);
  assert.notDeepEqual(loadTask(project, 'fresh').head.kernel, loadTask(project, 'a').head.kernel);
  const ev = cli('eval', project, '--task', 'fresh', '--backend', 'wasm', '--json');
  assert.equal(JSON.parse(ev.stdout).accuracy, fresh.testAccuracy, 'the stored accuracy is what eval finds');
  assertOneLineError(cli('import-mask', project, '--task', 'x', '--npz', out), /an imported mask needs a head: pass --dataset D .* or --head-from TASK/);
  assertOneLineError(cli('import-mask', project, '--task', 'x', '--npz', out, '--dataset', data, '--head-from', 'a'), /either --dataset or --head-from, not both/);
  assertOneLineError(cli('import-mask', project, '--task', 'x', '--npz', `${out}.bad`, '--dataset', data), /is not a zip archive/);
});

test('export layers-model: a loadable model folder, checked against the engine', () => {
  const out = path.join(tmpDir('pb-lm-'), 'model');
  const e = cli('export', project, '--task', 'b', '--format', 'layers-model', '--out', out, '--backend', 'wasm', '--json');
  assert.equal(e.code, 0, e.stderr);
  const r = JSON.parse(e.stdout);
  assert.equal(r.modelPath, path.join(out, 'model.json'));
  assert.ok(r.check.maxAbsLogitDiff < 1e-4);
  assert.ok(fs.existsSync(path.join(out, 'weights.bin')));
  const h = cli('export', project, '--task', 'b', '--format', 'layers-model', '--out', out, '--backend', 'wasm');
  assertOneLineError(h, /is not empty/);
  const bad = cli('export', project, '--task', 'b', '--format', 'onnx', '--out', out);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /argument 'onnx' is invalid\. Allowed choices are layers-model, npz/);
});
