/**
 * The 'native' TF.js backend: an instance of the pure-JS cpu backend (tensors are JS
 * TypedArrays) whose hot kernels run in the N-API addon (oneDNN convolutions, depthwise ones
 * included, and GEMM; element-wise, broadcasting, pad/slice, reductions, split over the cores
 * when large), zero-copy on those arrays. Every other kernel, and every case a native kernel does
 * not cover (NCHW, int dtypes, ranks over 8), runs the cpu backend's own JS kernel, so results
 * match the cpu backend op for op. Three fused kernels replace multi-kernel expressions with the
 * same values: the gradients of Relu and ClipByValue (registerFusedGradients) and Adam's update
 * (src/core/train/adam.ts). nativeStats counts what ran where (test/unit/native-dispatch).
 */
import * as os from 'node:os';
import { tf } from '../tf';
import type { NativeAddon } from './addon';
import { FUSED_ADAM_KERNEL } from '../train/adam';
import { BN_CLIP_GRAD_KERNEL, BN_RELU_KERNEL } from '../model/fusedOps';
import { MASK_WEIGHT_KERNEL } from '../model/ste';

export const NATIVE_BACKEND = 'native';

type Info = tf.TensorInfo;
type KernelArgs = Parameters<tf.KernelFunc>[0];
type CpuLike = tf.KernelBackend & {
  data: { get(id: unknown): { values?: unknown } | undefined; has(id: unknown): boolean };
  makeTensorInfo(shape: number[], dtype: tf.DataType, values?: tf.backend_util.BackendValues): Info;
  firstUse?: boolean;
};
type Conv2DInfo = ReturnType<typeof tf.backend_util.computeConv2DInfo>;

/** The kernels replaced natively (each falls back to the cpu kernel outside what it covers). */
export const NATIVE_KERNELS = [
  'Conv2D',
  'Conv2DBackpropInput',
  'Conv2DBackpropFilter',
  'FusedConv2D',
  'DepthwiseConv2dNative',
  'DepthwiseConv2dNativeBackpropInput',
  'DepthwiseConv2dNativeBackpropFilter',
  'FusedDepthwiseConv2D',
  'BatchMatMul',
  '_FusedMatMul',
  'Add',
  'Sub',
  'Multiply',
  'RealDiv',
  'Relu',
  'Step',
  'FusedBatchNorm',
  'MaxPool',
  'MaxPoolGrad',
  'Tile',
  'Sum',
  'Mean',
  'Greater',
  'Less',
  'GreaterEqual',
  'LessEqual',
  'Sqrt',
  'Square',
  'Slice',
  'PadV2',
  'ClipByValue',
  'LogicalAnd',
  'LogicalOr',
  'Select',
  'ZerosLike',
  'OnesLike',
] as const;

/**
 * Counts of native vs fallback executions per kernel (tests check the native path ran), and of
 * every execution of a JS cpu kernel, native ones' fallbacks included (js), with the largest
 * output it computed (jsLargest, elements; outputs that only re-label an input's data, such as
 * Reshape or a lossless Cast, count 0).
 */
export const nativeStats = {
  native: new Map<string, number>(),
  fallback: new Map<string, number>(),
  js: new Map<string, number>(),
  jsLargest: new Map<string, number>(),
};
function count(m: Map<string, number>, k: string): void {
  m.set(k, (m.get(k) ?? 0) + 1);
}

/** Clears nativeStats. */
export function resetNativeStats(): void {
  for (const m of Object.values(nativeStats)) m.clear();
}

function countJs(name: string, inputs: tf.NamedTensorInfoMap, result: Info | Info[]): void {
  count(nativeStats.js, name);
  let largest = 0;
  for (const o of Array.isArray(result) ? result : [result]) {
    if (!o) continue;
    let shared = false;
    for (const k in inputs) if (inputs[k]?.dataId === o.dataId) shared = true;
    if (!shared) largest = Math.max(largest, o.shape.reduce((a, b) => a * b, 1));
  }
  nativeStats.jsLargest.set(name, Math.max(nativeStats.jsLargest.get(name) ?? 0, largest));
}

let registeredWith: NativeAddon | null = null;

/**
 * Output arrays of the native kernels are recycled. A fresh large Float32Array costs far more than
 * the element-wise kernel that fills it (zero-fill, page faults, GC: ~3 ms vs ~0.3 ms for 6 MB,
 * measured), and a training step makes dozens of them. An array goes back to the pool only when
 * its tensor data is freed (refcount 0) and nothing else can still see it: arrays handed out by
 * readSync/read (dataSync(), data(), moves to another backend) and arrays a JS kernel aliased into
 * another tensor (e.g. Slice's subarray views) are marked exposed and left to the GC.
 * Float32Arrays and the Uint8Arrays of bool outputs (comparisons, logical ops) are pooled apart.
 */
class BufferPool {
  private readonly free = new Map<number, Float32Array[]>();
  private readonly freeU8 = new Map<number, Uint8Array[]>();
  /** Buffers of arrays we handed out that are still safe to recycle once their tensor dies. */
  private readonly owned = new WeakSet<ArrayBufferLike>();
  private bytes = 0;
  constructor(private readonly capBytes: number, private readonly minLength: number) {}

  take(n: number): Float32Array {
    if (n < this.minLength) return new Float32Array(n);
    let a = this.free.get(n)?.pop();
    if (a) this.bytes -= a.byteLength;
    else a = new Float32Array(n);
    this.owned.add(a.buffer);
    return a;
  }

