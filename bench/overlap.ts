/**
 * Benchmark: all-pairs mask overlap (Jaccard + Hamming, per layer and overall) for
 * 10 tasks on a ResNet-50-sized backbone (~25.5M masked weights in 54 layers), computed
 * on bit-packed masks exactly as the inspector does (src/core/project/analytics.ts).
 *
 *   npx tsx bench/overlap.ts        -> prints {"overlapMs":..,"tasks":10,"weights":..}
 */
import { packBinary } from '../src/core/project/bitpack';
import { computeOverlap, type PackedMask } from '../src/core/project/analytics';

/** Masked layer sizes of ResNet-50 (conv kernels + the 1000-way fc), in order. */
export function resnet50LayerSizes(): number[] {
  const sizes = [7 * 7 * 3 * 64];
  let cin = 64;
  for (const [blocks, mid, out] of [[3, 64, 256], [4, 128, 512], [6, 256, 1024], [3, 512, 2048]]) {
    for (let b = 0; b < blocks; b++) {
      sizes.push(cin * mid, 3 * 3 * mid * mid, mid * out);
      if (b === 0) sizes.push(cin * out); // projection shortcut
      cin = out;
    }
  }
  sizes.push(2048 * 1000);
  return sizes;
}

/** Random 0/1 mask with P(kept) = keep, from a fast xorshift generator (4 entries per draw). */
function randomMask(n: number, keep: number, state: { s: number }): Uint8Array {
  const m = new Uint8Array(n);
  const thr = Math.round(keep * 256);
  let s = state.s;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    s ^= s << 13; s ^= s >>> 17; s ^= s << 5;
    m[i] = (s & 0xff) < thr ? 1 : 0;
    m[i + 1] = ((s >>> 8) & 0xff) < thr ? 1 : 0;
    m[i + 2] = ((s >>> 16) & 0xff) < thr ? 1 : 0;
    m[i + 3] = (s >>> 24) < thr ? 1 : 0;
  }
  for (; i < n; i++) {
    s ^= s << 13; s ^= s >>> 17; s ^= s << 5;
    m[i] = (s & 0xff) < thr ? 1 : 0;
  }
  state.s = s;
  return m;
}

export interface OverlapBenchResult {
  /** Median wall time of one computeOverlap over all tasks, per layer + overall. */
  overlapMs: number;
  /** Median CPU time of the same (steadier than wall time on a busy machine). */
  overlapCpuMs: number;
  tasks: number;
  weights: number;
  layers: number;
  runsMs: number[];
}

/** Packs `tasks` random ResNet-50-sized masks (30-60% sparsity per layer) and times computeOverlap (median of `runs`). */
export async function benchOverlap(opts: { tasks?: number; runs?: number } = {}): Promise<OverlapBenchResult> {
  const T = opts.tasks ?? 10;
  const runs = opts.runs ?? 7;
  const sizes = resnet50LayerSizes();
  const weights = sizes.reduce((a, b) => a + b, 0);
  const state = { s: 0x9e3779b9 | 0 };
  const packed: PackedMask[][] = [];
  for (let t = 0; t < T; t++) {
    packed.push(sizes.map((n) => {
      const sparsity = 0.3 + 0.3 * ((state.s >>> 0) / 2 ** 32); // per layer, 30-60% switched off
      return packBinary(randomMask(n, 1 - sparsity, state));
    }));
  }
  computeOverlap(packed); // warm-up (JIT)
  const runsMs: number[] = [];
  const cpuMs: number[] = [];
  for (let r = 0; r < runs; r++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    computeOverlap(packed);
    runsMs.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpuMs.push((c.user + c.system) / 1000);
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const r1 = (x: number) => Math.round(x * 10) / 10;
  return {
    overlapMs: r1(median(runsMs)), overlapCpuMs: r1(median(cpuMs)), tasks: T, weights, layers: sizes.length, runsMs: runsMs.map(r1),
  };
}

if (require.main === module) {
  benchOverlap().then((r) => {
    console.log(JSON.stringify({ overlapMs: r.overlapMs, tasks: r.tasks, weights: r.weights, overlapCpuMs: r.overlapCpuMs }));
    console.error(`(${r.layers} layers; runs ms: ${r.runsMs.join(', ')})`);
  });
}
