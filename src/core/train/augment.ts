/**
 * The paper's training augmentation for a batch: a random crop (the image padded with zeros by
 * 1/8 of its size on every side, then cut back to its size at a random offset) and a
 * horizontal flip of half the images, both drawn from `seed` (same seed, same batch). One
 * cropAndResize does both: integer offsets with nearest sampling copy pixels exactly, and a
 * box whose x1 > x2 reads the crop mirrored.
 */
import { tf } from '../tf';
import { mulberry32 } from '../data/split';

export function augmentBatch(x: tf.Tensor4D, seed: number): tf.Tensor4D {
  return tf.tidy(() => {
    const [n, h, w] = x.shape;
    const ph = Math.max(1, Math.round(h / 8));
    const pw = Math.max(1, Math.round(w / 8));
    const padded = tf.pad(x, [[0, 0], [ph, ph], [pw, pw], [0, 0]]);
    const H = h + 2 * ph;
    const W = w + 2 * pw;
    const r = mulberry32(seed);
    const boxes: number[][] = [];
    for (let i = 0; i < n; i++) {
      const dy = Math.floor(r() * (2 * ph + 1));
      const dx = Math.floor(r() * (2 * pw + 1));
      const y1 = dy / (H - 1);
      const y2 = (dy + h - 1) / (H - 1);
      const xa = dx / (W - 1);
      const xb = (dx + w - 1) / (W - 1);
      boxes.push(r() < 0.5 ? [y1, xa, y2, xb] : [y1, xb, y2, xa]);
    }
    // 'nearest': the sample points are integers up to float rounding, so pixels are copied exactly.
    return tf.image.cropAndResize(padded, tf.tensor2d(boxes), tf.tensor1d(Array.from({ length: n }, (_, i) => i), 'int32'), [h, w], 'nearest') as tf.Tensor4D;
  });
}
