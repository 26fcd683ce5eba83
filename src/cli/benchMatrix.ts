/**
 * The architecture rows of `piggyback bench`: the networks researchers bring, at real image
 * sizes, per backend, next to PyTorch on the same architecture in the same run.
 *
 * - resnet18 (built here, random weights) at 32 and 64 px, batch 32;
 * - nsfwjs' ImageNet MobileNetV2 cut at block_10_project_BN at 96 and 224 px;
 * each: mask-training img/s per backend (native, wasm, tfjs-node when it loads), fine-tuning
 * and inference img/s on the first backend, the PyTorch peer (torchvision resnet18 /
 * mobilenet_v2().features[:12], every conv masked with an STE, BN frozen, same batch and
 * threads), the ratio, and the fraction of the machine's fp32 GEMM peak the step reaches.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { tf } from '../core/tf';
import { initBackend, type BackendName } from '../core/backend';
import { Backbone } from '../core/model/backbone';
import { buildResNet, resnet18Spec } from '../core/model/resnet';
import { extractNsfwjsMobilenet, MOBILENET_DEFAULT_CUT } from '../core/model/nsfwjsMobilenet';
import { FinetuneNet, PiggybackNet, type TaskNet } from '../core/train/taskNets';
import { trainStep } from '../core/train/loop';
import { adam } from '../core/train/adam';
import { DEFAULT_TRAIN_OPTIONS } from '../core/types';
import { packageRoot } from '../core/paths';

export interface BackendSpeed {
  backend: string;
  maskImgPerSec: number | null;
  /** Why this backend was not measured (does not load, or too slow for the row), or null. */
  note: string | null;
}

export interface ArchRow {
  arch: 'reference-cnn' | 'resnet18' | 'mobilenetv2';
  size: number;
  batchSize: number;
  /** Training steps timed (after warm-up) per measurement; fewer on the big rows. */
  steps: number;
  maskedWeights: number;
  /** Forward FLOPs of the masked layers per image (x3 for a training step). */
  forwardGflopsPerImage: number;
  backends: BackendSpeed[];
  /** The fastest backend's mask-training img/s, and that backend. */
  bestBackend: string;
  maskImgPerSec: number;
  finetuneImgPerSec: number | null;
  evalImgPerSec: number | null;
  /** The PyTorch peer's img/s: the mean of a run just before this row and one just after. */
  torchMaskImgPerSec: number | null;
  torchRuns?: number[];
  torchNote: string | null;
  ratioVsTorch: number | null;
  /**
   * Training FLOP/s reached (3 x forward per image, counted as direct convolutions) over the
   * measured GEMM peak. Winograd convolutions do fewer multiplications, so it can exceed 1.
   */
  fractionOfPeak: number | null;
  /** Peak RSS of the process that measured this row (each row runs in a fresh one). */
  peakRssMb: number;
}

type Build = () => Promise<{ backbone: Backbone; cleanup: () => void }>;

interface RowSpec {
  arch: ArchRow['arch'];
  size: number;
  batch: number;
  steps: number;
  torchArch: string;
  build: Build;
}

/** Forward FLOPs (multiply-adds x 2) of every masked layer for one image. */
export function forwardFlops(backbone: Backbone): number {
  let flops = 0;
  for (const l of backbone.layers) {
    const out = backbone.model.getLayer(l.name).outputShape as number[];
    const s = l.shape;
    if (l.kind === 'dense') flops += 2 * s[0] * s[1];
    else flops += 2 * (out[1] ?? 1) * (out[2] ?? 1) * s[0] * s[1] * s[2] * s[3]; // conv: kh kw cin cout; depthwise: kh kw cin mult
  }
  return flops;
}

function batch(size: number, channels: number, n: number, seed: number): { x: tf.Tensor4D; y: tf.Tensor1D } {
  return {
    x: tf.randomUniform([n, size, size, channels], 0, 1, 'float32', seed) as tf.Tensor4D,
    y: tf.tensor1d(Array.from({ length: n }, (_, i) => (i * 7 + seed) % 10), 'int32'),
  };
}

