/**
 * The BatchNorm momenta of a backbone, and how much of its pretrained running statistics a
 * training run of N steps still keeps (momentum^N: what a fine-tuned copy evaluates with).
 *
 *   npx tsx experiments/bn-momentum.ts [nsfwjs-mobilenetv2 | path/to/model.json] [--steps 690,1230]
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { extractNsfwjsMobilenet } from '../src/core/model/nsfwjsMobilenet';

const argv = process.argv.slice(2);
const at = argv.indexOf('--steps');
const steps = (at >= 0 ? argv[at + 1] : '690,1230').split(',').map(Number);
const which = argv.find((a, i) => !a.startsWith('--') && argv[i - 1] !== '--steps') ?? 'nsfwjs-mobilenetv2';
const modelPath = which === 'nsfwjs-mobilenetv2' ? extractNsfwjsMobilenet(fs.mkdtempSync(path.join(os.tmpdir(), 'pb-bnm-'))) : which;

const counts = new Map<number, number>();
const walk = (o: unknown): void => {
  if (Array.isArray(o)) o.forEach(walk);
  else if (o && typeof o === 'object') {
    const r = o as { class_name?: string; config?: { momentum?: number } };
    if (r.class_name === 'BatchNormalization') {
      const m = r.config?.momentum ?? 0.99;
      counts.set(m, (counts.get(m) ?? 0) + 1);
    }
    Object.values(o).forEach(walk);
  }
};
walk(JSON.parse(fs.readFileSync(modelPath, 'utf8')));
for (const [m, n] of counts) {
  const kept = steps.map((s) => `${s} steps: ${(100 * m ** s).toFixed(1)}%`).join(', ');
  console.log(`${n} BatchNormalization layers with momentum ${m}; pretrained running statistics still kept after ${kept}`);
}
