/**
 * `piggyback bench`: speed and memory of the engine on the reference CNN at batch 64, next to
 * PyTorch running the same mask-training step on the same CPU in the same run (when Debian's
 * python3-torch is installed), plus the pairwise-overlap analytics on ResNet-50-sized masks.
 * Ratios within one run are what to compare: absolute numbers move with machine load.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { tf } from '../core/tf';
import { initBackend, type BackendPreference } from '../core/backend';
import { Backbone } from '../core/model/backbone';
import { buildReferenceCnn } from '../core/model/referenceCnn';
import { FinetuneNet, PiggybackNet, type TaskNet } from '../core/train/taskNets';
import { trainStep } from '../core/train/loop';
import { adam } from '../core/train/adam';
import { DEFAULT_TRAIN_OPTIONS } from '../core/types';
import { packageRoot } from '../core/paths';
import { benchOverlap } from '../../bench/overlap';

export interface BenchResult {
  backend: string;
  batchSize: number;
  steps: number;
  maskImgPerSec: number;
  finetuneImgPerSec: number;
  maskVsFinetune: number;
  evalImgPerSec: number;
  /** Why 'auto' skipped faster backends (e.g. tfjs-node absent), or null. */
  backendFallbackReason: string | null;
  /** The portable wasm path's mask training in the same run (null when wasm is the backend measured above). */
  wasmMaskImgPerSec: number | null;
  /** maskImgPerSec / wasmMaskImgPerSec. */
  speedupVsWasm: number | null;
  torchMaskImgPerSec: number | null;
  torchThreads: number | null;
  torchBlas: string | null;
  torchNote: string | null;
  ratioVsTorch: number | null;
  overlapMs: number;
  peakRssMb: number;
  tensorsLeakedPerStep: number;
}

const BATCH = 64;

function randomBatch(seed: number): { x: tf.Tensor4D; y: tf.Tensor1D } {
  return {
    x: tf.randomUniform([BATCH, 28, 28, 1], 0, 1, 'float32', seed) as tf.Tensor4D,
    y: tf.tensor1d(Array.from({ length: BATCH }, (_, i) => (i * 7 + seed) % 10), 'int32'),
  };
}

/** Images per second over `steps` training steps after `warmup` steps. */
function timeTraining(net: TaskNet, steps: number, warmup: number): { imgPerSec: number; leak: number } {
  const optimizers = { mask: adam(1e-4), head: adam(1e-4) };
  for (let i = 0; i < warmup; i++) trainStep(net, optimizers, randomBatch(i));
  const before = tf.memory().numTensors;
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) trainStep(net, optimizers, randomBatch(100 + i));
  const seconds = (performance.now() - t0) / 1000;
  const leak = (tf.memory().numTensors - before) / steps;
  optimizers.mask.dispose();
  optimizers.head.dispose();
  return { imgPerSec: (steps * BATCH) / seconds, leak };
}

function timeInference(net: TaskNet, batches: number): number {
  const { x, y } = randomBatch(7);
  tf.tidy(() => net.logits(x, false).dataSync());
  const t0 = performance.now();
  for (let i = 0; i < batches; i++) tf.tidy(() => net.logits(x, false).dataSync());
  tf.dispose([x, y]);
  return (batches * BATCH) / ((performance.now() - t0) / 1000);
}

function torchPeer(steps: number): { imgPerSec: number | null; threads: number | null; blas: string | null; note: string | null } {
  const python = fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
  const script = path.join(packageRoot(), 'bench', 'torch_mask.py');
  const r = spawnSync(python, [script, '--steps', String(steps), '--threads', String(os.cpus().length)], { encoding: 'utf8', timeout: 600_000 });
  if (r.status !== 0) {
    const why = /No module named .?torch/.test(r.stderr ?? '') ? 'python3-torch not installed (apt-get install python3-torch libopenblas0-pthread)' : (r.stderr || r.error?.message || 'failed').trim().split('\n').pop();
    return { imgPerSec: null, threads: null, blas: null, note: why ?? null };
  }
  const j = JSON.parse(r.stdout.trim().split('\n').pop() as string);
  return { imgPerSec: j.torchMaskImgPerSec, threads: j.threads, blas: j.blas, note: null };
}

