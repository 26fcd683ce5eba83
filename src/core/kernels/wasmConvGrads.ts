/**
 * Convolution gradient kernels for the TF.js wasm backend.
 *
 * tfjs-backend-wasm 4.22 registers no Conv2DBackpropFilter, DepthwiseConv2dNativeBackpropFilter
 * or DepthwiseConv2dNativeBackpropInput kernel, so training any conv layer on wasm throws; and its
 * Conv2DBackpropInput is ~10x slower than a forward conv. Here each gradient is rewritten in
 * terms of ops wasm runs fast (forward conv2d / depthwiseConv2d through XNNPACK, pad, slice,
 * transpose, reverse, matMul), and registered as the *kernel* for backend 'wasm', so every path
 * that reaches the kernel is covered: tf.grad of tf.conv2d, tfjs-layers' fused conv, optimizers.
 *
 * The kernel functions run tf ops: inside a kernel the engine's tape is off (kernelDepth > 0), so
 * nothing is recorded for backprop; every intermediate lives in a tf.tidy and only the result
 * tensor escapes (the engine accepts a Tensor as a kernel's output and returns it as is).
 *
 * Notation (NHWC): x [B,H,W,C], dy [B,OH,OW,O], filter [KH,KW,C,O] (depthwise: [KH,KW,C,M],
 * dy [B,OH,OW,C*M]); s = stride, d = dilation; padInfo.top/left from computeConv2DInfo, i.e.
 * y[b,i,j,o] = sum_{kh,kw,c} xpad[b, i*s + kh*d, j*s + kw*d, c] * W[kh,kw,c,o],
 * with xpad = x shifted by (top, left) and zero outside.
 */
import { tf } from '../tf';

type T4 = tf.Tensor4D;
type Pad2 = [number, number];
type Pad4 = [Pad2, Pad2, Pad2, Pad2];
type PadAttr = 'valid' | 'same' | number | Pad4;
type Rounding = 'floor' | 'round' | 'ceil' | undefined;

const BACKEND = 'wasm';

/** Which rewrites are active; see registerWasmConvGradKernels. */
export interface WasmConvGradOptions {
  /**
   * Replace the stock wasm Conv2DBackpropInput with the forward-conv rewrite. Default true:
   * measured in bench/kernels.ts, the rewrite is many times faster than the stock kernel.
   */
  fastConv2DBackpropInput?: boolean;
}

// ---------------------------------------------------------------------------------------------
// helpers

function asTensor(t: tf.TensorInfo | undefined): tf.Tensor {
  if (t == null) throw new Error('conv gradient kernel: missing input');
  if (t instanceof tf.Tensor) return t;
  // A TensorInfo handed over directly by another kernel: wrap it (this adds a reference that
  // the tidy around the kernel body releases again).
  return tf.engine().makeTensorFromTensorInfo(t);
}

/**
 * Pads (positive amounts) or crops (negative amounts) the two spatial axes of an NHWC tensor.
 * Returns the non-negative padding still to apply, so the caller can hand it to the conv as
 * explicit padding instead of materialising a padded copy.
 */
function cropNegative(t: T4, top: number, bottom: number, left: number, right: number): { t: T4; pad: Pad4 } {
  const [b, h, w, c] = t.shape;
  const ct = Math.max(0, -top);
  const cb = Math.max(0, -bottom);
  const cl = Math.max(0, -left);
  const cr = Math.max(0, -right);
  let out = t;
  if (ct || cb || cl || cr) {
    out = tf.slice(t, [0, ct, cl, 0], [b, h - ct - cb, w - cl - cr, c]);
  }
  return { t: out, pad: [[0, 0], [Math.max(0, top), Math.max(0, bottom)], [Math.max(0, left), Math.max(0, right)], [0, 0]] };
}

