/**
 * Which base task makes the better backbone to piggyback on? For each candidate backbone
 * (model.json made by `piggyback pretrain` on a different base task, same architecture and the
 * same number of training steps), a linear probe on its frozen features per downstream task:
 * the classifier-only baseline's head (Adam 1e-3, 30 epochs, batch 32) trained on the task's
 * training split and scored on its validation split (never the test split), plus the dead
 * feature units on the task. Prints a markdown table and writes the JSON with --out.
 *
 *   npx tsx experiments/choose-base.ts --out docs/base-choice.json models/a/model.json models/b/model.json
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { initBackend } from '../src/core/backend';
import { loadDataset } from '../src/core/data';
import { Backbone } from '../src/core/model/backbone';
import { countDeadUnits } from '../src/core/analysis/deadUnits';
import { FeatureHeadNet } from '../src/core/train/taskNets';
import { trainLoop } from '../src/core/train/loop';
import { evaluateLogits } from '../src/core/train/batches';
import { DEFAULT_TRAIN_OPTIONS } from '../src/core/types';

const TASKS = ['mnist', 'quickdraw-a', 'quickdraw-b', 'sklearn-digits'];

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const outAt = args.indexOf('--out');
  const out = outAt >= 0 ? args.splice(outAt, 2)[1] : null;
  const info = await initBackend('auto');
  const rows: Array<{ backbone: string; baseTask: string; task: string; valAccuracy: number; deadUnits: number; units: number }> = [];
  const candidates: unknown[] = [];
  for (const model of args) {
    const pre = JSON.parse(fs.readFileSync(path.join(path.dirname(model), 'pretrain.json'), 'utf8'));
    const o = pre.options;
    candidates.push({
      model, arch: pre.arch, baseTask: pre.baseTask, trainImages: pre.trainImages, testAccuracy: pre.testAccuracy, steps: o.epochs * Math.ceil(pre.trainImages / o.batchSize),
      pretrainCommand: `piggyback pretrain --arch ${pre.arch} --dataset ${pre.baseTask} --epochs ${o.epochs} --decay-every ${o.lrDecayEvery} --batch-size ${o.batchSize} --lr-head ${o.lrHead} --out ${path.dirname(model)}`,
    });
    const bb = await Backbone.load(model);
    const [height, width, channels] = bb.inputShape;
    for (const task of TASKS) {
      const data = await loadDataset(task, { height, width, channels }, { valFraction: 0.1, seed: 1 });
      const dead = countDeadUnits((x) => bb.features(x, bb.frozenContext()), data.train);
      const feats = bb.featureSplits(data);
      const net = new FeatureHeadNet(bb.featureSize, data.train.classNames.length, 1, `probe-${task}`);
      try {
        const opts = { ...DEFAULT_TRAIN_OPTIONS, epochs: 30, batchSize: 32, lrHead: 1e-3, lrDecayEvery: 0 };
        await trainLoop(net, feats, opts, { task, method: 'classifier', backend: info.detail, layerNames: [] });
        const val = evaluateLogits(feats.val!, (x) => net.logits(x)).accuracy;
        rows.push({ backbone: model, baseTask: pre.baseTask, task, valAccuracy: val, deadUnits: dead.deadUnits, units: dead.units });
        process.stderr.write(`${pre.baseTask} ${task}: val ${(100 * val).toFixed(1)}%, dead ${dead.deadUnits}/${dead.units}\n`);
      } finally {
        net.dispose();
      }
    }
    bb.dispose();
  }
  const bases = [...new Set(rows.map((r) => r.backbone))];
  const lines = [`| base task (backbone) | ${TASKS.join(' | ')} | mean |`, `|---|${TASKS.map(() => '---:').join('|')}|---:|`];
  for (const b of bases) {
    const rs = rows.filter((r) => r.backbone === b);
    const mean = rs.reduce((a, r) => a + r.valAccuracy, 0) / rs.length;
    lines.push(`| ${rs[0].baseTask} (\`${b}\`) | ${rs.map((r) => `${(100 * r.valAccuracy).toFixed(1)}% (${r.deadUnits} dead)`).join(' | ')} | ${(100 * mean).toFixed(1)}% |`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
  if (out) fs.writeFileSync(out, `${JSON.stringify({
    rule: 'a linear probe per task: the classifier-only head (Adam 1e-3, 30 epochs, batch 32, seed 1) on the frozen features, scored on the validation split (10% of the training images; never the test split)',
    backend: info.detail, commands: [...candidates.map((c) => (c as { pretrainCommand: string }).pretrainCommand), `npx tsx experiments/choose-base.ts --out ${out} ${args.join(' ')}`], candidates, rows,
  }, null, 1)}\n`);
}

main().catch((e) => {
  process.stderr.write(`${e instanceof Error ? e.message : e}\n`);
  process.exit(1);
});
