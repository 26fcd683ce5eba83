/**
 * MaxPoolGrad for the wasm backend as a direct JS loop over the wasm heap. The stock wasm kernel
 * took ~35-40x the forward maxPool (about 10% of a small CNN's training step); this one scans
 * each window once per output (see bench/kernels.ts for the measured ratio).
 * Semantics follow the cpu backend exactly: the gradient goes to the first strict maximum of
 * each window in row-major order (ties, e.g. ReLU zeros, go to the first), and overlapping
 * windows accumulate.
 */
import { tf } from '../tf';

const BACKEND = 'wasm';
let stock: tf.KernelConfig | undefined;
let ours: tf.KernelFunc | undefined;

interface MaxPoolGradAttrs {
  filterSize: number | [number, number];
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | [[number, number], [number, number], [number, number], [number, number]];
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

function valuesOf(t: tf.Tensor): Float32Array {
  const be = tf.engine().backend as unknown as { typedArrayFromHeap?: (t: tf.TensorInfo) => unknown };
  if (typeof be.typedArrayFromHeap === 'function' && tf.engine().backendName === BACKEND) {
    const v = be.typedArrayFromHeap(t);
    if (v instanceof Float32Array) return v;
  }
  return t.dataSync() as Float32Array;
}

export function maxPoolGradImpl(dy: tf.Tensor4D, x: tf.Tensor4D, attrs: MaxPoolGradAttrs): tf.Tensor4D {
  const info = tf.backend_util.computePool2DInfo(x.shape, attrs.filterSize, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode);
  const [b, h, w, c] = x.shape;
  const { outHeight: oh, outWidth: ow, strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw } = info;
  const { effectiveFilterHeight: efh, effectiveFilterWidth: efw } = info;
  const { top, left } = info.padInfo;
  const xv = valuesOf(x);
  const dyv = valuesOf(dy);
  const dx = new Float32Array(b * h * w * c);
  const best = new Float32Array(c);
  const pos = new Int32Array(c);
  for (let bi = 0; bi < b; bi++) {
    for (let i = 0; i < oh; i++) {
      const r0 = i * sh - top;
      let rMin = r0;
      while (rMin < 0) rMin += dh;
      const rMax = Math.min(h, r0 + efh);
      for (let j = 0; j < ow; j++) {
        const c0 = j * sw - left;
        let cMin = c0;
        while (cMin < 0) cMin += dw;
        const cMax = Math.min(w, c0 + efw);
        best.fill(Number.NEGATIVE_INFINITY);
        pos.fill(-1);
        for (let r = rMin; r < rMax; r += dh) {
          for (let q = cMin; q < cMax; q += dw) {
            const xo = ((bi * h + r) * w + q) * c;
            for (let k = 0; k < c; k++) {
              const v = xv[xo + k];
              if (v > best[k]) {
                best[k] = v;
                pos[k] = xo + k;
              }
            }
          }
        }
        const dyo = ((bi * oh + i) * ow + j) * c;
        for (let k = 0; k < c; k++) if (pos[k] >= 0) dx[pos[k]] += dyv[dyo + k];
      }
    }
  }
  return tf.tensor4d(dx, x.shape);
}

/** Idempotent: replaces wasm's MaxPoolGrad with the loop above. */
export function registerWasmMaxPoolGrad(): void {
  const k = tf.getKernel('MaxPoolGrad', BACKEND);
  if (k && ours && k.kernelFunc === ours) return;
  if (k) {
    stock = k;
    tf.unregisterKernel('MaxPoolGrad', BACKEND);
  }
  ours = ({ inputs, attrs }) =>
    tf.tidy(() => {
      const wrap = (t: tf.TensorInfo | undefined): tf.Tensor4D => {
        if (t == null) throw new Error('MaxPoolGrad: missing input');
        return (t instanceof tf.Tensor ? t : tf.engine().makeTensorFromTensorInfo(t)) as tf.Tensor4D;
      };
      return maxPoolGradImpl(wrap(inputs.dy), wrap(inputs.input), attrs as unknown as MaxPoolGradAttrs);
    });
  tf.registerKernel({ kernelName: 'MaxPoolGrad', backendName: BACKEND, kernelFunc: ours });
}

/** Restores the stock kernel (A/B measurements). */
export function unregisterWasmMaxPoolGrad(): void {
  const k = tf.getKernel('MaxPoolGrad', BACKEND);
  if (!stock || !k || k.kernelFunc !== ours) return;
  tf.unregisterKernel('MaxPoolGrad', BACKEND);
  tf.registerKernel(stock);
  const be = tf.engine().registry[BACKEND];
  if (be && stock.setupFunc) stock.setupFunc(be);
}
