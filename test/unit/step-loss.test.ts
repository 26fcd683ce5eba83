/**
 * Per-step loss in task.json (issue #9.2): bounded and exact in the mean when recorded, kept
 * by save/load and the stats the views draw from, old files without it still load, and a
 * real training run (engine, as the CLI calls it) stores every step.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { MAX_STEP_LOSS_POINTS } from '../../src/core/types';
import { StepLossRecorder, isStepLossSeries } from '../../src/core/train/stepLoss';
import { loadTask, readTaskMeta, saveBaseline, saveTask } from '../../src/core/project/taskFiles';
import { readProjectStats } from '../../src/core/project/stats';
import { artifacts, newProject } from '../helpers/storeFixtures';

test('the recorder keeps every step while it fits, then a bounded, evenly strided series with exact bucket means', () => {
  const r = new StepLossRecorder(8);
  for (let s = 1; s <= 7; s++) r.push(s, s * 10);
  assert.deepEqual(r.series(), { stride: 1, step: [1, 2, 3, 4, 5, 6, 7], loss: [10, 20, 30, 40, 50, 60, 70] });
  r.push(8, 80); // 8 points: merge pairwise
  assert.deepEqual(r.series(), { stride: 2, step: [2, 4, 6, 8], loss: [15, 35, 55, 75] });
  r.push(9, 90); // half a bucket: shown as its own point
  assert.deepEqual(r.series(), { stride: 2, step: [2, 4, 6, 8, 9], loss: [15, 35, 55, 75, 90] });

  const big = new StepLossRecorder();
  const losses: number[] = [];
  for (let s = 1; s <= 37_123; s++) {
    const l = 2 * Math.exp(-s / 5000) + ((s * 2654435761) % 97) / 970;
    losses.push(l);
    big.push(s, l);
  }
  const ser = big.series();
  assert.ok(ser.step.length <= MAX_STEP_LOSS_POINTS, `${ser.step.length} points`);
  assert.ok(ser.step.length >= MAX_STEP_LOSS_POINTS / 2);
  assert.equal(ser.step.at(-1), 37_123, 'the last step is always there');
  assert.ok(isStepLossSeries(ser));
  // Whole buckets average exactly the steps they cover.
  const full = Math.floor(37_123 / ser.stride);
  for (const i of [0, 17, full - 1]) {
    const from = i * ser.stride;
    const mean = losses.slice(from, from + ser.stride).reduce((a, b) => a + b, 0) / ser.stride;
    assert.ok(Math.abs(ser.loss[i] - mean) < 1e-9, `bucket ${i}`);
    assert.equal(ser.step[i], from + ser.stride);
  }
});

test('task.json keeps the series through save, load and stats; baselines keep theirs', () => {
  const dir = newProject();
  const a = artifacts('t1', 3);
  a.stepLoss = { stride: 2, step: [2, 4, 5], loss: [2.25, 1.5, 1.25] };
  saveTask(dir, a);
  assert.deepEqual(readTaskMeta(dir, 't1').stepLoss, a.stepLoss);
  assert.deepEqual(loadTask(dir, 't1').stepLoss, a.stepLoss);
  assert.deepEqual(readProjectStats(dir).tasks[0].stepLoss, a.stepLoss);
  saveBaseline(dir, 't1', { method: 'classifier', testAccuracy: 0.5, trainSeconds: 1, history: [], bytesIfStored: 44, stepLoss: { stride: 1, step: [1, 2], loss: [1, 0.5] } });
  assert.deepEqual(readProjectStats(dir).tasks[0].baselines[0].stepLoss, { stride: 1, step: [1, 2], loss: [1, 0.5] });
});

test('old task.json without a series loads (stepLoss null); an unsound series is dropped, not fatal', () => {
  const dir = newProject();
  saveTask(dir, artifacts('old', 4));
  const file = path.join(dir, 'tasks', 'old', 'task.json');
  const j = JSON.parse(fs.readFileSync(file, 'utf8'));
  assert.equal('stepLoss' in j, false, 'no series given, none written');
  assert.equal(readProjectStats(dir).tasks[0].stepLoss, null);
  assert.equal(readProjectStats(dir).tasks[0].state, 'trained');
  for (const bad of [{ stride: 1, step: [1, 2], loss: [1] }, { stride: 1, step: [2, 1], loss: [1, 1] }, { stride: 0, step: [], loss: [] }, { stride: 1, step: [1], loss: ['x'] }, 'nope']) {
    fs.writeFileSync(file, JSON.stringify({ ...j, stepLoss: bad }));
    const t = readProjectStats(dir).tasks[0];
    assert.equal(t.state, 'trained', JSON.stringify(bad));
    assert.equal(t.stepLoss, null, JSON.stringify(bad));
  }
});

test('a real training run stores the loss of every step it trained, as the step events reported it', async () => {
  const { useWasm, savedReferenceCnn, quadrantDataset, writeIdxDataset, tmpDir } = await import('../helpers/engineFixtures');
  const engine = await import('../../src/core/engine');
  await useWasm();
  const modelPath = await savedReferenceCnn(5);
  const data = writeIdxDataset(quadrantDataset(90, 1), 72);
  const dir = path.join(tmpDir('pb-proj-'), 'project');
  await engine.createProject({ projectDir: dir, modelPath, backend: 'wasm' });
  const steps: Array<[number, number]> = [];
  const t = await engine.trainTask(
    { projectDir: dir, task: 'q', dataset: data, options: { epochs: 2, batchSize: 16, lrMask: 1e-3, lrHead: 1e-2, lrDecayEvery: 0 }, backend: 'wasm' },
    (e) => {
      if (e.type === 'step') steps.push([(e.epoch - 1) * e.stepsPerEpoch + e.step, e.loss]);
    },
  );
  assert.ok(steps.length >= 8, `${steps.length} steps`);
  assert.deepEqual(t.stepLoss, { stride: 1, step: steps.map((s) => s[0]), loss: steps.map((s) => s[1]) });
  assert.deepEqual(readTaskMeta(dir, 'q').stepLoss, t.stepLoss);
  // What the estimate and the run comparison need: images trained on, data caps.
  const perEpoch = steps.length / 2;
  assert.ok(t.trainImages! > 16 * (perEpoch - 1) && t.trainImages! <= 16 * perEpoch, `${t.trainImages} images in ${perEpoch} steps of 16`);
  assert.deepEqual(t.dataLimits, { valFraction: 0.1 });
  const [b] = await engine.runBaselines({ projectDir: dir, task: 'q', methods: ['classifier'], backend: 'wasm' });
  assert.equal(b.stepLoss?.step.length, steps.length, 'the baseline trains as many steps and keeps them');
  fs.rmSync(path.dirname(dir), { recursive: true, force: true });
});

test('ternary tasks: stats give the negated share per layer (the heatmap shows it beside "off"); binary tasks give null', () => {
  const dir = newProject();
  const t = artifacts('tern', 5, 'ternary');
  saveTask(dir, t);
  saveTask(dir, artifacts('bin', 6));
  const [tern, bin] = readProjectStats(dir).tasks;
  assert.equal(bin.layerNegated, null);
  assert.ok(tern.layerNegated);
  t.masks.forEach((m, l) => {
    const neg = Array.from(m).filter((v) => v === -1).length / m.length;
    assert.ok(Math.abs(tern.layerNegated![l] - neg) < 1e-12, `layer ${l}: ${tern.layerNegated![l]} vs ${neg}`);
  });
});
