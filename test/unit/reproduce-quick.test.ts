/**
 * `piggyback reproduce` end to end on tiny real data (quick plan, two tasks, one epoch):
 * results.csv has the required columns and methods, results.md the required sections, and
 * the no-forgetting check (exact re-evaluation, unchanged task files, bit-identical backbone)
 * passes. Uses the committed reference backbone when present, else a random reference CNN.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { useWasm, savedReferenceCnn, tmpDir } from '../helpers/engineFixtures';
import { defaultBackbonePath } from '../../src/core/paths';
import { listBuiltinDatasets } from '../../src/core/data/builtin';
import { quickPlan, runReproduce, writeReportsFromJson, type ReproduceResult } from '../../src/core/reproduce';

const REQUIRED = ['task', 'method', 'test_accuracy', 'train_seconds', 'sparsity', 'bits_per_weight', 'bytes'];

function parseCsv(text: string): Array<Record<string, string>> {
  const [head, ...lines] = text.trim().split('\n');
  const cols = head.split(',');
  return lines.map((l) => Object.fromEntries(l.split(',').map((v, i) => [cols[i], v])));
}

let modelPath: string;
const installed = new Set(listBuiltinDatasets().filter((d) => d.available).map((d) => d.id));
const tasks = ['sklearn-digits', 'mnist', 'quickdraw-a'].filter((d) => installed.has(d)).slice(0, 2);

before(async () => {
  await useWasm();
  modelPath = fs.existsSync(defaultBackbonePath()) ? defaultBackbonePath() : await savedReferenceCnn(3);
});

test('quick reproduce on two real tasks: CSV columns and methods, no forgetting', { skip: tasks.length < 2 ? 'fewer than two built-in datasets installed' : false }, async () => {
  const plan = quickPlan();
  plan.tasks = plan.tasks.filter((t) => tasks.includes(t.dataset)).map((t) => ({ ...t, trainPerClass: 10, testLimit: 50, epochs: 1 }));
  plan.variants = [{ dataset: tasks[0], kind: 'ternary' }];
  plan.mobilenet = null;
  plan.tune = null;
  plan.investigate = null;
  const root = tmpDir('pb-repro-');
  const out = path.join(root, 'docs');
  const r: ReproduceResult = await runReproduce({ plan, workDir: path.join(root, 'work'), outDir: out, backend: 'wasm', referenceModel: modelPath, commandLine: 'test' });

  const csvText = fs.readFileSync(path.join(out, 'results.csv'), 'utf8');
  const header = csvText.split('\n')[0].split(',');
  for (const c of REQUIRED) assert.ok(header.includes(c), `results.csv lacks column ${c}`);
  const rows = parseCsv(csvText);
  for (const t of tasks) {
    const methods = rows.filter((x) => x.task === t).map((x) => x.method);
    for (const m of ['piggyback', 'classifier', 'finetune']) assert.ok(methods.includes(m), `${t} lacks a ${m} row`);
  }
  assert.ok(rows.some((x) => x.method === 'piggyback-ternary' && x.task === tasks[0]), 'ternary variant row');
  for (const x of rows) {
    const acc = Number(x.test_accuracy);
    assert.ok(acc >= 0 && acc <= 1, `accuracy ${x.test_accuracy}`);
    assert.ok(Number(x.bytes) > 0 && Number(x.train_seconds) >= 0);
    if (x.method.startsWith('piggyback')) {
      assert.ok(Number(x.sparsity) >= 0 && Number(x.sparsity) <= 1);
      // Packed: 1 bit per weight (2 for the ternarizer) plus a header; stored may be compressed below that.
      const raw = Number(x.raw_bits_per_weight);
      const stored = Number(x.bits_per_weight);
      assert.ok(x.method === 'piggyback-ternary' ? raw > 1.99 && raw < 2.1 : raw > 0.99 && raw < 1.1, `packed bits/weight ${raw} for ${x.method}`);
      assert.ok(stored > 0 && stored <= raw + 1e-9, `stored bits/weight ${stored} for ${x.method}`);
    }
  }
  const ft = rows.find((x) => x.method === 'finetune')!;
  const pb = rows.find((x) => x.method === 'piggyback')!;
  assert.equal(Number(ft.bits_per_weight), 32);
  assert.ok(Number(ft.bytes) > 20 * Number(pb.bytes), 'a fine-tuned copy costs far more than a mask');

  // No forgetting: every task (main + variant) re-evaluated to exactly its accuracy right after training.
  assert.equal(r.forgetting.length, 1);
  const f = r.forgetting[0];
  assert.ok(f.passed, JSON.stringify(f));
  assert.ok(f.backboneUnchanged);
  assert.equal(f.tasks.length, tasks.length + 1);
  for (const t of f.tasks) assert.equal(t.accuracyAtEnd, t.accuracyAfterTraining);

  const md = fs.readFileSync(path.join(out, 'results.md'), 'utf8');
  for (const s of ['backend', 'commit', 'date', '## Measured results', '## Piggyback vs the baselines, per task', '## No forgetting', 'PASSED', '## Per-layer sparsity']) {
    assert.ok(md.includes(s), `results.md lacks "${s}"`);
  }

  // The reports can be re-rendered from the run's result.json alone.
  const again = path.join(root, 'again');
  writeReportsFromJson(path.join(root, 'work', 'result.json'), again);
  assert.equal(fs.readFileSync(path.join(again, 'results.csv'), 'utf8'), csvText);
});