  takeU8(n: number): Uint8Array {
    if (n < this.minLength) return new Uint8Array(n);
    let a = this.freeU8.get(n)?.pop();
    if (a) this.bytes -= a.byteLength;
    else a = new Uint8Array(n);
    this.owned.add(a.buffer);
    return a;
  }

  /** The array may be referenced outside the backend from now on: never recycle it. */
  expose(v: unknown): void {
    if (ArrayBuffer.isView(v)) this.owned.delete(v.buffer);
  }

  isOwned(v: unknown): boolean {
    return ArrayBuffer.isView(v) && this.owned.has(v.buffer);
  }

  /** Its tensor data was freed. */
  give(v: unknown): void {
    const f32 = v instanceof Float32Array;
    if (!(f32 || v instanceof Uint8Array) || !this.owned.has(v.buffer)) return;
    this.owned.delete(v.buffer);
    if (v.byteOffset !== 0 || v.byteLength !== v.buffer.byteLength) return;
    if (this.bytes + v.byteLength > this.capBytes) return;
    if (f32) {
      let list = this.free.get(v.length);
      if (!list) this.free.set(v.length, (list = []));
      list.push(v);
    } else {
      let list = this.freeU8.get(v.length);
      if (!list) this.freeU8.set(v.length, (list = []));
      list.push(v);
    }
    this.bytes += v.byteLength;
  }
}

/**
 * What the pool may hold between uses: $PIGGYBACK_NATIVE_POOL_MB, else 1/4 of the RAM within
 * [256 MB, 4 GB]. A training step's activations are all freed at its end and all needed again by
 * the next one; when they exceed the cap the rest is re-allocated every step, page faults and all
 * (MobileNetV2 at 96 px, batch 32: ~400 MB of activations, a 256 MB cap halved the img/s; at 224
 * px, batch 16, a 1 GB cap left ClipByValue on a fresh 77 MB array at 4 GB/s and the step at
 * 21 img/s, a 4 GB cap 32-36 img/s). The pool holds what a step frees for the next, so in a
 * training loop it does not raise the peak (224 px, batch 16: peak RSS 1.88 GB with the 4 GB cap,
 * 1.94 GB with 1 GB). Evaluation frees each layer's activations as it goes, so it adds little.
 */
function poolCapBytes(): number {
  const env = Number(process.env.PIGGYBACK_NATIVE_POOL_MB);
  if (Number.isFinite(env) && env >= 0 && process.env.PIGGYBACK_NATIVE_POOL_MB?.trim()) return env * 2 ** 20;
  return Math.min(4 * 2 ** 30, Math.max(256 * 2 ** 20, os.totalmem() / 4));
}

const pool = new BufferPool(poolCapBytes(), 4096);

/** Outputs of a JS (cpu) kernel that alias a pooled array under a new dataId: mark them exposed. */
function exposeAliases(backend: CpuLike, inputs: tf.NamedTensorInfoMap, result: Info | Info[]): void {
  const outs = Array.isArray(result) ? result : [result];
  for (const o of outs) {
    if (!o) continue;
    let shared = false;
    for (const k in inputs) if (inputs[k]?.dataId === o.dataId) shared = true;
    if (shared) continue; // same data, refcounted by the backend: safe
    const d = backend.data.get(o.dataId);
    if (d && pool.isOwned(d.values)) pool.expose(d.values);
  }
}

/** The float32 values of a tensor, or null (other dtypes, complex). */
function f32(backend: CpuLike, t: Info | undefined, addon?: NativeAddon): Float32Array | null {
  if (!t || t.dtype !== 'float32') return null;
  const v = backend.data.get(t.dataId)?.values;
  if (v instanceof Float32Array) return v;
  // A float32 tensor made by a lossless cast (bool/int32 -> float32) shares the source's array.
  if (addon && (v instanceof Uint8Array || v instanceof Int32Array)) {
    const o = new Float32Array(v.length);
    addon.toF32(v, o);
    return o;
  }
  return null;
}

const size = (shape: number[]): number => shape.reduce((a, b) => a * b, 1);

/** The 18 conv dims the addon takes, or null when oneDNN cannot express the padding. */
function convDims(ci: Conv2DInfo, groups: number): Int32Array | null {
  if (ci.dataFormat !== 'channelsLast') return null;
  const { top, left } = ci.padInfo;
  // Padding after the input: negative when a strided window never reaches the last rows (e.g. a
  // 1x1 stride-2 conv on an even size). oneDNN takes 0 there if its floor division gives the same
  // output size; it computes exactly the windows tfjs does.
  const after = (inSize: number, outSize: number, stride: number, eff: number, before: number): number => {
    const p = (outSize - 1) * stride + eff - inSize - before;
    if (p >= 0) return p;
    return Math.floor((inSize + before - eff) / stride) + 1 === outSize ? 0 : -1;
  };
  const bottom = after(ci.inHeight, ci.outHeight, ci.strideHeight, ci.effectiveFilterHeight, top);
  const right = after(ci.inWidth, ci.outWidth, ci.strideWidth, ci.effectiveFilterWidth, left);
  if (top < 0 || left < 0 || bottom < 0 || right < 0) return null;
  if (ci.outHeight <= 0 || ci.outWidth <= 0 || ci.batchSize <= 0 || ci.inChannels <= 0 || ci.outChannels <= 0) return null;
  return Int32Array.from([
    ci.batchSize, ci.inHeight, ci.inWidth, ci.inChannels,
    ci.filterHeight, ci.filterWidth, ci.outChannels, ci.outHeight, ci.outWidth,
    ci.strideHeight, ci.strideWidth, ci.dilationHeight, ci.dilationWidth,
    top, left, bottom, right, groups,
  ]);
}