/** Inserts (s-1) zeros after every row/column: [B,OH,OW,C] -> [B,OH*sh,OW*sw,C] (trailing zeros included). */
function strideDilate(t: T4, sh: number, sw: number): T4 {
  if (sh === 1 && sw === 1) return t;
  const [b, h, w, c] = t.shape;
  const r = tf.reshape(t, [b, h, 1, w, 1, c]);
  const p = tf.pad(r, [[0, 0], [0, 0], [0, sh - 1], [0, 0], [0, sw - 1], [0, 0]]);
  return tf.reshape(p, [b, h * sh, w * sw, c]);
}

function toNHWC(t: tf.Tensor, dataFormat: string | undefined): T4 {
  return (dataFormat === 'NCHW' ? tf.transpose(t, [0, 2, 3, 1]) : t) as T4;
}

function shapeNHWC(shape: number[], dataFormat: string | undefined): [number, number, number, number] {
  return dataFormat === 'NCHW' ? [shape[0], shape[2], shape[3], shape[1]] : [shape[0], shape[1], shape[2], shape[3]];
}

// ---------------------------------------------------------------------------------------------
// Conv2DBackpropFilter

interface Conv2DBackpropFilterAttrs {
  strides: number | [number, number];
  pad: PadAttr;
  dataFormat?: 'NHWC' | 'NCHW';
  dimRoundingMode?: Rounding;
  filterShape: [number, number, number, number];
}

/**
 * dW[kh,kw,c,o] = sum_{b,i,j} xpad[b, i*s+kh, j*s+kw, c] * dy[b,i,j,o]
 * = a forward conv, stride 1, dilation s, of x^T = [C, Hp, Wp, B] (batch <-> channels) with the
 *   "filter" dy^T = [OH, OW, B, O]; its output [C, KH, KW, O] is transposed to [KH, KW, C, O].
 * xpad must hold exactly (OH-1)*s + KH rows: pad with `top` above and pad/crop below.
 */
export function conv2DBackpropFilterImpl(x: T4, dy: T4, attrs: Conv2DBackpropFilterAttrs): tf.Tensor4D {
  return tf.tidy(() => {
    const xs = toNHWC(x, attrs.dataFormat);
    const dys = toNHWC(dy, attrs.dataFormat);
    const fs = attrs.filterShape;
    const info = tf.backend_util.computeConv2DInfo(xs.shape, fs, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode);
    const [kh, kw] = [fs[0], fs[1]];
    const { strideHeight: sh, strideWidth: sw } = info;
    const { top, left } = info.padInfo;
    const [, h, w] = xs.shape;
    const [, oh, ow] = dys.shape;
    const bottom = (oh - 1) * sh + kh - top - h;
    const right = (ow - 1) * sw + kw - left - w;
    const { t: xc, pad } = cropNegative(xs, top, bottom, left, right);
    const xT = tf.transpose(xc, [3, 1, 2, 0]) as T4; // [C, H', W', B]
    const dyT = tf.transpose(dys, [1, 2, 0, 3]) as T4; // [OH, OW, B, O]
    const r = tf.conv2d(xT, dyT, 1, pad, 'NHWC', [sh, sw]); // [C, KH, KW, O]
    return tf.transpose(r, [1, 2, 0, 3]) as T4;
  });
}

// ---------------------------------------------------------------------------------------------
// Conv2DBackpropInput

interface Conv2DBackpropInputAttrs {
  strides: number | [number, number];
  pad: PadAttr;
  dataFormat?: 'NHWC' | 'NCHW';
  dimRoundingMode?: Rounding;
  inputShape: [number, number, number, number];
}

/**
 * dx[b,h,w,c] = sum_{i,j,kh,kw,o} [h+top = i*s+kh] dy[b,i,j,o] W[kh,kw,c,o]
 * = a forward conv, stride 1, of dy with (s-1) zeros inserted between rows/columns, padded by
 *   KH-1-top above (the rest below so the output has H rows), with the spatially flipped,
 *   in/out-swapped filter W'[kh,kw,o,c] = W[KH-1-kh, KW-1-kw, c, o].
 */
