/**
 * ReLU6 (or ReLU) after a frozen BatchNorm as one op with one gradient pass. MobileNetV2 applies
 * clip(relu(batchNorm(x)), 0, 6) 22 times per step of the nsfwjs cut; as separate ops the forward
 * pass runs BN, Relu and ClipByValue and the backward pass ClipByValue's, Relu's and BN's
 * gradients (three passes over the activations). Here the forward pass is BN then one
 * ClipByValue (the same values: clip(relu(z), 0, m) = clip(z, 0, m)), and the gradient w.r.t. x
 * is dy * a where 0 < z <= m, else 0 (a = gamma / sqrt(var + eps), the BN gradient the engine
 * already used): one kernel on the native backend, a few generic ops elsewhere. The values equal
 * the separate ops' (up to the sign of zero). A plain ReLU (max Infinity: ResNets, VGG-style nets,
 * the reference CNN) gets the same one-pass gradient, and on the native backend a one-pass forward
 * (BN_RELU_KERNEL), the same values as FusedBatchNorm then Relu.
 */
import { tf } from '../tf';
import type { BnValues } from '../types';

/** Native kernel: inputs {dy, z, a}, attrs {max}. */
export const BN_CLIP_GRAD_KERNEL = 'PiggybackBnClipGrad';
/** Native kernel: FusedBatchNorm's inputs and attrs; relu(batchNorm(x)) in one pass. */
export const BN_RELU_KERNEL = 'PiggybackBnRelu';

type FrozenBnParams = BnValues<tf.Tensor>;

/** The per-channel factor of a frozen BN's gradient w.r.t. its input. */
function frozenBnScale(p: FrozenBnParams, epsilon: number): tf.Tensor {
  return tf.div(p.gamma, tf.sqrt(tf.add(p.movingVariance, epsilon)));
}

/**
 * BatchNorm in inference mode with fixed parameters. The forward pass is TF.js's own batchNorm
 * (so outputs equal the model's bit for bit); the gradient w.r.t. x is the per-channel scale
 * gamma / sqrt(var + eps), one multiply, where TF.js's generic batchNorm gradient makes
 * several passes over the activations. Parameters get no gradient: they are frozen here (a
 * task that trains its BN runs in training mode).
 */
export function frozenBatchNorm(x: tf.Tensor, p: FrozenBnParams, epsilon: number): tf.Tensor {
  const f = tf.customGrad(((input: tf.Tensor) => ({
    value: tf.batchNorm(input, p.movingMean, p.movingVariance, p.beta, p.gamma, epsilon),
    gradFunc: (dy: tf.Tensor) => tf.mul(dy, frozenBnScale(p, epsilon)),
  })) as unknown as Parameters<typeof tf.customGrad>[0]) as (input: tf.Tensor) => tf.Tensor;
  return f(x);
}

function bnClipGrad(dy: tf.Tensor, z: tf.Tensor, a: tf.Tensor, max: number): tf.Tensor {
  const native =
    dy.dtype === 'float32' && z.dtype === 'float32' && tf.util.arraysEqual(dy.shape, z.shape) &&
    a.rank === 1 && a.shape[0] === z.shape[z.rank - 1] && tf.getKernel(BN_CLIP_GRAD_KERNEL, tf.getBackend()) !== undefined;
  if (native) return tf.engine().runKernel(BN_CLIP_GRAD_KERNEL, { dy, z, a }, { max }) as tf.Tensor;
  return tf.mul(tf.where(tf.logicalAnd(tf.greater(z, 0), tf.lessEqual(z, max)), dy, tf.zerosLike(dy)), a);
}

/**
 * clip(relu(batchNorm(x)), 0, max) with the BN frozen (max Infinity: relu(batchNorm(x))); parameters get no gradient.
 * Where the backend has BN_RELU_KERNEL, a plain ReLU's forward is one pass too, and the gradient
 * reads its output y instead of z: y > 0 exactly where z > 0 (NaN in both), so the gradient is the same.
 */
export function frozenBnReluMax(x: tf.Tensor, p: FrozenBnParams, epsilon: number, max: number): tf.Tensor {
  if (!Number.isFinite(max) && x.dtype === 'float32' && tf.getKernel(BN_RELU_KERNEL, tf.getBackend()) !== undefined) {
    const g = tf.customGrad(((input: tf.Tensor, save: tf.GradSaveFunc) => {
      const y = tf.engine().runKernel(BN_RELU_KERNEL, { x: input, mean: p.movingMean, variance: p.movingVariance, offset: p.beta, scale: p.gamma }, { varianceEpsilon: epsilon }) as tf.Tensor;
      save([y]);
      return { value: y, gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => bnClipGrad(dy, saved[0], frozenBnScale(p, epsilon), max) };
    }) as unknown as Parameters<typeof tf.customGrad>[0]) as (input: tf.Tensor) => tf.Tensor;
    return g(x);
  }
  const f = tf.customGrad(((input: tf.Tensor, save: tf.GradSaveFunc) => {
    const z = tf.batchNorm(input, p.movingMean, p.movingVariance, p.beta, p.gamma, epsilon);
    save([z]);
    return {
      value: Number.isFinite(max) ? tf.clipByValue(z, 0, max) : tf.relu(z),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => bnClipGrad(dy, saved[0], frozenBnScale(p, epsilon), max),
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]) as (input: tf.Tensor) => tf.Tensor;
  return f(x);
}
