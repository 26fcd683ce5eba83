/**
 * `piggyback reproduce` end to end on tiny real data (quick plan): results/<arch>.json per
 * backbone, results.csv one row per (backbone, task, method) with the paper's optimiser for
 * each method, results.md with the column groups and sections, the no-forgetting check
 * (exact re-evaluation, unchanged task files, bit-identical backbone) and re-rendering from the
 * saved JSON alone. Two backbones with the same task name stay distinct rows.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { useWasm, savedReferenceCnn, tmpDir } from '../helpers/engineFixtures';
import { listBuiltinDatasets } from '../../src/core/data/builtin';
import { quickPlan, runReproduce, readArchResults, writeReports, type ArchPlan } from '../../src/cli/reproduce';

function parseCsv(text: string): Array<Record<string, string>> {
  const [head, ...lines] = text.trim().split('\n');
  const cols = head.split(',');
  return lines.map((l) => Object.fromEntries(l.split(',').map((v, i) => [cols[i], v])));
}

const installed = new Set(listBuiltinDatasets().filter((d) => d.available).map((d) => d.id));
const tasks = ['sklearn-digits', 'quickdraw-a', 'mnist'].filter((d) => installed.has(d)).slice(0, 2);
let modelPath: string;

before(async () => {
  await useWasm();
  modelPath = await savedReferenceCnn(3);
});

test('quick reproduce over two backbones: per-arch JSON, CSV rows per (backbone, task, method), no forgetting, re-render', { skip: tasks.length < 2 ? 'fewer than two built-in datasets installed' : false }, async () => {
  const plan = quickPlan();
  const tiny = tasks.map((dataset) => ({ dataset, trainPerClass: 8, testLimit: 40 }));
  const arch = (id: string): ArchPlan => ({ id, description: `test ${id}`, source: { kind: 'model', modelPath }, tasks: tiny });
  plan.archs = [arch('a1'), arch('a2')];
  const root = tmpDir('pb-repro-');
  const out = path.join(root, 'docs');
  const rs = await runReproduce({ plan, workDir: path.join(root, 'work'), outDir: out, backend: 'wasm', commandLine: 'test' });

  assert.deepEqual(fs.readdirSync(path.join(out, 'results')).sort(), ['a1.json', 'a2.json']);
  const csvText = fs.readFileSync(path.join(out, 'results.csv'), 'utf8');
  const rows = parseCsv(csvText);
  for (const b of ['a1', 'a2']) {
    for (const t of tasks) {
      const methods = rows.filter((x) => x.backbone === b && x.task === t).map((x) => x.method).sort();
      assert.deepEqual(methods, ['classifier', 'finetune', 'piggyback', 'piggyback-51-steps'], `${b}/${t}`);
    }
  }
  for (const x of rows) {
    const acc = Number(x.test_accuracy);
    assert.ok(acc >= 0 && acc <= 1, `accuracy ${x.test_accuracy}`);
    assert.ok(Number(x.bytes) > 0 && Number(x.steps) > 0);
    if (x.method === 'classifier' || x.method === 'finetune') assert.equal(x.optimizer, 'sgd-momentum 0.9', 'the paper trains its baselines with SGD + momentum');
    else assert.equal(x.optimizer, 'adam');
    if (x.method.startsWith('piggyback')) {
      const bits = Number(x.bits_per_weight);
      assert.ok(bits > 0 && bits <= 1.1, `stored bits/weight ${bits}`);
      assert.ok(Number(x.finetune_bytes) > 20 * Number(x.bytes), 'a fine-tuned copy costs far more than a mask');
    }
  }
  // Every method of a task saw the same training images.
  for (const t of tasks) {
    const n = new Set(rows.filter((x) => x.backbone === 'a1' && x.task === t && x.method !== 'piggyback-51-steps').map((x) => x.train_images));
    assert.equal(n.size, 1, `${t}: ${[...n]}`);
  }

  for (const r of rs) {
    // The head rate: one pilot per candidate per task, on validation; the best (ties: the first) trains the full run.
    assert.deepEqual(r.headRates?.map((h) => h.task), tasks);
    for (const h of r.headRates ?? []) {
      assert.deepEqual(h.candidates.map((c) => c.lrHead), plan.protocol.headRateSelection?.candidates);
      for (const c of h.candidates) assert.ok(c.valAccuracy !== null && c.valAccuracy >= 0 && c.valAccuracy <= 1);
      const best = h.candidates.reduce((b, c) => ((c.valAccuracy as number) > (b.valAccuracy as number) ? c : b));
      assert.equal(h.chosen, best.lrHead);
      assert.equal(Number(rows.find((x) => x.backbone === r.arch && x.task === h.task && x.method === 'piggyback')?.lr), h.chosen, 'the full run trains at the chosen head rate');
    }
    assert.deepEqual(fs.readdirSync(path.join(root, 'work', r.arch, 'tasks')).filter((t) => t.includes('pilot')), [], 'pilot tasks are deleted');
    assert.ok(r.forgetting.passed, JSON.stringify(r.forgetting));
    assert.equal(r.forgetting.tasks.length, 2 * tasks.length, 'main and 51-step tasks re-evaluated');
    for (const t of r.forgetting.tasks) assert.equal(t.accuracyAtEnd, t.accuracyAfterTraining);
  }

  const md = fs.readFileSync(path.join(out, 'results.md'), 'utf8');
  for (const s of ['a1: Piggyback', 'a2: fine-tune', 'a1: bits / weight', '## Setup', 'SGD, momentum 0.9', '## Head learning rate, chosen on validation', "## The schedule's effect", '## No forgetting', '**PASSED**', '## Per-layer sparsity', 'Quick mode']) {
    assert.ok(md.includes(s), `results.md lacks "${s}"`);
  }
  // Re-rendered from the saved JSON alone: the same CSV.
  const again = path.join(root, 'again');
  fs.mkdirSync(again);
  await writeReports(readArchResults(out), again);
  assert.equal(fs.readFileSync(path.join(again, 'results.csv'), 'utf8'), csvText);
});