/** img/s over `steps` steps on pre-made batches after `warmup` steps, and tensors left behind per timed step. */
export function timeTrain(net: TaskNet, size: number, channels: number, n: number, steps: number, warmup: number): { imgPerSec: number; leak: number } {
  // The engine's Adam (one fused kernel per variable on native), as training uses it.
  const opt = { mask: adam(1e-4), head: adam(1e-4) };
  const batches = [batch(size, channels, n, 1), batch(size, channels, n, 2)];
  try {
    // trainStep disposes its batch: give it clones (they share the data).
    const next = (i: number) => ({ x: tf.clone(batches[i % 2].x), y: tf.clone(batches[i % 2].y) });
    for (let i = 0; i < warmup; i++) trainStep(net, opt, next(i));
    const before = tf.memory().numTensors;
    const t0 = performance.now();
    for (let i = 0; i < steps; i++) trainStep(net, opt, next(i));
    const seconds = (performance.now() - t0) / 1000;
    return { imgPerSec: (steps * n) / seconds, leak: (tf.memory().numTensors - before) / steps };
  } finally {
    for (const b of batches) tf.dispose([b.x, b.y]);
    opt.mask.dispose();
    opt.head.dispose();
  }
}

/** Inference img/s over `reps` batches of n random images (after one untimed batch). */
export function timeEval(net: TaskNet, size: number, channels: number, n: number, reps: number): number {
  const { x, y } = batch(size, channels, n, 3);
  tf.tidy(() => net.logits(x, false).dataSync());
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) tf.tidy(() => net.logits(x, false).dataSync());
  tf.dispose([x, y]);
  return (reps * n) / ((performance.now() - t0) / 1000);
}

/** The bench's mask-training net: the default options, binary mask, BN frozen, seed 1. */
export function maskNet(backbone: Backbone, name: string): PiggybackNet {
  const o = DEFAULT_TRAIN_OPTIONS;
  return new PiggybackNet(backbone, 10, { threshold: o.threshold, maskScale: o.maskScale, maskKind: 'binary', bnMode: 'frozen', seed: 1, name });
}

/** The machine's fp32 GEMM rate on the active backend, GFLOP/s (best of a few 1024^3 products). */
export function gemmPeakGflops(): number {
  const n = 1024;
  const a = tf.randomUniform([n, n], -1, 1, 'float32', 1);
  const b = tf.randomUniform([n, n], -1, 1, 'float32', 2);
  // Not tf.tidy(() => ...dataSync()): tidy walks a returned 1M-entry array looking for tensors (~1 s).
  const product = (): void => {
    const c = tf.matMul(a, b);
    c.dataSync();
    c.dispose();
  };
  let best = Infinity;
  product();
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    product();
    best = Math.min(best, performance.now() - t0);
  }
  tf.dispose([a, b]);
  return (2 * n ** 3) / (best / 1000) / 1e9;
}

/** One or two runs of the PyTorch peer (bench/torch_mask.py): img/s (their mean), threads, BLAS, or why it did not run. */
export interface TorchPeer {
  imgPerSec: number | null;
  runs: number[];
  threads: number | null;
  blas: string | null;
  note: string | null;
}

function torchPeer(arch: string, size: number, n: number, steps: number): TorchPeer {
  const python = fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
  const script = path.join(packageRoot(), 'bench', 'torch_mask.py');
  const args = [script, '--arch', arch, '--size', String(size), '--batch', String(n), '--steps', String(steps), '--warmup', '2', '--threads', String(os.cpus().length)];
  const r = spawnSync(python, args, { encoding: 'utf8', timeout: 900_000 });
  if (r.status !== 0) {
    const why = /No module named .?torch/.test(r.stderr ?? '') ? 'python3-torch / python3-torchvision not installed (apt-get install python3-torch python3-torchvision)' : (r.stderr || r.error?.message || 'failed').trim().split('\n').pop();
    return { imgPerSec: null, runs: [], threads: null, blas: null, note: why ?? 'failed' };
  }
  const j = JSON.parse(r.stdout.trim().split('\n').pop() as string);
  return { imgPerSec: j.torchMaskImgPerSec, runs: [j.torchMaskImgPerSec], threads: j.threads, blas: j.blas, note: null };
}

/**
 * `measure` between two runs of the PyTorch peer, whose mean is the peer's figure: this machine's
 * speed drifts over minutes (the same step moved 15% between runs a minute apart), and a run
 * before and one after cancel a steady drift.
 */
