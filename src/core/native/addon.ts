/**
 * Loads the optional N-API addon built from native/ (oneDNN kernels for the 'native' backend).
 * The addon is absent wherever it could not be built (no compiler, no libdnnl-dev, another OS):
 * loadNativeAddon then throws an Error saying why, and the engine falls back to wasm.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { packageRoot } from '../paths';

/** What the compiled addon exports (native/src/piggyback_native.cc). */
export interface NativeAddon {
  info(): { threads: number; adaptive: boolean; onednn: string };
  /** n > 0: always n threads for convolutions; 0: adaptive between 1 and all cores (default). */
  setThreads(n: number): void;
  /** mode 0: out = conv(a=x, b=w); 1: out = dx from (a=dy, b=w); 2: out = dW from (a=x, b=dy). */
  conv(mode: 0 | 1 | 2, a: Float32Array, b: Float32Array, out: Float32Array, dims: Int32Array): void;
  convImpl(mode: 0 | 1 | 2, dims: Int32Array): string;
  gemm(a: Float32Array, b: Float32Array, c: Float32Array, dims: Int32Array): void;
  /** op: 0 add, 1 sub, 2 mul, 3 div; b (or a) may be a suffix-broadcast vector or a scalar. */
  binary(op: 0 | 1 | 2 | 3, a: Float32Array, b: Float32Array, out: Float32Array): void;
  /** op: 0 relu, 1 step (alpha 0), 2 relu6, 3 copy, 4 sqrt, 5 square. */
  unary(op: 0 | 1 | 2 | 3 | 4 | 5, x: Float32Array, out: Float32Array): void;
  /** out = x > 0 ? dy : 0 * dy (NaN x gives NaN): tfjs' mul(dy, step(x)). */
  reluGrad(dy: Float32Array, x: Float32Array, out: Float32Array): void;
  /** out = x >= min && x <= max ? dy : 0 (bounds as float32): tfjs' ClipByValue gradient. */
  clipGrad(dy: Float32Array, x: Float32Array, out: Float32Array, min: number, max: number): void;
  /** The STE forward: binary out = s > t ? w : 0; ternary out = s > t ? w : s < 0 ? -w : 0. */
  maskWeight(w: Float32Array, s: Float32Array, out: Float32Array, threshold: number, ternary: 0 | 1): void;
  /** out = z > 0 && z <= max ? dy * a[c] : 0 (channel-last, C = a.length): ReLU6's and a frozen BN's gradients in one pass. */
  bnClipGrad(dy: Float32Array, z: Float32Array, a: Float32Array, out: Float32Array, max: number): void;
  /** relu 1: relu(batchNorm(x)) in the same pass (the fused frozen BN + ReLU forward). */
  batchNorm(x: Float32Array, mean: Float32Array, variance: Float32Array, offset: Float32Array | null, scale: Float32Array | null, out: Float32Array, eps: number, relu: 0 | 1): void;
  maxPool(x: Float32Array, out: Float32Array, dims: Int32Array): void;
  maxPoolGrad(dy: Float32Array, x: Float32Array, out: Float32Array, dims: Int32Array): void;
  /** op: 0 greater, 1 less, 2 greaterEqual, 3 lessEqual; out gets 0/1. */
  compare(op: 0 | 1 | 2 | 3, a: Float32Array, b: Float32Array, out: Uint8Array): void;
  toF32(src: Uint8Array | Int32Array, out: Float32Array): void;
  /** dims: [rank, ...xShape, ...reps]. */
  tile(x: Float32Array, out: Float32Array, dims: Int32Array): void;
  /** leading 1: out[c] = sum_r x[r,c]; 0: out[r] = sum_c x[r,c]; divisor > 0: sum of x/divisor (Mean). */
  sumAxes(leading: 0 | 1, x: Float32Array, out: Float32Array, dims: Int32Array, divisor: number): void;
  /** out[o, i] = sum_r x[o, r, i] over dims [outer, red, inner]; divisor > 0 as in sumAxes. */
  sumMiddle(x: Float32Array, out: Float32Array, dims: Int32Array, divisor: number): void;
  /** dims: [rank, ...xShape, ...begin, ...size]. */
  slice(x: Float32Array, out: Float32Array, dims: Int32Array): void;
  /** dims: [rank, ...xShape, ...padBefore]; outShape fixes the padding after. */
  pad(x: Float32Array, out: Float32Array, dims: Int32Array, outShape: Int32Array, value: number): void;
  clip(x: Float32Array, out: Float32Array, min: number, max: number): void;
  /**
   * General broadcasting element-wise op; dims: [rank, ...outShape, ...aStrides, ...bStrides]
   * (stride 0 along repeated axes). kind 0: arithmetic (op as in binary) on Float32Arrays;
   * 1: comparison (op as in compare) into a Uint8Array; 2: logical on Uint8Arrays (0 and, 1 or).
   */
  binaryNd(kind: 0 | 1 | 2, op: number, a: Float32Array | Uint8Array, b: Float32Array | Uint8Array, out: Float32Array | Uint8Array, dims: Int32Array): void;
  /** One fused Adam step; params: [beta1, 1-beta1, beta2, 1-beta2, 1-accBeta1, 1-accBeta2, epsilon, -lr]. */
  adam(x: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, outX: Float32Array, outM: Float32Array, outV: Float32Array, params: Float32Array): void;
  /** out[i] = cond[i] === 1 ? t[i] : e[i]. */
  select(cond: Uint8Array, t: Float32Array, e: Float32Array, out: Float32Array): void;
}