export function conv2DBackpropInputImpl(dy: T4, filter: T4, attrs: Conv2DBackpropInputAttrs): tf.Tensor4D {
  return tf.tidy(() => {
    const inShape = shapeNHWC(attrs.inputShape, attrs.dataFormat);
    const dys = toNHWC(dy, attrs.dataFormat);
    const info = tf.backend_util.computeConv2DInfo(inShape, filter.shape, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode);
    const [kh, kw] = [filter.shape[0], filter.shape[1]];
    const { strideHeight: sh, strideWidth: sw } = info;
    const { top, left } = info.padInfo;
    const [, h, w] = inShape;
    const dyd = strideDilate(dys, sh, sw);
    const pt = kh - 1 - top;
    const pl = kw - 1 - left;
    const pb = h + kh - 1 - dyd.shape[1] - pt;
    const pr = w + kw - 1 - dyd.shape[2] - pl;
    const { t: dyc, pad } = cropNegative(dyd, pt, pb, pl, pr);
    const wf = tf.transpose(tf.reverse(filter, [0, 1]), [0, 1, 3, 2]) as T4; // [KH,KW,O,C]
    const dx = tf.conv2d(dyc, wf, 1, pad);
    return (attrs.dataFormat === 'NCHW' ? tf.transpose(dx, [0, 3, 1, 2]) : dx) as T4;
  });
}

// ---------------------------------------------------------------------------------------------
// DepthwiseConv2dNativeBackpropFilter

interface DepthwiseBackpropFilterAttrs {
  strides: number | [number, number];
  dilations?: number | [number, number];
  pad: PadAttr;
  dimRoundingMode?: Rounding;
  filterShape: [number, number, number, number];
}

/** Float32 view of a tensor's values: no copy on wasm (a view of its heap), a copy elsewhere. */
function valuesOf(t: tf.Tensor): Float32Array {
  const be = tf.engine().backend as unknown as { typedArrayFromHeap?: (t: tf.TensorInfo) => unknown };
  if (typeof be.typedArrayFromHeap === 'function' && tf.engine().backendName === 'wasm') {
    const v = be.typedArrayFromHeap(t);
    if (v instanceof Float32Array) return v;
  }
  return t.dataSync() as Float32Array;
}

/**
 * dW[kh,kw,c,m] = sum_{b,i,j} xpad[b, i*s+kh*d, j*s+kw*d, c] * dy[b,i,j,c*M+m]
 * A direct loop in JS over the wasm heap (no copies): this is a small, memory-bound reduction
 * (KH*KW multiply-adds per dy element) that no fast wasm kernel expresses well. Measured in
 * bench/kernels.ts against the tf-ops version below: ~4-50x faster (about 6-10x a forward
 * depthwise conv, JS scalar speed bound; a grouped forward-conv formulation was slower still).
 * Accumulates in float64. The views are read before anything is allocated on the wasm heap
 * (an allocation may grow the heap and detach them).
 */
export function depthwiseBackpropFilterImpl(x: T4, dy: T4, attrs: DepthwiseBackpropFilterAttrs): tf.Tensor4D {
  const fs = attrs.filterShape;
  const info = tf.backend_util.computeConv2DInfo(x.shape, fs, attrs.strides, attrs.dilations ?? 1, attrs.pad, attrs.dimRoundingMode, true);
  const [kh, kw, c, m] = fs;
  const { strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw } = info;
  const { top, left } = info.padInfo;
  const [b, h, w] = x.shape;
  const [, oh, ow, cm] = dy.shape;
  const xv = valuesOf(x);
  const dyv = valuesOf(dy);
  const acc = new Float64Array(kh * kw * cm);
  for (let bi = 0; bi < b; bi++) {
    for (let i = 0; i < oh; i++) {
      for (let p = 0; p < kh; p++) {
        const hh = i * sh + p * dh - top;
        if (hh < 0 || hh >= h) continue;
        const xRow = (bi * h + hh) * w;
        for (let j = 0; j < ow; j++) {
          const dyo = ((bi * oh + i) * ow + j) * cm;
          for (let q = 0; q < kw; q++) {
            const ww = j * sw + q * dw - left;
            if (ww < 0 || ww >= w) continue;
            const xo = (xRow + ww) * c;
            const ao = (p * kw + q) * cm;
            if (m === 1) {
              for (let k = 0; k < c; k++) acc[ao + k] += xv[xo + k] * dyv[dyo + k];
            } else {
              for (let k = 0; k < c; k++) {
                const xk = xv[xo + k];
                const base = k * m;
                for (let r = 0; r < m; r++) acc[ao + base + r] += xk * dyv[dyo + base + r];
              }
            }
          }
        }
      }
    }
  }
  return tf.tensor4d(Float32Array.from(acc), [kh, kw, c, m]);
}