function poolDims(ci: Conv2DInfo): Int32Array | null {
  if (ci.dataFormat !== 'channelsLast') return null;
  return Int32Array.from([
    ci.batchSize, ci.inHeight, ci.inWidth, ci.inChannels,
    ci.effectiveFilterHeight, ci.effectiveFilterWidth, ci.outHeight, ci.outWidth,
    ci.strideHeight, ci.strideWidth, 1, 1, ci.padInfo.top, ci.padInfo.left,
  ]);
}

/** b (its shape without leading 1s) repeats along out's leading axes, or is a scalar. */
function suffixOf(shape: number[], out: number[]): boolean {
  let s = shape;
  while (s.length && s[0] === 1) s = s.slice(1);
  if (s.length > out.length) return false;
  const tail = out.slice(out.length - s.length);
  return s.every((d, i) => d === tail[i]);
}

/**
 * General broadcasting of a and b to out: [rank, ...shape, ...aStrides, ...bStrides] with
 * stride 0 along axes an operand repeats, size-1 axes dropped and axes merged where both
 * operands stay contiguous. null when the shapes do not broadcast to out.
 */
function broadcastDims(aShape: number[], bShape: number[], out: number[]): Int32Array | null {
  const r = out.length;
  const strides = (shape: number[]): number[] | null => {
    if (shape.length > r) return null;
    const full = [...new Array(r - shape.length).fill(1), ...shape];
    const st = new Array<number>(r);
    let s = 1;
    for (let i = r - 1; i >= 0; i--) {
      if (full[i] !== out[i] && full[i] !== 1) return null;
      st[i] = full[i] === 1 ? 0 : s;
      s *= full[i];
    }
    return st;
  };
  const sa = strides(aShape);
  const sb = strides(bShape);
  if (!sa || !sb) return null;
  const dims: Array<[number, number, number]> = [];
  for (let i = 0; i < r; i++) {
    if (out[i] === 1) continue;
    const last = dims[dims.length - 1];
    if (last && last[1] === sa[i] * out[i] && last[2] === sb[i] * out[i]) {
      last[0] *= out[i];
      last[1] = sa[i];
      last[2] = sb[i];
    } else {
      dims.push([out[i], sa[i], sb[i]]);
    }
  }
  if (dims.length === 0) dims.push([1, 0, 0]);
  return Int32Array.from([dims.length, ...dims.map((d) => d[0]), ...dims.map((d) => d[1]), ...dims.map((d) => d[2])]);
}

const COMPARE_OPS: Record<string, 0 | 1 | 2 | 3> = { Greater: 0, Less: 1, GreaterEqual: 2, LessEqual: 3 };

const BINARY_OPS: Record<string, 0 | 1 | 2 | 3> = { Add: 0, Sub: 1, Multiply: 2, RealDiv: 3 };

/** Activation after a fused op: only what the addon does exactly like the cpu backend. */
function activationOp(act: string | undefined, prelu: Info | undefined): 'none' | 'relu' | 'relu6' | null {
  if (prelu) return null;
  if (!act || act === 'linear') return 'none';
  if (act === 'relu') return 'relu';
  if (act === 'relu6') return 'relu6';
  return null;
}

