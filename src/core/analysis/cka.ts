/**
 * Linear CKA (Kornblith et al., ICML 2019) between two networks' activations on the same
 * images, through Gram matrices: with K = XXᵀ, L = YYᵀ over n images and H the centring
 * matrix, CKA = ⟨HKH, HLH⟩ / (‖HKH‖ ‖HLH‖). n×n Grams keep it cheap for wide conv layers
 * (p = h·w·c features per image), and equal the feature-space formula ‖YᵀX‖² / (‖XᵀX‖ ‖YᵀY‖)
 * on centred features.
 */
import { tf } from '../tf';

/** Gram matrix [n, n] of a batch of activations [n, ...] (flattened per image). */
export function gram(y: tf.Tensor): tf.Tensor2D {
  return tf.tidy(() => {
    const n = y.shape[0];
    const x = tf.reshape(y, [n, -1]) as tf.Tensor2D;
    return tf.matMul(x, x, false, true);
  });
}

/** H K H for a symmetric Gram K. */
function centre(k: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const rows = tf.mean(k, 1, true);
    const cols = tf.mean(k, 0, true);
    return tf.add(tf.sub(tf.sub(k, rows), cols), tf.mean(k)) as tf.Tensor2D;
  });
}

/** Linear CKA from two Gram matrices over the same n images, in [0, 1]. */
export function ckaFromGrams(k: tf.Tensor2D, l: tf.Tensor2D): number {
  const [kl, kk, ll] = tf.tidy(() => {
    const kc = centre(k);
    const lc = centre(l);
    return [tf.sum(tf.mul(kc, lc)), tf.sum(tf.mul(kc, kc)), tf.sum(tf.mul(lc, lc))];
  });
  const [a, b, c] = [kl.dataSync()[0], kk.dataSync()[0], ll.dataSync()[0]];
  tf.dispose([kl, kk, ll]);
  if (!(b > 0) || !(c > 0)) return b === c ? 1 : 0; // a constant layer: identical only to itself
  return Math.max(0, Math.min(1, a / Math.sqrt(b * c)));
}