/**
 * The same gradient from tf ops (for comparison in the bench): for each tap a strided slice of
 * xpad times dy, summed over b,i,j with a [1,N] x [N,C*M] matMul.
 */
export function depthwiseBackpropFilterOps(x: T4, dy: T4, attrs: DepthwiseBackpropFilterAttrs): tf.Tensor4D {
  return tf.tidy(() => {
    const fs = attrs.filterShape;
    const info = tf.backend_util.computeConv2DInfo(x.shape, fs, attrs.strides, attrs.dilations ?? 1, attrs.pad, attrs.dimRoundingMode, true);
    const [kh, kw, c, m] = fs;
    const { strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw } = info;
    const { top, left } = info.padInfo;
    const [b, h, w] = x.shape;
    const [, oh, ow] = dy.shape;
    const needH = (oh - 1) * sh + (kh - 1) * dh + 1;
    const needW = (ow - 1) * sw + (kw - 1) * dw + 1;
    const { t: xc, pad } = cropNegative(x, top, needH - top - h, left, needW - left - w);
    const xp = pad.some(([a, z]) => a || z) ? tf.pad(xc, pad) : xc; // [B, needH, needW, C]
    const n = b * oh * ow;
    const dy2 = m === 1 ? tf.reshape(dy, [n, c]) : tf.reshape(dy, [n, c, m]);
    const ones = tf.ones([1, n]) as tf.Tensor2D;
    const rows: tf.Tensor2D[] = [];
    for (let i = 0; i < kh; i++) {
      for (let j = 0; j < kw; j++) {
        const xs =
          sh === 1 && sw === 1
            ? tf.slice(xp, [0, i * dh, j * dw, 0], [b, oh, ow, c])
            : tf.stridedSlice(xp, [0, i * dh, j * dw, 0], [b, i * dh + (oh - 1) * sh + 1, j * dw + (ow - 1) * sw + 1, c], [1, sh, sw, 1]);
        const prod = m === 1 ? tf.mul(tf.reshape(xs, [n, c]), dy2) : tf.reshape(tf.mul(tf.reshape(xs, [n, c, 1]), dy2), [n, c * m]);
        rows.push(tf.matMul(ones, prod as tf.Tensor2D));
      }
    }
    return tf.reshape(tf.concat(rows, 0), [kh, kw, c, m]) as T4;
  });
}

// ---------------------------------------------------------------------------------------------
// DepthwiseConv2dNativeBackpropInput

interface DepthwiseBackpropInputAttrs {
  strides: number | [number, number];
  dilations?: number | [number, number];
  pad: PadAttr;
  dimRoundingMode?: Rounding;
  inputShape: [number, number, number, number];
}

/**
 * dx[b,h,w,c] = sum_{m} (depthwise forward conv, stride 1, dilation d, of the stride-dilated,
 * padded dy with the spatially flipped filter)[b,h,w,c*M+m]. For M > 1 the filter is used as
 * [KH,KW,C*M,1] and the M outputs of each input channel are summed (innermost axis).
 */