function buildKernels(addon: NativeAddon, cpu: (name: string) => tf.KernelFunc): Record<string, tf.KernelFunc> {
  const fallback = (name: string, args: KernelArgs): Info | Info[] => {
    const r = cpu(name)(args) as Info | Info[];
    exposeAliases(args.backend as CpuLike, args.inputs, r);
    countJs(name, args.inputs, r);
    count(nativeStats.fallback, process.env.PIGGYBACK_NATIVE_DEBUG ? `${name} ${Object.values(args.inputs).map((t) => (t ? `${t.dtype}${JSON.stringify(t.shape)}` : "-")).join("x")}` : name);
    return r;
  };
  const alloc = (n: number): Float32Array => pool.take(n);
  // FusedBatchNorm (relu 0) and the fused BN + ReLU (relu 1, which has no JS kernel to fall back to).
  const batchNorm = (name: string, args: Parameters<tf.KernelFunc>[0], relu: 0 | 1): ReturnType<tf.KernelFunc> => {
    const be = args.backend as CpuLike;
    const { x, mean, variance, offset, scale } = args.inputs as Record<string, Info>;
    const xv = f32(be, x, addon);
    const mv = f32(be, mean, addon);
    const vv = f32(be, variance, addon);
    const ov = offset ? f32(be, offset, addon) : null;
    const sv = scale ? f32(be, scale, addon) : null;
    const c = x.shape[x.shape.length - 1] ?? 1;
    const ok = (v: Float32Array | null) => v !== null && (v.length === 1 || v.length === c);
    // Parameters shorter than C repeat with period = their length in the cpu kernel: only
    // lengths 1 and C mean the same thing here, and C must be the longest.
    if (!xv || !ok(mv) || !ok(vv) || (offset && !ok(ov)) || (scale && !ok(sv))) {
      if (relu) throw new Error(`${name}: expected float32 x and per-channel (or scalar) float32 parameters`);
      return fallback(name, args);
    }
    const o = alloc(xv.length);
    addon.batchNorm(xv, mv as Float32Array, vv as Float32Array, ov, sv, o, (args.attrs as { varianceEpsilon?: number }).varianceEpsilon ?? 0.001, relu);
    return done(name, be, x.shape, o);
  };
  /** A fused kernel over two float32 inputs of one shape, with an output of that shape. */
  const pairKernel = (name: string, first: string, second: string, run: (a: Float32Array, b: Float32Array, out: Float32Array, attrs: Record<string, unknown>) => void): tf.KernelFunc => (args) => {
    const be = args.backend as CpuLike;
    const ins = args.inputs as Record<string, Info>;
    const av = f32(be, ins[first], addon);
    const bv = f32(be, ins[second], addon);
    if (!av || !bv || av.length !== bv.length) throw new Error(`${name}: expected float32 ${first} and ${second} of one shape`);
    const o = alloc(av.length);
    run(av, bv, o, (args.attrs ?? {}) as Record<string, unknown>);
    return done(name, be, ins[first].shape, o);
  };
  const done = (name: string, b: CpuLike, shape: number[], out: Float32Array): Info => {
    count(nativeStats.native, name);
    return b.makeTensorInfo(shape, 'float32', out);
  };

  /** y = bias/activation epilogue in place (fused convs and matmuls). */
  const epilogue = (b: CpuLike, y: Float32Array, outShape: number[], bias: Info | undefined, act: 'none' | 'relu' | 'relu6'): boolean => {
    if (bias) {
      const bv = f32(b, bias, addon);
      if (!bv || !suffixOf(bias.shape, outShape)) return false;
      addon.binary(0, y, bv, y);
    }
    if (act === 'relu') addon.unary(0, y, y);
    else if (act === 'relu6') addon.unary(2, y, y);
    return true;
  };

  const conv = (name: string, depthwise: boolean, fused: boolean) => (args: KernelArgs): Info | Info[] => {
    const b = args.backend as CpuLike;
    const { x, filter, bias, preluActivationWeights } = args.inputs as Record<string, Info>;
    const a = args.attrs as unknown as { strides: number | [number, number]; pad: never; dataFormat?: 'NHWC' | 'NCHW'; dilations?: number | [number, number]; dimRoundingMode?: never; activation?: string };
    const xv = f32(b, x, addon);
    const wv = f32(b, filter, addon);
    const act = fused ? activationOp(a.activation, preluActivationWeights) : 'none';
    if (!xv || !wv || act === null || (a.dataFormat ?? 'NHWC') !== 'NHWC') return fallback(name, args);
    const ci = tf.backend_util.computeConv2DInfo(x.shape as never, filter.shape as never, a.strides, a.dilations ?? 1, a.pad, a.dimRoundingMode, depthwise);
    const dims = convDims(ci, depthwise ? ci.inChannels : 1);
    if (!dims) return fallback(name, args);
    const y = alloc(size(ci.outShape));
    addon.conv(0, xv, wv, y, dims);
    if (fused && !epilogue(b, y, ci.outShape, bias, act)) return fallback(name, args);
    return done(name, b, ci.outShape, y);
  };

  const convBackpropInput = (name: string, depthwise: boolean) => (args: KernelArgs): Info | Info[] => {
    const b = args.backend as CpuLike;
    const { dy, filter } = args.inputs as Record<string, Info>;
    const a = args.attrs as unknown as { strides: number | [number, number]; pad: never; dataFormat?: 'NHWC' | 'NCHW'; dilations?: number | [number, number]; dimRoundingMode?: never; inputShape: [number, number, number, number] };
    const dyv = f32(b, dy, addon);
    const wv = f32(b, filter, addon);
    if (!dyv || !wv || (a.dataFormat ?? 'NHWC') !== 'NHWC') return fallback(name, args);
    const ci = tf.backend_util.computeConv2DInfo(a.inputShape, filter.shape as never, a.strides, a.dilations ?? 1, a.pad, a.dimRoundingMode, depthwise);
    const dims = convDims(ci, depthwise ? ci.inChannels : 1);
    if (!dims || size(ci.outShape) !== size(dy.shape)) return fallback(name, args);
    const dx = alloc(size(a.inputShape));
    addon.conv(1, dyv, wv, dx, dims);
    return done(name, b, a.inputShape, dx);
  };

  const convBackpropFilter = (name: string, depthwise: boolean) => (args: KernelArgs): Info | Info[] => {
    const b = args.backend as CpuLike;
    const { x, dy } = args.inputs as Record<string, Info>;
    const a = args.attrs as unknown as { strides: number | [number, number]; pad: never; dataFormat?: 'NHWC' | 'NCHW'; dilations?: number | [number, number]; dimRoundingMode?: never; filterShape: [number, number, number, number] };
    const xv = f32(b, x, addon);
    const dyv = f32(b, dy, addon);
    if (!xv || !dyv || (a.dataFormat ?? 'NHWC') !== 'NHWC') return fallback(name, args);
    const ci = tf.backend_util.computeConv2DInfo(x.shape as never, a.filterShape, a.strides, a.dilations ?? 1, a.pad, a.dimRoundingMode, depthwise);
    const dims = convDims(ci, depthwise ? ci.inChannels : 1);
    if (!dims || size(ci.outShape) !== size(dy.shape)) return fallback(name, args);
    const dw = alloc(size(a.filterShape));
    addon.conv(2, xv, dyv, dw, dims);
    return done(name, b, a.filterShape, dw);
  };

  const matMul = (name: string, fused: boolean) => (args: KernelArgs): Info | Info[] => {
    const be = args.backend as CpuLike;
    const { a, b, bias, preluActivationWeights } = args.inputs as Record<string, Info>;
    const { transposeA = false, transposeB = false, activation } = args.attrs as { transposeA?: boolean; transposeB?: boolean; activation?: string };
    const av = f32(be, a, addon);
    const bv = f32(be, b, addon);
    const act = fused ? activationOp(activation, preluActivationWeights) : 'none';
    if (!av || !bv || act === null || a.shape.length < 2 || b.shape.length < 2) return fallback(name, args);
    const ra = a.shape.length;
    const rb = b.shape.length;
    const M = transposeA ? a.shape[ra - 1] : a.shape[ra - 2];
    const K = transposeA ? a.shape[ra - 2] : a.shape[ra - 1];
    const K2 = transposeB ? b.shape[rb - 1] : b.shape[rb - 2];
    const N = transposeB ? b.shape[rb - 2] : b.shape[rb - 1];
    if (K !== K2) return fallback(name, args);
    const outerA = a.shape.slice(0, -2);
    const outerB = b.shape.slice(0, -2);
    const ba = size(outerA);
    const bb = size(outerB);
    let outer: number[];
    try {
      outer = tf.backend_util.assertAndGetBroadcastShape(outerA, outerB);
    } catch {
      return fallback(name, args);
    }
    const batch = size(outer);
    if (!((ba === bb && outerA.join() === outerB.join()) || (ba === 1 && bb === batch) || (bb === 1 && ba === batch))) return fallback(name, args);
    const outShape = [...outer, M, N];
    const c = alloc(batch * M * N);
    if (batch > 0 && M > 0 && N > 0) addon.gemm(av, bv, c, Int32Array.from([ba, bb, M, N, K, transposeA ? 1 : 0, transposeB ? 1 : 0]));
    if (fused && !epilogue(be, c, outShape, bias, act)) return fallback(name, args);
    return done(name, be, outShape, c);
  };

  const binary = (name: string) => (args: KernelArgs): Info | Info[] => {
    const be = args.backend as CpuLike;
    const { a, b } = args.inputs as Record<string, Info>;
    const av = f32(be, a, addon);
    const bv = f32(be, b, addon);
    if (!av || !bv) return fallback(name, args);
    let out: number[];
    try {
      out = tf.backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
    } catch {
      return fallback(name, args);
    }
    const n = size(out);
    if (n === 0 || av.length === 0 || bv.length === 0) return fallback(name, args);
    const o = alloc(n);
    if (suffixOf(a.shape, out) && suffixOf(b.shape, out) && (av.length === n || bv.length === n || av.length === 1 || bv.length === 1)) {
      addon.binary(BINARY_OPS[name], av, bv, o);
    } else {
      const dims = broadcastDims(a.shape, b.shape, out);
      if (!dims) return fallback(name, args);
      addon.binaryNd(0, BINARY_OPS[name], av, bv, o, dims);
    }
    return done(name, be, out, o);
  };

  const compare = (name: string) => (args: KernelArgs): Info | Info[] => {
    const be = args.backend as CpuLike;
    const { a, b } = args.inputs as Record<string, Info>;
    const av = f32(be, a, addon);
    const bv = f32(be, b, addon);
    if (!av || !bv) return fallback(name, args);
    let shape: number[];
    try {
      shape = tf.backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
    } catch {
      return fallback(name, args);
    }
    const n = size(shape);
    if (n === 0 || av.length === 0 || bv.length === 0) return fallback(name, args);
    const o = pool.takeU8(n);
    if (suffixOf(a.shape, shape) && suffixOf(b.shape, shape)) {
      addon.compare(COMPARE_OPS[name], av, bv, o);
    } else {
      const dims = broadcastDims(a.shape, b.shape, shape);
      if (!dims) return fallback(name, args);
      addon.binaryNd(1, COMPARE_OPS[name], av, bv, o, dims);
    }
    count(nativeStats.native, name);
    return be.makeTensorInfo(shape, 'bool', o);
  };

  const unary = (name: string, op: 0 | 4 | 5) => (args: KernelArgs): Info | Info[] => {
    const be = args.backend as CpuLike;
    const x = args.inputs.x as Info;
    const xv = f32(be, x, addon);
    if (!xv) return fallback(name, args);
    const o = alloc(xv.length);
    addon.unary(op, xv, o);
    return done(name, be, x.shape, o);
  };

  /** LogicalAnd / LogicalOr of two bool tensors (any broadcast). */
  const logical = (name: string, op: 0 | 1, args: KernelArgs): Info | Info[] => {
    const be = args.backend as CpuLike;
    const { a, b } = args.inputs as Record<string, Info>;
    const av = a.dtype === 'bool' ? be.data.get(a.dataId)?.values : null;
    const bv = b.dtype === 'bool' ? be.data.get(b.dataId)?.values : null;
    if (!(av instanceof Uint8Array) || !(bv instanceof Uint8Array)) return fallback(name, args);
    let shape: number[];
    try {
      shape = tf.backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
    } catch {
      return fallback(name, args);
    }
    const dims = broadcastDims(a.shape, b.shape, shape);
    const n = size(shape);
    if (!dims || n === 0 || av.length === 0 || bv.length === 0) return fallback(name, args);
    const o = pool.takeU8(n);
    addon.binaryNd(2, op, av, bv, o, dims);
    count(nativeStats.native, name);
    return be.makeTensorInfo(shape, 'bool', o);
  };

  /** ZerosLike / OnesLike of a float32 tensor (into a recycled array). */
  const filled = (name: string, value: number, args: KernelArgs): Info | Info[] => {
    const be = args.backend as CpuLike;
    const x = args.inputs.x as Info;
    if (x.dtype !== 'float32') return fallback(name, args);
    const o = alloc(size(x.shape));
    o.fill(value);
    return done(name, be, x.shape, o);
  };

  /** Sum / Mean over one contiguous block of axes (leading, trailing or middle: no transpose needed). */
  const reduce = (name: 'Sum' | 'Mean', args: KernelArgs): Info | Info[] => {
    const be = args.backend as CpuLike;
    const x = args.inputs.x as Info;
    const { axis, keepDims } = args.attrs as unknown as { axis: number | number[]; keepDims?: boolean };
    const xv = f32(be, x, addon);
    if (!xv || x.shape.length === 0 || xv.length === 0) return fallback(name, args);
    const axes = [...new Set(tf.util.parseAxisParam(axis, x.shape))].sort((p, q) => p - q);
    const r = x.shape.length;
    if (axes.length === 0) return fallback(name, args);
    const lead = axes.every((ax, i) => ax === i);
    const trail = axes.every((ax, i) => ax === r - axes.length + i);
    const block = axes.every((ax, i) => ax === axes[0] + i);
    if (!block) return fallback(name, args);
    const [outShape0, reduceShape] = tf.backend_util.computeOutAndReduceShapes(x.shape, axes);
    const red = size(reduceShape);
    const outShape = keepDims ? tf.backend_util.expandShapeToKeepDim(outShape0, axes) : outShape0;
    const o = alloc(size(outShape0));
    const divisor = name === 'Mean' ? red : 0;
    if (lead || trail) {
      const dims = lead ? Int32Array.from([red, xv.length / red]) : Int32Array.from([xv.length / red, red]);
      addon.sumAxes(lead ? 1 : 0, xv, o, dims, divisor);
    } else {
      // A block of middle axes (e.g. H, W of NHWC: global average pooling).
      const outer = size(x.shape.slice(0, axes[0]));
      addon.sumMiddle(xv, o, Int32Array.from([outer, red, xv.length / (outer * red)]), divisor);
    }
    return done(name, be, outShape, o);
  };

  return {
    Conv2D: conv('Conv2D', false, false),
    FusedConv2D: conv('FusedConv2D', false, true),
    DepthwiseConv2dNative: conv('DepthwiseConv2dNative', true, false),
    FusedDepthwiseConv2D: conv('FusedDepthwiseConv2D', true, true),
    Conv2DBackpropInput: convBackpropInput('Conv2DBackpropInput', false),
    DepthwiseConv2dNativeBackpropInput: convBackpropInput('DepthwiseConv2dNativeBackpropInput', true),
    Conv2DBackpropFilter: convBackpropFilter('Conv2DBackpropFilter', false),
    DepthwiseConv2dNativeBackpropFilter: convBackpropFilter('DepthwiseConv2dNativeBackpropFilter', true),
    BatchMatMul: matMul('BatchMatMul', false),
    _FusedMatMul: matMul('_FusedMatMul', true),
    Add: binary('Add'),
    Sub: binary('Sub'),
    Multiply: binary('Multiply'),
    RealDiv: binary('RealDiv'),
    Relu: unary('Relu', 0),
    Sqrt: unary('Sqrt', 4),
    Square: unary('Square', 5),
    Greater: compare('Greater'),
    Less: compare('Less'),
    GreaterEqual: compare('GreaterEqual'),
    LessEqual: compare('LessEqual'),
    Step: (args) => {
      const be = args.backend as CpuLike;
      const x = args.inputs.x as Info;
      const xv = f32(be, x, addon);
      if (!xv || ((args.attrs as { alpha?: number }).alpha ?? 0) !== 0) return fallback('Step', args);
      const o = alloc(xv.length);
      addon.unary(1, xv, o);
      return done('Step', be, x.shape, o);
    },
    FusedBatchNorm: (args) => batchNorm('FusedBatchNorm', args, 0),
    // Frozen BN + ReLU forward in one pass (src/core/model/fusedOps.ts).
    [BN_RELU_KERNEL]: (args) => batchNorm(BN_RELU_KERNEL, args, 1),
    Slice: (args) => {
      const be = args.backend as CpuLike;
      const x = args.inputs.x as Info;
      const xv = f32(be, x, addon);
      if (!xv || x.shape.length === 0 || x.shape.length > 8) return fallback('Slice', args);
      const { begin, size: sz } = args.attrs as unknown as { begin: number | number[]; size: number | number[] };
      const [b0, s0] = tf.slice_util.parseSliceParams(x as tf.Tensor, begin, sz);
      tf.slice_util.assertParamsValid(x as tf.Tensor, b0, s0);
      const o = alloc(size(s0));
      addon.slice(xv, o, Int32Array.from([x.shape.length, ...x.shape, ...b0, ...s0]));
      return done('Slice', be, s0, o);
    },
    PadV2: (args) => {
      const be = args.backend as CpuLike;
      const x = args.inputs.x as Info;
      const { paddings, constantValue } = args.attrs as unknown as { paddings: Array<[number, number]>; constantValue: number };
      const xv = f32(be, x, addon);
      const r = x.shape.length;
      if (!xv || r === 0 || r > 8 || paddings.length !== r || paddings.some((p) => p[0] < 0 || p[1] < 0)) return fallback('PadV2', args);
      const outShape = paddings.map((p, i) => p[0] + x.shape[i] + p[1]);
      const o = alloc(size(outShape));
      addon.pad(xv, o, Int32Array.from([r, ...x.shape, ...paddings.map((p) => p[0])]), Int32Array.from(outShape), constantValue);
      return done('PadV2', be, outShape, o);
    },
    ClipByValue: (args) => {
      const be = args.backend as CpuLike;
      const x = args.inputs.x as Info;
      const { clipValueMin, clipValueMax } = args.attrs as unknown as { clipValueMin: number; clipValueMax: number };
      const xv = f32(be, x, addon);
      if (!xv) return fallback('ClipByValue', args);
      const o = alloc(xv.length);
      addon.clip(xv, o, clipValueMin, clipValueMax);
      return done('ClipByValue', be, x.shape, o);
    },
    LogicalAnd: (args) => logical('LogicalAnd', 0, args),
    LogicalOr: (args) => logical('LogicalOr', 1, args),
    Select: (args) => {
      const be = args.backend as CpuLike;
      const { condition, t, e } = args.inputs as Record<string, Info>;
      const cv = condition.dtype === 'bool' ? be.data.get(condition.dataId)?.values : null;
      const tv = f32(be, t, addon);
      const ev = f32(be, e, addon);
      if (!(cv instanceof Uint8Array) || !tv || !ev || cv.length !== tv.length || ev.length !== tv.length) return fallback('Select', args);
      const o = alloc(tv.length);
      addon.select(cv, tv, ev, o);
      return done('Select', be, t.shape, o);
    },
    ZerosLike: (args) => filled('ZerosLike', 0, args),
    OnesLike: (args) => filled('OnesLike', 1, args),
    // The STE forward W * mask(scores) in one pass (src/core/model/ste.ts).
    [MASK_WEIGHT_KERNEL]: pairKernel(MASK_WEIGHT_KERNEL, 'w', 's', (w, sc, o, at) => addon.maskWeight(w, sc, o, at.threshold as number, at.ternary ? 1 : 0)),
    // ReLU6's and a frozen BN's gradients in one pass (src/core/model/fusedOps.ts).
    [BN_CLIP_GRAD_KERNEL]: (args) => {
      const be = args.backend as CpuLike;
      const { dy, z, a } = args.inputs as Record<string, Info>;
      const { max } = args.attrs as unknown as { max: number };
      const [dv, zv, av] = [dy, z, a].map((t) => f32(be, t, addon));
      if (!dv || !zv || !av || dv.length !== zv.length || av.length === 0 || zv.length % av.length) throw new Error(`${BN_CLIP_GRAD_KERNEL}: expected float32 dy and z of one shape and a per-channel a`);
      const o = alloc(zv.length);
      addon.bnClipGrad(dv, zv, av, o, max);
      return done(BN_CLIP_GRAD_KERNEL, be, z.shape, o);
    },
    // The gradients of Relu and ClipByValue in one pass each (see registerFusedGradients).
    [RELU_GRAD_KERNEL]: pairKernel(RELU_GRAD_KERNEL, 'dy', 'x', (dy, x, o) => addon.reluGrad(dy, x, o)),
    [CLIP_GRAD_KERNEL]: pairKernel(CLIP_GRAD_KERNEL, 'dy', 'x', (dy, x, o, at) => addon.clipGrad(dy, x, o, at.clipValueMin as number, at.clipValueMax as number)),
    // One fused Adam step (src/core/train/adam.ts): the same float32 ops as tfjs' AdamOptimizer.
    [FUSED_ADAM_KERNEL]: (args) => {
      const be = args.backend as CpuLike;
      const { x, g, m, v, c1, c2 } = args.inputs as Record<string, Info>;
      const [xv, gv, mv, vv, c1v, c2v] = [x, g, m, v, c1, c2].map((t) => f32(be, t, addon));
      const n = size(x.shape);
      if (!xv || !gv || !mv || !vv || !c1v || !c2v || [gv, mv, vv].some((a) => a.length !== n) || xv.length !== n) {
        throw new Error(`${FUSED_ADAM_KERNEL}: expected float32 tensors of one shape`);
      }
      const [b1, omb1, b2, omb2, eps, nlr] = (args.attrs as unknown as { params: number[] }).params;
      const ox = alloc(n);
      const om = alloc(n);
      const ov = alloc(n);
      addon.adam(xv, gv, mv, vv, ox, om, ov, Float32Array.from([b1, omb1, b2, omb2, c1v[0], c2v[0], eps, nlr]));
      return [done(FUSED_ADAM_KERNEL, be, x.shape, ox), be.makeTensorInfo(x.shape, 'float32', om), be.makeTensorInfo(x.shape, 'float32', ov)];
    },
    Sum: (args) => reduce('Sum', args),
    Mean: (args) => reduce('Mean', args),
    Tile: (args) => {
      const be = args.backend as CpuLike;
      const x = args.inputs.x as Info;
      const reps = (args.attrs as unknown as { reps: number[] }).reps;
      const xv = f32(be, x, addon);
      if (!xv || x.shape.length === 0 || reps.length !== x.shape.length) return fallback('Tile', args);
      const outShape = x.shape.map((d, i) => d * reps[i]);
      const o = alloc(size(outShape));
      addon.tile(xv, o, Int32Array.from([x.shape.length, ...x.shape, ...reps]));
      return done('Tile', be, outShape, o);
    },
    MaxPool: (args) => {
      const be = args.backend as CpuLike;
      const x = args.inputs.x as Info;
      const a = args.attrs as unknown as { filterSize: number | [number, number]; strides: number | [number, number]; pad: never; dimRoundingMode?: never };
      const xv = f32(be, x, addon);
      if (!xv || x.shape.length !== 4) return fallback('MaxPool', args);
      const ci = tf.backend_util.computePool2DInfo(x.shape as never, a.filterSize, a.strides, 1, a.pad, a.dimRoundingMode);
      const dims = poolDims(ci);
      if (!dims) return fallback('MaxPool', args);
      const o = alloc(size(ci.outShape));
      addon.maxPool(xv, o, dims);
      return done('MaxPool', be, ci.outShape, o);
    },
    MaxPoolGrad: (args) => {
      const be = args.backend as CpuLike;
      const { dy, input } = args.inputs as Record<string, Info>;
      const a = args.attrs as unknown as { filterSize: number | [number, number]; strides: number | [number, number]; pad: never; dimRoundingMode?: never };
      const xv = f32(be, input, addon);
      const dyv = f32(be, dy, addon);
      if (!xv || !dyv || input.shape.length !== 4) return fallback('MaxPoolGrad', args);
      const ci = tf.backend_util.computePool2DInfo(input.shape as never, a.filterSize, a.strides, 1, a.pad, a.dimRoundingMode);
      const dims = poolDims(ci);
      if (!dims || size(ci.outShape) !== dyv.length) return fallback('MaxPoolGrad', args);
      const o = alloc(xv.length);
      addon.maxPoolGrad(dyv, xv, o, dims);
      return done('MaxPoolGrad', be, input.shape, o);
    },
  };
}

