/**
 * One threshold what-if slider move on the reference CNN, and where its time goes: the same
 * procedure as `npm run bench`'s analysis row (two tasks trained on mnist, a 512-image probe
 * cached by a first move), then 6 timed moves, then the phases of a move timed one by one.
 *
 *   npx tsx bench/whatif-move.ts [--backend native|wasm]
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as engine from '../src/core/engine';
import type { BackendPreference } from '../src/core/backend';
import { loadTask, readTaskMeta, loadTaskScores } from '../src/core/project/taskFiles';
import { masksAtThreshold } from '../src/core/project/scoresFile';
import { encodeMaskFile } from '../src/core/project/maskFile';
import { packBinary } from '../src/core/project/bitpack';
import { PiggybackNet } from '../src/core/train/taskNets';
import { Backbone } from '../src/core/model/backbone';
import { evaluateLogits } from '../src/core/train/batches';
import { loadDataset } from '../src/core/data';
import { subsetDataset } from '../src/core/data/split';
import { defaultBackbonePath } from '../src/core/paths';

const at = process.argv.indexOf('--backend');
const backend = (at > 0 ? process.argv[at + 1] : 'auto') as BackendPreference;

(async () => {
  const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'pb-whatif-')), 'p');
  try {
    await engine.createProject({ projectDir: dir, modelPath: 'reference-cnn', backend });
    await engine.trainTask({ projectDir: dir, task: 'a', dataset: 'mnist', trainPerClass: 570, testLimit: 100, options: { epochs: 1, batchSize: 64, lrMask: 1e-3, lrHead: 1e-2, lrDecayEvery: 0 }, backend });
    const what = { projectDir: dir, task: 'a', thresholds: [6e-3], probeLimit: 512, backend };
    const first = await engine.rethresholdTask(what);
    const moves: number[] = [];
    for (let i = 0; i < 6; i++) {
      const t0 = performance.now();
      await engine.rethresholdTask({ ...what, thresholds: [7e-3 + i * 1e-4] });
      moves.push(performance.now() - t0);
    }
    // The phases of one move, timed on their own (the move runs the encoder beside the evaluation).
    const T: Record<string, number> = {};
    const tick = (k: string, t0: number) => (T[k] = (T[k] ?? 0) + (performance.now() - t0) / 4);
    const bb = await Backbone.load(defaultBackbonePath());
    const d = await loadDataset('mnist', { height: 28, width: 28, channels: 1 }, { trainPerClass: 570, valFraction: 0.1, seed: 1 });
    const probe = subsetDataset(d.val!, Array.from({ length: Math.min(512, d.val!.count) }, (_, i) => i));
    const scores = loadTaskScores(dir, 'a');
    for (let i = 0; i < 4; i++) {
      let t0 = performance.now();
      const art = loadTask(dir, 'a');
      readTaskMeta(dir, 'a');
      tick('load task files', t0);
      t0 = performance.now();
      const masks = masksAtThreshold(scores.scores, 7e-3, 'binary', art.masks);
      tick('re-binarise scores', t0);
      t0 = performance.now();
      encodeMaskFile('binary', masks.map((m) => packBinary(m)), { compress: { layers: bb.layers } });
      tick('encode mask.bin (Brotli)', t0);
      t0 = performance.now();
      const net = new PiggybackNet(bb, 10, { ...art.options, name: `phase${i}` }, { masks, head: art.head, bn: art.bn });
      evaluateLogits(probe, (x) => net.logits(x, false));
      net.dispose();
      tick(`evaluate ${probe.count} probe images`, t0);
    }
    bb.dispose();
    const out = { probeImages: first.probe.count, moveMs: moves.map((m) => Math.round(m)), medianMoveMs: Math.round([...moves].sort((a, b) => a - b)[3]), phasesMs: Object.fromEntries(Object.entries(T).map(([k, v]) => [k, Math.round(v)])), loadAverage: os.loadavg()[0] };
    process.stdout.write(`${JSON.stringify(out)}\n`);
  } finally {
    fs.rmSync(path.dirname(dir), { recursive: true, force: true });
  }
})();