export function depthwiseBackpropInputConv(dy: T4, filter: T4, attrs: DepthwiseBackpropInputAttrs): tf.Tensor4D {
  return tf.tidy(() => {
    const inShape = attrs.inputShape;
    const info = tf.backend_util.computeConv2DInfo(inShape, filter.shape, attrs.strides, attrs.dilations ?? 1, attrs.pad, attrs.dimRoundingMode, true);
    const [kh, kw, c, m] = filter.shape;
    const { strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw } = info;
    const { top, left } = info.padInfo;
    const [b, h, w] = inShape;
    const ekh = (kh - 1) * dh + 1;
    const ekw = (kw - 1) * dw + 1;
    const dyd = strideDilate(dy, sh, sw);
    const pt = ekh - 1 - top;
    const pl = ekw - 1 - left;
    const pb = h + ekh - 1 - dyd.shape[1] - pt;
    const pr = w + ekw - 1 - dyd.shape[2] - pl;
    const { t: dyc, pad } = cropNegative(dyd, pt, pb, pl, pr);
    const wf = tf.reshape(tf.reverse(filter, [0, 1]), [kh, kw, c * m, 1]) as T4;
    const out = tf.depthwiseConv2d(dyc, wf, 1, pad, 'NHWC', [dh, dw]); // [B,H,W,C*M]
    return (m === 1 ? out : tf.sum(tf.reshape(out, [b, h, w, c, m]), 4)) as T4;
  });
}

/**
 * The same gradient as a direct scatter loop in JS over the wasm heap: dx[b, i*s+kh*d-top,
 * j*s+kw*d-left, c] += dy[b,i,j,c*M+m] * W[kh,kw,c,m]. Kept for the bench only: although the
 * conv rewrite above wastes (s*s-1)/(s*s) of its work on inserted zeros for strides > 1, it
 * still measured ~2x faster than this loop at stride 2 (and ~10x at stride 1).
 */
export function depthwiseBackpropInputLoop(dy: T4, filter: T4, attrs: DepthwiseBackpropInputAttrs): tf.Tensor4D {
  const inShape = attrs.inputShape;
  const info = tf.backend_util.computeConv2DInfo(inShape, filter.shape, attrs.strides, attrs.dilations ?? 1, attrs.pad, attrs.dimRoundingMode, true);
  const [kh, kw, c, m] = filter.shape;
  const { strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw } = info;
  const { top, left } = info.padInfo;
  const [b, h, w] = inShape;
  const [, oh, ow, cm] = dy.shape;
  const dyv = valuesOf(dy);
  const fv = valuesOf(filter);
  const dx = new Float32Array(b * h * w * c);
  for (let bi = 0; bi < b; bi++) {
    for (let i = 0; i < oh; i++) {
      for (let p = 0; p < kh; p++) {
        const hh = i * sh + p * dh - top;
        if (hh < 0 || hh >= h) continue;
        const xRow = (bi * h + hh) * w;
        for (let j = 0; j < ow; j++) {
          const dyo = ((bi * oh + i) * ow + j) * cm;
          for (let q = 0; q < kw; q++) {
            const ww = j * sw + q * dw - left;
            if (ww < 0 || ww >= w) continue;
            const xo = (xRow + ww) * c;
            const fo = (p * kw + q) * cm;
            if (m === 1) {
              for (let k = 0; k < c; k++) dx[xo + k] += dyv[dyo + k] * fv[fo + k];
            } else {
              for (let k = 0; k < c; k++) {
                let sum = 0;
                const base = k * m;
                for (let r = 0; r < m; r++) sum += dyv[dyo + base + r] * fv[fo + base + r];
                dx[xo + k] += sum;
              }
            }
          }
        }
      }
    }
  }
  return tf.tensor4d(dx, inShape);
}

/** The registered implementation: the depthwise-conv rewrite, for all strides (measured). */
export const depthwiseBackpropInputImpl = depthwiseBackpropInputConv;

