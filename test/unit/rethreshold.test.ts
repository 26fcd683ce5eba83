/**
 * Threshold what-if (issue #10.1): a task's real-valued scores are kept (scores.bin, 8 bits per
 * weight around the training threshold) and re-binarised at other thresholds without
 * retraining. At the training threshold it is exactly the stored mask; saving a re-thresholded
 * mask makes a new task and never alters the original.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PiggybackError } from '../../src/core/errors';
import { decodeScores, encodeScores, masksAtThreshold } from '../../src/core/project/scoresFile';
import { loadTask, loadTaskScores } from '../../src/core/project/taskFiles';
import * as engine from '../../src/core/engine';
import { exportMasksNpz } from '../../src/core/project/maskExchange';
import { decodeNpz, npyValues } from '../../src/core/project/npz';
import { LAYERS } from '../helpers/storeFixtures';
import { rng } from '../helpers/xorshift';
import { useWasm, savedReferenceCnn, quadrantDataset, writeIdxDataset, tmpDir, snapshotDir } from '../helpers/engineFixtures';

const TAU = 5e-3;

/** Scores as training leaves them: most at the initial 1e-2, many moved, some right at the threshold. */
function scores(seed: number): Float32Array[] {
  const r = rng(seed);
  return LAYERS.map((l) => Float32Array.from({ length: l.size }, (_, i) => (i % 7 === 0 ? TAU + (r() - 0.5) * 1e-6 : r() < 0.6 ? 1e-2 : (r() - 0.4) * 0.05)));
}

test('scores.bin: at the training threshold the decoded scores give exactly the stored mask; elsewhere close', () => {
  const s = scores(1);
  const buf = encodeScores(s, TAU);
  const { tau, scores: back } = decodeScores(buf, 'scores.bin', LAYERS);
  assert.ok(Math.abs(tau - TAU) < 1e-9);
  const exact = masksAtThreshold(s, TAU, 'binary');
  assert.deepEqual(masksAtThreshold(back, TAU, 'binary'), exact, 're-binarising at the training threshold reproduces the mask');
  // At another threshold, at most a few entries right at the new boundary differ.
  for (const t of [0, 2e-3, 8e-3]) {
    const want = masksAtThreshold(s, t, 'binary');
    const got = masksAtThreshold(back, t, 'binary');
    let diff = 0;
    let n = 0;
    want.forEach((m, l) => m.forEach((v, i) => { n++; if (v !== got[l][i]) diff++; }));
    assert.ok(diff / n < 0.01, `threshold ${t}: ${diff} of ${n} entries differ`);
  }
  const total = LAYERS.reduce((a, l) => a + l.size, 0);
  assert.ok(buf.byteLength < total * 1.1, `8 bits per weight or less: ${buf.byteLength} bytes for ${total} weights`);
});

test('scores.bin damage is one BAD_MASK_FILE line', () => {
  const buf = Buffer.from(encodeScores(scores(2), TAU));
  const bad = (b: Uint8Array, re: RegExp) =>
    assert.throws(() => decodeScores(b, 'x/scores.bin', LAYERS), (e: unknown) => e instanceof PiggybackError && e.code === 'BAD_MASK_FILE' && re.test(e.message) && !e.oneLine().includes('\n'));
  bad(buf.subarray(0, 10), /truncated/);
  bad(Buffer.concat([Buffer.from('XXXX'), buf.subarray(4)]), /magic/);
  bad(buf.subarray(0, buf.length - 5), /do not decode|truncated|codes/);
  assert.throws(() => decodeScores(buf, 'x', LAYERS.slice(1)), /has 5 layers, the project has 4/);
});

let modelPath: string;
let data: string;

before(async () => {
  await useWasm();
  modelPath = await savedReferenceCnn(5);
  data = writeIdxDataset(quadrantDataset(160, 1), 128);
});