export const RELU_GRAD_KERNEL = 'PiggybackReluGrad';
export const CLIP_GRAD_KERNEL = 'PiggybackClipGrad';

/**
 * tfjs' gradients of Relu (mul(dy, cast(step(x)))) and ClipByValue (where(logicalAnd(
 * greaterEqual(x, min), lessEqual(x, max)), dy, zerosLike(dy))), re-registered so that where the
 * current backend has the fused kernel (native) each is one pass over the activations instead of
 * two and five kernels (ReLU6 in MobileNetV2 is Relu then ClipByValue: 7 kernels per layer). The
 * values are those of tfjs' expressions; every other backend still runs exactly those.
 */
function registerFusedGradients(): void {
  const fused = (kernel: string, dy: tf.Tensor, x: tf.Tensor): boolean =>
    dy.dtype === 'float32' && x.dtype === 'float32' && tf.util.arraysEqual(dy.shape, x.shape) && tf.getKernel(kernel, tf.getBackend()) !== undefined;
  tf.registerGradient({
    kernelName: 'Relu',
    inputsToSave: ['x'],
    gradFunc: (dy, saved) => {
      const [x] = saved;
      const d = dy as tf.Tensor;
      return { x: () => (fused(RELU_GRAD_KERNEL, d, x) ? (tf.engine().runKernel(RELU_GRAD_KERNEL, { dy: d, x }) as tf.Tensor) : tf.mul(d, tf.cast(tf.step(x), 'float32'))) };
    },
  });
  tf.registerGradient({
    kernelName: 'ClipByValue',
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved;
      const d = dy as tf.Tensor;
      const { clipValueMin, clipValueMax } = attrs as unknown as { clipValueMin: number; clipValueMax: number };
      return {
        x: () =>
          fused(CLIP_GRAD_KERNEL, d, x)
            ? (tf.engine().runKernel(CLIP_GRAD_KERNEL, { dy: d, x }, { clipValueMin, clipValueMax }) as tf.Tensor)
            : tf.where(tf.logicalAnd(tf.greaterEqual(x, clipValueMin), tf.lessEqual(x, clipValueMax)), d, tf.zerosLike(d)),
      };
    },
  });
}

