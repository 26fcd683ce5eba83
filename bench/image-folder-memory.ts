/**
 * Peak memory of mask training on a big image folder at 224 px: N JPEGs (hard links to a few
 * distinct 256x256 images, so making them is instant), loaded through the engine's loader,
 * then a few MobileNetV2 (nsfwjs, cut at its default) training steps and an evaluation pass
 * on a slice of the test split. Run by `piggyback bench` in a child process so its peak RSS
 * is its own; prints one JSON line.
 *
 *   npx tsx bench/image-folder-memory.ts --images 50000 --size 224 --steps 2 --batch 8 [--backend native]
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as jpeg from 'jpeg-js';
import { tf } from '../src/core/tf';
import { initBackend, type BackendPreference } from '../src/core/backend';
import { loadDataset } from '../src/core/data';
import { Backbone } from '../src/core/model/backbone';
import { extractNsfwjsMobilenet, MOBILENET_DEFAULT_CUT } from '../src/core/model/nsfwjsMobilenet';
import { PiggybackNet } from '../src/core/train/taskNets';
import { batchTensors, evaluateLogits } from '../src/core/train/batches';
import { trainStep } from '../src/core/train/loop';
import { subsetDataset } from '../src/core/data/split';
import { DEFAULT_TRAIN_OPTIONS } from '../src/core/types';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : def;
}

function makeFolder(dir: string, images: number, classes: number): void {
  for (let c = 0; c < classes; c++) {
    const cls = path.join(dir, `class${c}`);
    fs.mkdirSync(cls, { recursive: true });
    const w = 256;
    const data = Buffer.alloc(w * w * 4);
    for (let p = 0; p < w * w; p++) data.set([(p * (c + 1)) % 256, (p >> 8) % 256, (c * 40) % 256, 255], p * 4);
    const first = path.join(cls, '0.jpg');
    fs.writeFileSync(first, jpeg.encode({ data, width: w, height: w }, 85).data);
    for (let k = 1; k < Math.ceil(images / classes); k++) fs.linkSync(first, path.join(cls, `${k}.jpg`));
  }
}

async function main(): Promise<void> {
  const images = Number(arg('images', '50000'));
  const size = Number(arg('size', '224'));
  const steps = Number(arg('steps', '2'));
  const batch = Number(arg('batch', '8'));
  const backend = arg('backend', 'auto') as BackendPreference;
  const info = await initBackend(backend);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'pb-bench-folder-'));
  try {
    const folder = path.join(work, 'images');
    makeFolder(folder, images, 10);
    const t0 = performance.now();
    const data = await loadDataset(folder, { height: size, width: size, channels: 3 }, { seed: 1 });
    const loadSeconds = (performance.now() - t0) / 1000;
    const rssAfterLoad = process.memoryUsage().rss / 1024 / 1024;
    const backbone = await Backbone.load(extractNsfwjsMobilenet(path.join(work, 'mnv2')), { cutAt: MOBILENET_DEFAULT_CUT, inputHW: [size, size] });
    const net = new PiggybackNet(backbone, 10, { ...DEFAULT_TRAIN_OPTIONS, name: 'folder-memory' });
    const opt = { mask: tf.train.adam(1e-4), head: tf.train.adam(1e-4) };
    const t1 = performance.now();
    for (let s = 0; s < steps; s++) trainStep(net, opt, batchTensors(data.train, null, s * batch, (s + 1) * batch));
    const stepSeconds = (performance.now() - t1) / 1000 / steps;
    evaluateLogits(subsetDataset(data.test, Array.from({ length: Math.min(64, data.test.count) }, (_, i) => i)), (x) => net.logits(x, false), 32);
    console.log(JSON.stringify({
      images: data.train.count + data.test.count,
      trainImages: data.train.count,
      size,
      batch,
      steps,
      backend: info.detail,
      heldInMemory: !data.train.read,
      loadSeconds,
      rssAfterLoadMb: rssAfterLoad,
      stepSeconds,
      peakRssMb: process.resourceUsage().maxRSS / 1024,
      float32WouldBeMb: (data.train.count * size * size * 3 * 4) / 1024 / 1024,
    }));
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
