/**
 * `piggyback bench`: speed and memory of the engine on the reference CNN at batch 64 and on the
 * architecture matrix (benchMatrix.ts), each row in its own child process, next to PyTorch
 * running the same mask-training step on the same CPU in the same run (when Debian's
 * python3-torch is installed), plus the pairwise-overlap analytics on ResNet-50-sized masks.
 * Ratios within one run are what to compare: absolute numbers move with machine load.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initBackend, type BackendName, type BackendPreference } from '../core/backend';
import { benchOverlap } from '../../bench/overlap';
import { benchArchitectures, bracketedByTorch, gemmPeakGflops, jsonFromChild, type ArchRow } from './benchMatrix';
import { REFERENCE_BATCH, type ReferenceMeasure } from './benchReference';

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
  /** 1-minute load average at the start and the end of the run (compare ratios, know the load). */
  loadAverage: { start: number; end: number };
  /** fp32 GEMM (1024^3) on the measured backend, GFLOP/s: the machine's practical peak. */
  gemmPeakGflops: number | null;
  /** One row per architecture and input size, the reference CNN first (see benchMatrix.ts). */
  rows: ArchRow[];
  /** Mask training on a folder of N JPEGs at 224 px in its own process (bench/image-folder-memory.ts), or null when skipped. */
  imageFolderMemory: Record<string, unknown> | null;
  /** Threshold what-if move (median of 6) and one CKA pair on the reference CNN (ms), or null when skipped. */
  analysis: { rethresholdMs: number; ckaMs: number; probeImages: number } | null;
}

/**
 * The explorer's analyses on the reference CNN: one threshold what-if step (re-binarise from
 * scores.bin and re-evaluate a 512-image probe; the probe is cached after the first call, as
 * the slider does) and linear CKA for one pair of tasks over all masked layers.
 */
async function analysisTimings(backend: string, log: (s: string) => void): Promise<{ rethresholdMs: number; ckaMs: number; probeImages: number } | null> {
  const engine = await import('../core/engine');
  const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'pb-bench-analysis-')), 'p');
  try {
    await engine.createProject({ projectDir: dir, modelPath: 'reference-cnn', backend: backend as BackendPreference });
    const opts = { epochs: 1, batchSize: 64, lrMask: 1e-3, lrHead: 1e-2, lrDecayEvery: 0 };
    for (const [task, seed] of [['a', 1], ['b', 2]] as const) {
      await engine.trainTask({ projectDir: dir, task, dataset: 'mnist', trainPerClass: 570, testLimit: 100, options: { ...opts, seed }, backend: backend as BackendPreference });
    }
    // The what-if runs in a fresh process, as in the extension's analysis worker: measured in this
    // one after the architecture matrix (GBs allocated, a 224 px MobileNetV2 run) a move took
    // 439 ms where a fresh process takes ~250 ms.
    const move = whatIfMove(backend);
    const t1 = performance.now();
    await engine.taskSimilarity({ projectDir: dir, taskA: 'a', taskB: 'b', probeLimit: 256, backend: backend as BackendPreference });
    const ckaMs = performance.now() - t1;
    if (!move) throw new Error('the what-if child process failed');
    log(`threshold what-if on ${move.probeImages} probe images: median ${move.medianMoveMs} ms of 6 moves (${move.moveMs.join(', ')}); CKA for one pair, all layers: ${ckaMs.toFixed(0)} ms`);
    return { rethresholdMs: move.medianMoveMs, ckaMs, probeImages: move.probeImages };
  } catch (e) {
    log(`analysis timings skipped: ${e instanceof Error ? e.message : String(e)}`);
    return null;
  } finally {
    fs.rmSync(path.dirname(dir), { recursive: true, force: true });
  }
}

/** bench/whatif-move.ts in a child process: a slider move's median of 6, and its phases (null when it fails). */
function whatIfMove(backend: string): { probeImages: number; moveMs: number[]; medianMoveMs: number } | null {
  try {
    return jsonFromChild('whatif-move', ['--backend', backend], () => {});
  } catch {
    return null;
  }
}

/** Runs bench/image-folder-memory.ts in a child process, so the peak RSS it reports is its own. */
function imageFolderMemory(quick: boolean, backend: string, log: (s: string) => void): Record<string, unknown> | null {
  const args = ['--images', quick ? '5000' : '50000', '--size', '224', '--steps', quick ? '1' : '2', '--batch', '8', '--backend', backend];
  let j: Record<string, unknown>;
  try {
    j = jsonFromChild<Record<string, unknown>>('image-folder-memory', args, () => {});
  } catch (e) {
    log(`image-folder memory: skipped (${e instanceof Error ? e.message : String(e)})`);
    return null;
  }
  log(`${j.images} JPEGs at 224 px, read per batch: peak RSS ${Number(j.peakRssMb).toFixed(0)} MB (float32 in memory would be ${Number(j.float32WouldBeMb).toFixed(0)} MB)`);
  return j;
}

