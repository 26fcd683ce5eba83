/**
 * BatchMatMul / _FusedMatMul with transposeA or transposeB on the wasm backend take a slow
 * path (measured 10-50x slower than the same product without the flags). Every dense layer's
 * backward pass hits it (dA = dy·Bᵀ, dB = Aᵀ·dy). This wrapper transposes the flagged operand
 * explicitly (a fast kernel) and runs the stock kernel without flags.
 */
import { tf } from '../tf';

const BACKEND = 'wasm';
const NAMES = ['BatchMatMul', '_FusedMatMul'] as const;

const stock: Partial<Record<(typeof NAMES)[number], tf.KernelConfig>> = {};
const wrappers = new Set<tf.KernelFunc>();

function swapLastTwo(t: tf.TensorInfo): tf.Tensor {
  const x = t instanceof tf.Tensor ? t : tf.engine().makeTensorFromTensorInfo(t);
  const r = x.shape.length;
  const perm = [...Array(r).keys()];
  perm[r - 2] = r - 1;
  perm[r - 1] = r - 2;
  const out = tf.transpose(x, perm);
  if (x !== t) x.dispose();
  return out;
}

function wrap(inner: tf.KernelFunc): tf.KernelFunc {
  const f: tf.KernelFunc = (p) => {
    const attrs = (p.attrs ?? {}) as { transposeA?: boolean; transposeB?: boolean };
    if (!attrs.transposeA && !attrs.transposeB) return inner(p);
    const { a, b } = p.inputs;
    if (!a || !b || a.dtype !== 'float32' || b.dtype !== 'float32') return inner(p);
    const at = attrs.transposeA ? swapLastTwo(a) : null;
    const bt = attrs.transposeB ? swapLastTwo(b) : null;
    try {
      return inner({
        ...p,
        inputs: { ...p.inputs, a: at ?? a, b: bt ?? b },
        attrs: { ...p.attrs, transposeA: false, transposeB: false },
      });
    } finally {
      at?.dispose();
      bt?.dispose();
    }
  };
  wrappers.add(f);
  return f;
}

/** Idempotent. Wraps the stock wasm matmul kernels (if registered). */
export function registerWasmMatMulFix(): void {
  for (const name of NAMES) {
    const k = tf.getKernel(name, BACKEND);
    if (!k || wrappers.has(k.kernelFunc)) continue;
    stock[name] = k;
    tf.unregisterKernel(name, BACKEND);
    tf.registerKernel({ ...k, kernelFunc: wrap(k.kernelFunc) });
  }
}

/** Restores the stock kernels (for A/B measurements). */
export function unregisterWasmMatMulFix(): void {
  for (const name of NAMES) {
    const s = stock[name];
    const k = tf.getKernel(name, BACKEND);
    if (!s || !k || !wrappers.has(k.kernelFunc)) continue;
    tf.unregisterKernel(name, BACKEND);
    tf.registerKernel(s);
  }
}