export async function runBench(opts: { quick: boolean; backend: BackendPreference; log: (s: string) => void }): Promise<BenchResult> {
  // Analytics first, on a fresh heap, as the inspector runs them (in a process that is not
  // training): after the training runs, the leftover heap and array pools made it ~2x noisier.
  const overlap = await benchOverlap({ runs: opts.quick ? 2 : 5 });
  opts.log(`overlap of 10 ResNet-50-sized masks: ${overlap.overlapMs.toFixed(1)} ms`);
  const info = await initBackend(opts.backend);
  opts.log(`backend: ${info.detail}`);
  const steps = opts.quick ? 5 : 30;
  const warmup = opts.quick ? 1 : 3;
  const backbone = Backbone.fromModel(buildReferenceCnn(1), 'bench', '(in memory)');
  const o = DEFAULT_TRAIN_OPTIONS;

  const mask = new PiggybackNet(backbone, 10, { threshold: o.threshold, maskScale: o.maskScale, maskKind: 'binary', bnMode: 'frozen', seed: 1, name: 'bench' });
  const maskRun = timeTraining(mask, steps, warmup);
  opts.log(`mask training: ${maskRun.imgPerSec.toFixed(1)} img/s`);
  const evalImgPerSec = timeInference(mask, opts.quick ? 4 : 20);
  opts.log(`inference: ${evalImgPerSec.toFixed(1)} img/s`);
  mask.dispose();

  const ft = new FinetuneNet(backbone, 10, 1, 'bench-ft');
  const ftRun = timeTraining(ft, steps, warmup);
  opts.log(`full fine-tuning: ${ftRun.imgPerSec.toFixed(1)} img/s`);
  ft.dispose();
  backbone.dispose();

  // The portable path, measured in the same run for comparison (fewer steps: it is slower).
  let wasmMaskImgPerSec: number | null = null;
  if (info.name !== 'wasm') {
    try {
      await initBackend('wasm');
      const bb = Backbone.fromModel(buildReferenceCnn(1), 'bench', '(in memory)');
      const m = new PiggybackNet(bb, 10, { threshold: o.threshold, maskScale: o.maskScale, maskKind: 'binary', bnMode: 'frozen', seed: 1, name: 'bench-wasm' });
      wasmMaskImgPerSec = timeTraining(m, Math.max(2, Math.round(steps / 3)), 1).imgPerSec;
      opts.log(`mask training on wasm (portable path): ${wasmMaskImgPerSec.toFixed(1)} img/s`);
      m.dispose();
      bb.dispose();
    } catch (e) {
      opts.log(`wasm comparison skipped: ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      await initBackend(info.name);
    }
  }

  const torch = torchPeer(steps);
  opts.log(torch.imgPerSec ? `PyTorch mask training: ${torch.imgPerSec.toFixed(1)} img/s (${torch.threads} threads)` : `PyTorch: skipped (${torch.note})`);

  return {
    backend: info.detail,
    batchSize: BATCH,
    steps,
    maskImgPerSec: maskRun.imgPerSec,
    finetuneImgPerSec: ftRun.imgPerSec,
    maskVsFinetune: maskRun.imgPerSec / ftRun.imgPerSec,
    evalImgPerSec,
    backendFallbackReason: info.fallbackReason ?? null,
    wasmMaskImgPerSec,
    speedupVsWasm: wasmMaskImgPerSec ? maskRun.imgPerSec / wasmMaskImgPerSec : null,
    torchMaskImgPerSec: torch.imgPerSec,
    torchThreads: torch.threads,
    torchBlas: torch.blas,
    torchNote: torch.note,
    ratioVsTorch: torch.imgPerSec ? maskRun.imgPerSec / torch.imgPerSec : null,
    overlapMs: overlap.overlapMs,
    peakRssMb: process.resourceUsage().maxRSS / 1024,
    tensorsLeakedPerStep: Math.max(maskRun.leak, ftRun.leak),
  };
}

export function formatBench(r: BenchResult): string {
  const f = (x: number | null, d = 1) => (x === null ? '-' : x.toFixed(d));
  return [
    `backend                     ${r.backend}`,
    `mask training (batch ${r.batchSize})    ${f(r.maskImgPerSec)} img/s`,
    `full fine-tuning            ${f(r.finetuneImgPerSec)} img/s  (mask/fine-tune ${f(r.maskVsFinetune, 2)})`,
    `inference                   ${f(r.evalImgPerSec)} img/s`,
    ...(r.wasmMaskImgPerSec === null ? [] : [`wasm (portable) mask train ${f(r.wasmMaskImgPerSec)} img/s  (speed-up ${f(r.speedupVsWasm, 2)}x)`]),
    `PyTorch mask training       ${r.torchMaskImgPerSec === null ? `- (${r.torchNote})` : `${f(r.torchMaskImgPerSec)} img/s, ${r.torchThreads} threads`}`,
    `ours / PyTorch              ${f(r.ratioVsTorch, 2)}`,
    `overlap, 10 x 25.5M masks   ${f(r.overlapMs)} ms`,
    `peak RSS                    ${f(r.peakRssMb, 0)} MB`,
  ].join('\n');
}