export function bracketedByTorch<T>(peer: { arch: string; size: number; batch: number; steps: number }, measure: () => T, log: (s: string) => void): { value: T; torch: TorchPeer } {
  const run = () => torchPeer(peer.arch, peer.size, peer.batch, peer.steps);
  const before = run();
  const value = measure();
  if (before.imgPerSec === null) {
    log(`  PyTorch skipped (${before.note})`);
    return { value, torch: before };
  }
  const after = run();
  const runs = [before.imgPerSec, ...(after.imgPerSec === null ? [] : [after.imgPerSec])];
  const mean = runs.reduce((a, b) => a + b, 0) / runs.length;
  log(`  PyTorch ${mean.toFixed(1)} img/s (before and after: ${runs.map((x) => x.toFixed(1)).join(', ')})`);
  return { value, torch: { ...before, imgPerSec: mean, runs } };
}

function specs(quick: boolean): RowSpec[] {
  const resnet = (size: number): Build => async () => {
    const b = Backbone.fromModel(buildResNet(resnet18Spec(size)), 'bench', '(in memory)');
    return { backbone: b, cleanup: () => b.dispose() };
  };
  const mobilenet = (size: number): Build => async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pb-bench-mnv2-'));
    const b = await Backbone.load(extractNsfwjsMobilenet(dir), { cutAt: MOBILENET_DEFAULT_CUT, inputHW: [size, size] });
    return { backbone: b, cleanup: () => { b.dispose(); fs.rmSync(dir, { recursive: true, force: true }); } };
  };
  const s = (full: number) => (quick ? 1 : full);
  return [
    { arch: 'resnet18', size: 32, batch: 32, steps: s(10), torchArch: 'resnet18', build: resnet(32) },
    { arch: 'resnet18', size: 64, batch: 32, steps: s(6), torchArch: 'resnet18', build: resnet(64) },
    { arch: 'mobilenetv2', size: 96, batch: 32, steps: s(6), torchArch: 'mobilenet_v2', build: mobilenet(96) },
    { arch: 'mobilenetv2', size: 224, batch: 16, steps: s(3), torchArch: 'mobilenet_v2', build: mobilenet(224) },
  ];
}

/** The rows `piggyback bench` measures (quick: one timed step each). */
export function rowCount(quick: boolean): number {
  return specs(quick).length;
}

/**
 * One row measured in this process: mask training per backend in `backends` (the first is also
 * timed for fine-tuning and inference). A backend that does not load is listed with the reason.
 * bench/arch-row.ts runs this in a child process per row, so that the row's peak RSS is its own.
 */