// ---------------------------------------------------------------------------------------------
// registration

type Attrs = Record<string, unknown>;

const kernelFuncs: Record<string, tf.KernelFunc> = {
  Conv2DBackpropFilter: ({ inputs, attrs }) =>
    tf.tidy(() => conv2DBackpropFilterImpl(asTensor(inputs.x) as T4, asTensor(inputs.dy) as T4, attrs as Attrs as unknown as Conv2DBackpropFilterAttrs)),
  Conv2DBackpropInput: ({ inputs, attrs }) =>
    tf.tidy(() => conv2DBackpropInputImpl(asTensor(inputs.dy) as T4, asTensor(inputs.filter) as T4, attrs as Attrs as unknown as Conv2DBackpropInputAttrs)),
  DepthwiseConv2dNativeBackpropFilter: ({ inputs, attrs }) =>
    tf.tidy(() => depthwiseBackpropFilterImpl(asTensor(inputs.x) as T4, asTensor(inputs.dy) as T4, attrs as Attrs as unknown as DepthwiseBackpropFilterAttrs)),
  DepthwiseConv2dNativeBackpropInput: ({ inputs, attrs }) =>
    tf.tidy(() => depthwiseBackpropInputImpl(asTensor(inputs.dy) as T4, asTensor(inputs.filter) as T4, attrs as Attrs as unknown as DepthwiseBackpropInputAttrs)),
};

/** The stock wasm kernels we replaced, so they can be restored (bench, A/B checks). */
const stock: Record<string, tf.KernelConfig | undefined> = {};

function setKernel(name: string, fn: tf.KernelFunc | undefined): void {
  const current = tf.getKernel(name, BACKEND);
  if (current && current.kernelFunc === fn) return;
  if (current) {
    if (!(name in stock) && !Object.values(kernelFuncs).includes(current.kernelFunc)) stock[name] = current;
    tf.unregisterKernel(name, BACKEND);
  }
  if (fn) tf.registerKernel({ kernelName: name, backendName: BACKEND, kernelFunc: fn });
}

/**
 * Registers the conv gradient kernels for backend 'wasm'. Idempotent; safe to call before or
 * after the wasm backend is initialised (kernels are looked up per call). Needs
 * '@tensorflow/tfjs-backend-wasm' to be imported only for the wasm backend to exist at all.
 */
export function registerWasmConvGradKernels(opts: WasmConvGradOptions = {}): void {
  setKernel('Conv2DBackpropFilter', kernelFuncs.Conv2DBackpropFilter);
  setKernel('DepthwiseConv2dNativeBackpropFilter', kernelFuncs.DepthwiseConv2dNativeBackpropFilter);
  setKernel('DepthwiseConv2dNativeBackpropInput', kernelFuncs.DepthwiseConv2dNativeBackpropInput);
  useFastConv2DBackpropInput(opts.fastConv2DBackpropInput ?? true);
}

/** Switches wasm's Conv2DBackpropInput between this rewrite (true) and the stock kernel (false). */
export function useFastConv2DBackpropInput(on: boolean): void {
  if (on) {
    setKernel('Conv2DBackpropInput', kernelFuncs.Conv2DBackpropInput);
    return;
  }
  const s = stock.Conv2DBackpropInput;
  if (!s) return; // never replaced: the stock kernel (if any) is still registered
  if (tf.getKernel('Conv2DBackpropInput', BACKEND)) tf.unregisterKernel('Conv2DBackpropInput', BACKEND);
  tf.registerKernel(s);
  // Its setup (binding the wasm function) only runs when the backend initialises: if that
  // happened while the stock kernel was unregistered, run it now.
  // (engine().registry holds initialised backends only; findBackend would initialise one.)
  const be = tf.engine().registry[BACKEND];
  if (be && s.setupFunc) s.setupFunc(be);
}

/** Names of the kernels this module provides (for diagnostics). */
export const WASM_CONV_GRAD_KERNELS = Object.keys(kernelFuncs);
