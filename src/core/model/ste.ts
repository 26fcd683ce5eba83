/**
 * Piggyback's masking with the straight-through estimator (STE).
 *
 * Forward: m = binarize(s) (1 if s > τ else 0) or ternarize(s) (+1 if s > τ, -1 if s < 0, else 0),
 * and the layer uses W ⊙ m. Backward: ∂L/∂s := ∂L/∂m = ∂L/∂(W⊙m) ⊙ W (the threshold's zero
 * gradient is skipped). W is a constant captured by closure, so no gradient is computed for it.
 */
import { tf } from '../tf';
import type { MaskKind } from '../types';

/** The mask values for given scores (no gradient). */
export function maskFromScores(scores: tf.Tensor, threshold: number, kind: MaskKind): tf.Tensor {
  return tf.tidy(() => {
    const on = tf.cast(tf.greater(scores, threshold), 'float32');
    if (kind === 'binary') return on;
    const neg = tf.cast(tf.less(scores, 0), 'float32');
    return tf.sub(on, neg);
  });
}

/** Native kernel: inputs {w, s}, attrs {threshold, ternary}: W ⊙ mask(s) in one pass. */
export const MASK_WEIGHT_KERNEL = 'PiggybackMaskWeight';

/**
 * W ⊙ mask(s) as one kernel where the backend has it (native), else null. The same values as
 * tf.mul(W, maskFromScores(s)) (up to the sign of a zero): a weight where the mask is 1, its
 * negation where it is -1, 0 where it is 0.
 */
function fusedMaskWeight(weight: tf.Tensor, scores: tf.Tensor, threshold: number, kind: MaskKind): tf.Tensor | null {
  if (weight.dtype !== 'float32' || scores.dtype !== 'float32' || !tf.util.arraysEqual(weight.shape, scores.shape)) return null;
  if (tf.getKernel(MASK_WEIGHT_KERNEL, tf.getBackend()) === undefined) return null;
  return tf.engine().runKernel(MASK_WEIGHT_KERNEL, { w: weight, s: scores }, { threshold, ternary: kind === 'ternary' }) as tf.Tensor;
}

/**
 * Returns a differentiable function scores -> W ⊙ mask(scores) whose gradient w.r.t. the
 * scores is upstream ⊙ W (STE). `weight` must stay alive while the function is used.
 */
export function makeMaskedWeight(weight: tf.Tensor, threshold: number, kind: MaskKind): (scores: tf.Tensor) => tf.Tensor {
  return tf.customGrad(((scores: tf.Tensor) => {
    const value = fusedMaskWeight(weight, scores, threshold, kind) ?? tf.mul(weight, maskFromScores(scores, threshold, kind));
    return {
      value,
      gradFunc: (dy: tf.Tensor) => tf.mul(dy, weight),
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]) as (scores: tf.Tensor) => tf.Tensor;
}