export async function measureRow(index: number, opts: { quick: boolean; backends: BackendName[]; peakGflops: number | null; log: (s: string) => void }): Promise<ArchRow> {
  const spec = specs(opts.quick)[index];
  const speeds: BackendSpeed[] = [];
  let meta: { masked: number; flops: number } | null = null;
  let finetune: number | null = null;
  let evalRate: number | null = null;
  for (const [i, name] of opts.backends.entries()) {
    let info;
    try {
      info = await initBackend(name);
    } catch (e) {
      speeds.push({ backend: name, maskImgPerSec: null, note: e instanceof Error ? e.message.split('\n')[0] : String(e) });
      continue;
    }
    if (info.name !== name) {
      speeds.push({ backend: name, maskImgPerSec: null, note: `not available (${info.fallbackReason ?? info.detail})` });
      continue;
    }
    const { backbone, cleanup } = await spec.build();
    try {
      const [, , c] = backbone.inputShape;
      meta ??= { masked: backbone.maskedParams, flops: forwardFlops(backbone) };
      const net = maskNet(backbone, `bench-${spec.arch}`);
      // Two warm-up steps: the first builds every oneDNN primitive and fills the buffer pool.
      const rate = timeTrain(net, spec.size, c, spec.batch, spec.steps, opts.quick ? 1 : 2).imgPerSec;
      speeds.push({ backend: info.detail, maskImgPerSec: rate, note: null });
      opts.log(`${spec.arch} ${spec.size}px batch ${spec.batch}: mask training ${rate.toFixed(1)} img/s on ${info.detail}`);
      if (i === 0) {
        evalRate = timeEval(net, spec.size, c, spec.batch, Math.max(1, spec.steps));
        net.dispose();
        const ft = new FinetuneNet(backbone, 10, 1, `bench-ft-${spec.arch}`);
        finetune = timeTrain(ft, spec.size, c, spec.batch, Math.max(1, Math.ceil(spec.steps / 2)), 1).imgPerSec;
        ft.dispose();
        opts.log(`  fine-tuning ${finetune.toFixed(1)} img/s, inference ${evalRate.toFixed(1)} img/s`);
      } else net.dispose();
    } finally {
      cleanup();
    }
  }
  const measured = speeds.filter((x) => x.maskImgPerSec !== null);
  const best = measured.reduce<BackendSpeed | null>((a, x) => (a && (a.maskImgPerSec ?? 0) >= (x.maskImgPerSec ?? 0) ? a : x), null);
  const bestRate = best?.maskImgPerSec ?? 0;
  return {
    arch: spec.arch,
    size: spec.size,
    batchSize: spec.batch,
    steps: spec.steps,
    maskedWeights: meta?.masked ?? 0,
    forwardGflopsPerImage: (meta?.flops ?? 0) / 1e9,
    backends: speeds,
    bestBackend: best?.backend ?? '-',
    maskImgPerSec: bestRate,
    finetuneImgPerSec: finetune,
    evalImgPerSec: evalRate,
    torchMaskImgPerSec: null,
    torchNote: null,
    ratioVsTorch: null,
    fractionOfPeak: opts.peakGflops && meta ? (bestRate * 3 * meta.flops) / 1e9 / opts.peakGflops : null,
    peakRssMb: process.resourceUsage().maxRSS / 1024,
  };
}

/**
 * Runs a bench script (bench/<name>.ts) in a fresh child process and parses the JSON line it
 * prints last; its "log: ..." stderr lines are passed on. A row's peak RSS is then its own, and
 * what one row allocated does not slow the next.
 */
export function jsonFromChild<T>(name: string, args: string[], log: (s: string) => void): T {
  const script = path.join(packageRoot(), 'bench', `${name}.ts`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', script, ...args], { encoding: 'utf8', timeout: 1_800_000, cwd: packageRoot(), maxBuffer: 64 * 2 ** 20 });
  for (const line of (r.stderr ?? '').split('\n')) if (line.startsWith('log: ')) log(line.slice(5));
  if (r.status !== 0) {
    const why = (r.stderr || r.error?.message || `exit ${r.status}`).trim().split('\n').filter((l) => !l.startsWith('log: ')).pop();
    throw new Error(`bench/${name}.ts failed in its child process: ${why}`);
  }
  return JSON.parse(r.stdout.trim().split('\n').pop() as string) as T;
}

/** measureRow in a fresh child process (bench/arch-row.ts). */
function measureRowInChild(index: number, opts: { quick: boolean; backends: BackendName[]; peakGflops: number | null; log: (s: string) => void }): ArchRow {
  const args = ['--row', String(index), '--backends', opts.backends.join(','), '--peak', String(opts.peakGflops ?? 0), ...(opts.quick ? ['--quick'] : [])];
  return jsonFromChild<ArchRow>('arch-row', args, opts.log);
}

/**
 * Every row, each in its own child process (a row's peak RSS is then its own, and one row's
 * allocations do not slow the next), with the PyTorch peer on the same architecture.
 */
export async function benchArchitectures(opts: { quick: boolean; backends: BackendName[]; peakGflops: number | null; log: (s: string) => void }): Promise<ArchRow[]> {
  const rows: ArchRow[] = [];
  for (const [index, spec] of specs(opts.quick).entries()) {
    const peer = { arch: spec.torchArch, size: spec.size, batch: spec.batch, steps: Math.max(2, spec.steps) };
    const { value: row, torch } = bracketedByTorch(peer, () => measureRowInChild(index, opts), opts.log);
    row.torchMaskImgPerSec = torch.imgPerSec;
    row.torchRuns = torch.runs;
    row.torchNote = torch.note;
    row.ratioVsTorch = torch.imgPerSec && row.maskImgPerSec ? row.maskImgPerSec / torch.imgPerSec : null;
    rows.push(row);
  }
  return rows;
}