/**
 * Registers the 'native' backend (idempotent): a fresh cpu backend instance, every cpu kernel
 * re-registered for it, and the native kernels on top. Does not switch to it.
 */
export function registerNativeBackend(addon: NativeAddon): void {
  if (registeredWith) return;
  const cpuFactory = tf.findBackendFactory('cpu');
  if (!cpuFactory) throw new Error('the cpu backend is not registered');
  tf.registerBackend(
    NATIVE_BACKEND,
    () => {
      const be = cpuFactory() as CpuLike;
      // Silence the cpu backend's one-time "install tfjs-node" banner.
      if ('firstUse' in be) be.firstUse = false;
      const dispose = be.disposeData.bind(be);
      be.disposeData = (dataId: object, force?: boolean): boolean => {
        const values = be.data.get(dataId)?.values;
        const r = dispose(dataId, force);
        if (values && !be.data.has(dataId)) pool.give(values);
        return r;
      };
      const readSync = be.readSync.bind(be);
      be.readSync = (dataId: object) => {
        const v = readSync(dataId);
        pool.expose(v);
        return v;
      };
      return be;
    },
    // Below cpu (1) and wasm (2): never chosen implicitly, only by initBackend.
    0,
  );
  const cpuKernels = new Map<string, tf.KernelFunc>();
  for (const k of tf.getKernelsForBackend('cpu')) cpuKernels.set(k.kernelName, k.kernelFunc);
  const cpu = (name: string): tf.KernelFunc => {
    const f = cpuKernels.get(name);
    if (!f) throw new Error(`kernel '${name}' is not registered for the cpu backend`);
    return f;
  };
  const native = buildKernels(addon, cpu);
  for (const k of tf.getKernelsForBackend('cpu')) {
    const js = k.kernelFunc;
    const guarded: tf.KernelFunc = (args) => {
      const r = js(args) as Info | Info[];
      exposeAliases(args.backend as CpuLike, args.inputs, r);
      countJs(k.kernelName, args.inputs, r);
      return r;
    };
    tf.registerKernel({ ...k, backendName: NATIVE_BACKEND, kernelFunc: native[k.kernelName] ?? guarded });
  }
  for (const name of Object.keys(native)) {
    if (!cpuKernels.has(name)) tf.registerKernel({ kernelName: name, backendName: NATIVE_BACKEND, kernelFunc: native[name] });
  }
  registerFusedGradients();
  registeredWith = addon;
}
