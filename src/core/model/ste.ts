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

/**
 * Returns a differentiable function scores -> W ⊙ mask(scores) whose gradient w.r.t. the
 * scores is upstream ⊙ W (STE). `weight` must stay alive while the function is used.
 */
export function makeMaskedWeight(weight: tf.Tensor, threshold: number, kind: MaskKind): (scores: tf.Tensor) => tf.Tensor {
  return tf.customGrad(((scores: tf.Tensor) => {
    const value = tf.mul(weight, maskFromScores(scores, threshold, kind));
    return {
      value,
      gradFunc: (dy: tf.Tensor) => tf.mul(dy, weight),
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]) as (scores: tf.Tensor) => tf.Tensor;
}