export const ADDON_FILE = 'piggyback_native.node';

/**
 * Where the addon is looked for: $PIGGYBACK_NATIVE_ADDON, else <package>/dist/native (the
 * linux-x64 vsix, with its shared libraries beside it), else <package>/native/build/Release
 * (a checkout after npm ci).
 */
export function defaultAddonPath(): string {
  if (process.env.PIGGYBACK_NATIVE_ADDON) return process.env.PIGGYBACK_NATIVE_ADDON;
  const packaged = path.join(packageRoot(), 'dist', 'native', ADDON_FILE);
  return fs.existsSync(packaged) ? packaged : path.join(packageRoot(), 'native', 'build', 'Release', ADDON_FILE);
}

const loaded = new Map<string, NativeAddon>();

/** Loads (once per path) and sanity-checks the addon; throws an Error with the reason if it cannot. */
export function loadNativeAddon(addonPath = defaultAddonPath()): NativeAddon {
  const p = path.resolve(addonPath);
  const cached = loaded.get(p);
  if (cached) return cached;
  if (!fs.existsSync(p)) {
    throw new Error(`the native addon is not built (no ${p}; run \`npm run build:native\`, which needs a C++ compiler and libdnnl-dev)`);
  }
  // OpenMP threads that finish a parallel region sleep instead of spinning (unless the user chose
  // otherwise). libgomp reads this once, when the addon loads it. With the default spin-then-sleep,
  // a machine whose cores other processes also use ran every convolution ~10x slower at 2 threads
  // (MobileNetV2 32 px: 14 img/s vs 195 passive, load 3 on 2 cores), since a spinning thread holds
  // the core its descheduled partner needs to reach the barrier; on an idle machine waking the
  // sleeping threads costs microseconds per convolution.
  if (process.env.OMP_WAIT_POLICY === undefined) process.env.OMP_WAIT_POLICY = 'passive';
  let mod: NativeAddon;
  try {
    // A computed path: bundlers leave this require alone.
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    mod = require(p) as NativeAddon;
  } catch (e) {
    const m = (e instanceof Error ? e.message : String(e)).split('\n')[0].trim();
    throw new Error(`the native addon failed to load: ${m}`);
  }
  if (typeof mod?.conv !== 'function' || typeof mod.info !== 'function') {
    throw new Error(`${p} is not the piggyback native addon (or is out of date: run \`npm run build:native\`)`);
  }
  mod.info();
  loaded.set(p, mod);
  return mod;
}