export async function runBench(opts: { quick: boolean; backend: BackendPreference; matrix?: boolean; log: (s: string) => void }): Promise<BenchResult> {
  const loadStart = os.loadavg()[0];
  // Analytics first, on a fresh heap, as the inspector runs them (in a process that is not
  // training): after the training runs, the leftover heap and array pools made it ~2x noisier.
  const overlap = await benchOverlap({ runs: opts.quick ? 2 : 5 });
  opts.log(`overlap of 10 ResNet-50-sized masks: ${overlap.overlapMs.toFixed(1)} ms`);
  // The reference CNN in its own process, as every architecture row (see benchReference.ts),
  // between two runs of its PyTorch peer.
  const peer = { arch: 'reference', size: 28, batch: REFERENCE_BATCH, steps: opts.quick ? 5 : 30 };
  const { value: ref, torch } = bracketedByTorch(peer, () => jsonFromChild<ReferenceMeasure>('reference-row', ['--backend', opts.backend, ...(opts.quick ? ['--quick'] : [])], opts.log), opts.log);
  const info = await initBackend(ref.backendName as BackendName);
  opts.log(`backend: ${info.detail}`);
  const steps = ref.steps;
  const wasmMaskImgPerSec = ref.wasmMaskImgPerSec;

  const peak = gemmPeakGflops();
  opts.log(`fp32 GEMM peak on ${info.detail}: ${peak.toFixed(1)} GFLOP/s`);
  const referenceRow: ArchRow = {
    arch: 'reference-cnn', size: 28, batchSize: REFERENCE_BATCH, steps, maskedWeights: ref.maskedWeights, forwardGflopsPerImage: ref.forwardFlopsPerImage / 1e9,
    backends: [
      { backend: ref.backend, maskImgPerSec: ref.maskImgPerSec, note: null },
      ...(wasmMaskImgPerSec === null ? [] : [{ backend: 'wasm', maskImgPerSec: wasmMaskImgPerSec, note: null }]),
    ],
    bestBackend: ref.backend, maskImgPerSec: ref.maskImgPerSec, finetuneImgPerSec: ref.finetuneImgPerSec, evalImgPerSec: ref.evalImgPerSec,
    torchMaskImgPerSec: torch.imgPerSec, torchRuns: torch.runs, torchNote: torch.note, ratioVsTorch: torch.imgPerSec ? ref.maskImgPerSec / torch.imgPerSec : null,
    fractionOfPeak: (ref.maskImgPerSec * 3 * ref.forwardFlopsPerImage) / 1e9 / peak, peakRssMb: ref.peakRssMb,
  };
  // The networks researchers bring: every backend that loads, the measured one first.
  const others: BackendName[] = (['native', 'wasm', 'tensorflow'] as BackendName[]).filter((b) => b !== info.name);
  const rows = opts.matrix === false ? [] : await benchArchitectures({ quick: opts.quick, backends: [info.name, ...others], peakGflops: peak, log: opts.log });
  await initBackend(info.name);
  const folder = opts.matrix === false ? null : imageFolderMemory(opts.quick, info.name, opts.log);
  const analysis = await analysisTimings(info.name, opts.log);
  await initBackend(info.name);

  return {
    backend: ref.backend,
    batchSize: REFERENCE_BATCH,
    steps,
    maskImgPerSec: ref.maskImgPerSec,
    finetuneImgPerSec: ref.finetuneImgPerSec,
    maskVsFinetune: ref.maskImgPerSec / ref.finetuneImgPerSec,
    evalImgPerSec: ref.evalImgPerSec,
    backendFallbackReason: ref.fallbackReason,
    wasmMaskImgPerSec,
    speedupVsWasm: wasmMaskImgPerSec ? ref.maskImgPerSec / wasmMaskImgPerSec : null,
    torchMaskImgPerSec: torch.imgPerSec,
    torchThreads: torch.threads,
    torchBlas: torch.blas,
    torchNote: torch.note,
    ratioVsTorch: torch.imgPerSec ? ref.maskImgPerSec / torch.imgPerSec : null,
    overlapMs: overlap.overlapMs,
    peakRssMb: ref.peakRssMb,
    tensorsLeakedPerStep: ref.tensorsLeakedPerStep,
    loadAverage: { start: loadStart, end: os.loadavg()[0] },
    gemmPeakGflops: peak,
    rows: [referenceRow, ...rows],
    imageFolderMemory: folder,
    analysis,
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
    `fp32 GEMM peak              ${f(r.gemmPeakGflops)} GFLOP/s; load average ${f(r.loadAverage.start, 2)} -> ${f(r.loadAverage.end, 2)}`,
    ...(r.analysis ? [`threshold what-if          ${f(r.analysis.rethresholdMs, 0)} ms per move (${r.analysis.probeImages} probe images); CKA one pair ${f(r.analysis.ckaMs, 0)} ms`] : []),
    ...(r.imageFolderMemory ? [`${r.imageFolderMemory.images} JPEGs, 224 px    peak RSS ${f(Number(r.imageFolderMemory.peakRssMb), 0)} MB (MobileNetV2 mask training, read per batch)`] : []),
    '',
    'arch           px  batch steps  best backend             mask img/s  per backend                 fine-tune  infer   PyTorch  ratio  peak',
    ...r.rows.map((x) =>
      [
        x.arch.padEnd(13), String(x.size).padStart(4), String(x.batchSize).padStart(6), String(x.steps).padStart(5), ` ${x.bestBackend.slice(0, 24).padEnd(24)}`,
        f(x.maskImgPerSec).padStart(10),
        `  ${x.backends.map((b) => `${b.backend.split(' ')[0]} ${b.maskImgPerSec === null ? '-' : f(b.maskImgPerSec)}`).join(', ').padEnd(26)}`,
        f(x.finetuneImgPerSec).padStart(9), f(x.evalImgPerSec).padStart(7), (x.torchMaskImgPerSec === null ? '-' : f(x.torchMaskImgPerSec)).padStart(9),
        f(x.ratioVsTorch, 2).padStart(6), x.fractionOfPeak === null ? '     -' : `${(100 * x.fractionOfPeak).toFixed(0).padStart(5)}%`,
      ].join(' '),
    ),
  ].join('\n');
}
