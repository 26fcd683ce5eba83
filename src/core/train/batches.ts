/** Turning Dataset slices into tensors, and batched prediction over a whole Dataset. */
import { tf } from '../tf';
import type { Dataset, EvalResult } from '../types';
import { inferenceBatchSize, readImages, readRange } from '../data/dataset';

export { inferenceBatchSize, INFERENCE_PIXELS } from '../data/dataset';

/**
 * Copies images/labels at positions start..end of `indices` (or of the dataset itself when
 * `indices` is null) into a [n, h, w, c] tensor and an int32 label tensor.
 */
export function batchTensors(ds: Dataset, indices: ArrayLike<number> | null, start: number, end: number): { x: tf.Tensor4D; y: tf.Tensor1D } {
  const n = end - start;
  const positions = new Int32Array(n);
  const labels = new Int32Array(n);
  for (let k = 0; k < n; k++) {
    const i = indices ? indices[start + k] : start + k;
    positions[k] = i;
    labels[k] = ds.labels[i];
  }
  // Only this batch is converted (and, for sets read per batch, decoded): memory stays bounded.
  const buf = !indices ? readRange(ds, start, end) : readImages(ds, positions);
  return { x: tf.tensor4d(buf, [n, ds.height, ds.width, ds.channels]), y: tf.tensor1d(labels, 'int32') };
}

/** Predicted class of every image, in dataset order (batches capped by inferenceBatchSize). */
export function predictClasses(ds: Dataset, logits: (x: tf.Tensor4D) => tf.Tensor2D, wantedBatch = 256, shouldStop?: () => void): Int32Array {
  const out = new Int32Array(ds.count);
  const batchSize = inferenceBatchSize(ds, wantedBatch);
  for (let s = 0; s < ds.count; s += batchSize) {
    shouldStop?.();
    const e = Math.min(ds.count, s + batchSize);
    const pred = tf.tidy(() => {
      const { x } = batchTensors(ds, null, s, e);
      return tf.argMax(logits(x), 1);
    });
    out.set(pred.dataSync() as Int32Array, s);
    pred.dispose();
  }
  return out;
}

/** Top-1 accuracy, per-class accuracy and confusion[true][pred] from predictions. */
export function scorePredictions(ds: Dataset, pred: Int32Array, seconds: number): EvalResult {
  const k = ds.classNames.length;
  const confusion = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  let correct = 0;
  for (let i = 0; i < ds.count; i++) {
    confusion[ds.labels[i]][pred[i]]++;
    if (pred[i] === ds.labels[i]) correct++;
  }
  const perClassAccuracy = confusion.map((row, c) => {
    const total = row.reduce((a, b) => a + b, 0);
    return total ? row[c] / total : 0;
  });
  return {
    accuracy: ds.count ? correct / ds.count : 0,
    perClassAccuracy,
    confusion,
    count: ds.count,
    seconds,
    imagesPerSecond: seconds > 0 ? ds.count / seconds : 0,
  };
}

export function evaluateLogits(ds: Dataset, logits: (x: tf.Tensor4D) => tf.Tensor2D, batchSize = 256, shouldStop?: () => void): EvalResult {
  const t0 = performance.now();
  const pred = predictClasses(ds, logits, batchSize, shouldStop);
  return scorePredictions(ds, pred, (performance.now() - t0) / 1000);
}