test('rethreshold: the trained threshold reproduces the task; higher thresholds switch more off; save-as adds a task and alters nothing', async () => {
  const dir = path.join(tmpDir('pb-rt-'), 'p');
  await engine.createProject({ projectDir: dir, modelPath, backend: 'wasm' });
  const t = await engine.trainTask({ projectDir: dir, task: 'q', dataset: data, options: { epochs: 2, batchSize: 16, lrMask: 1e-3, lrHead: 1e-2, lrDecayEvery: 0, seed: 1 }, backend: 'wasm' });
  assert.ok((t.scoresBytes ?? 0) > 0, 'scores.bin is stored and counted');
  const before = snapshotDir(path.join(dir, 'tasks', 'q'));
  const r = await engine.rethresholdTask({ projectDir: dir, task: 'q', thresholds: [5e-3, 9e-3], probeLimit: 64, backend: 'wasm' });
  assert.equal(r.points.length, 2);
  assert.ok(Math.abs(r.points[0].sparsity - (t.sparsity ?? NaN)) < 1e-12, `sparsity at the trained threshold ${r.points[0].sparsity} vs stored ${t.sparsity}`);
  assert.ok(r.points[1].sparsity > r.points[0].sparsity, `a higher threshold switches more off: ${r.points.map((p) => p.sparsity)}`);
  const saved = await engine.rethresholdTask({ projectDir: dir, task: 'q', thresholds: [9e-3], probeLimit: 64, saveAs: 'q-9e-3', backend: 'wasm' });
  assert.equal(saved.savedAs, 'q-9e-3');
  assert.deepEqual(snapshotDir(path.join(dir, 'tasks', 'q')), before, 'the original task is never altered');
  const stored = loadTaskScores(dir, 'q');
  assert.deepEqual(loadTask(dir, 'q-9e-3').masks, masksAtThreshold(stored.scores, 9e-3, 'binary'));
  const stats = engine.projectStats(dir);
  assert.deepEqual(stats.tasks.map((x) => x.name), ['q', 'q-9e-3']);
  assert.ok(Math.abs((stats.tasks[1].sparsity ?? NaN) - r.points[1].sparsity) < 1e-12);
  // The .npz export carries the stored scores beside the masks.
  const npz = path.join(tmpDir('pb-rt-npz-'), 'q.npz');
  exportMasksNpz(dir, 'q', npz, { scores: stored.scores });
  const arrays = decodeNpz(fs.readFileSync(npz), npz);
  const l0 = engine.projectStats(dir).layers[0];
  const s0 = arrays.get(`scores/${l0.name}`);
  assert.ok(s0, 'scores are in the archive');
  assert.deepEqual(s0.shape, l0.shape);
  assert.deepEqual(Array.from(npyValues(s0)).slice(0, 50), Array.from(stored.scores[0]).slice(0, 50));
  // Bad thresholds and missing scores are one clear line.
  await assert.rejects(engine.rethresholdTask({ projectDir: dir, task: 'q', thresholds: [0.02], backend: 'wasm' }), /outside \[0, mask scale/);
  await assert.rejects(engine.rethresholdTask({ projectDir: dir, task: 'q-9e-3', thresholds: [5e-3], backend: 'wasm' }), /scores were not stored for task 'q-9e-3'/);
  fs.writeFileSync(path.join(dir, 'tasks', 'q', 'scores.bin'), 'garbage');
  await assert.rejects(engine.rethresholdTask({ projectDir: dir, task: 'q', thresholds: [5e-3], backend: 'wasm' }), (e: unknown) => e instanceof PiggybackError && e.code === 'BAD_MASK_FILE');
  assert.equal(engine.projectStats(dir).tasks[0].state, 'trained', 'a damaged scores.bin does not damage the task');
});

test('a project made with storeScores false keeps no scores', async () => {
  const dir = path.join(tmpDir('pb-rt-'), 'p');
  await engine.createProject({ projectDir: dir, modelPath, storeScores: false, backend: 'wasm' });
  await engine.trainTask({ projectDir: dir, task: 'q', dataset: data, options: { epochs: 1, batchSize: 32, lrDecayEvery: 0 }, backend: 'wasm' });
  assert.equal(fs.existsSync(path.join(dir, 'tasks', 'q', 'scores.bin')), false);
  assert.throws(() => loadTaskScores(dir, 'q'), /scores were not stored/);
});
