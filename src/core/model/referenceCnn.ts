/**
 * The project's own small backbone ("reference CNN"): 4 conv (3x3, 32-32-64-64, each followed
 * by BatchNorm and ReLU, max-pool after conv 2 and 4) and a 128-unit dense layer. It is
 * pretrained on a base task by `piggyback pretrain` and committed under models/reference-cnn;
 * the benchmark compares the same network against PyTorch.
 */
import { tf } from '../tf';

export const REFERENCE_INPUT: [number, number, number] = [28, 28, 1];

/** The backbone part only (ends at fc1's ReLU): what gets masked. */
export function buildReferenceCnn(seed = 1, input: [number, number, number] = REFERENCE_INPUT): tf.LayersModel {
  let s = seed;
  const init = () => tf.initializers.heNormal({ seed: s++ });
  const x = tf.input({ shape: input, name: 'image' });
  let h: tf.SymbolicTensor = x;
  const convs: Array<[string, number]> = [['conv1', 32], ['conv2', 32], ['conv3', 64], ['conv4', 64]];
  convs.forEach(([name, filters], i) => {
    h = tf.layers.conv2d({ name, filters, kernelSize: 3, padding: 'same', useBias: false, kernelInitializer: init() }).apply(h) as tf.SymbolicTensor;
    h = tf.layers.batchNormalization({ name: `bn${i + 1}`, momentum: 0.9 }).apply(h) as tf.SymbolicTensor;
    h = tf.layers.reLU({ name: `relu${i + 1}` }).apply(h) as tf.SymbolicTensor;
    if (i % 2 === 1) h = tf.layers.maxPooling2d({ name: `pool${(i + 1) / 2}`, poolSize: 2 }).apply(h) as tf.SymbolicTensor;
  });
  h = tf.layers.flatten({ name: 'flatten' }).apply(h) as tf.SymbolicTensor;
  h = tf.layers.dense({ name: 'fc1', units: 128, activation: 'relu', kernelInitializer: init() }).apply(h) as tf.SymbolicTensor;
  return tf.model({ inputs: x, outputs: h, name: 'reference_cnn' });
}
