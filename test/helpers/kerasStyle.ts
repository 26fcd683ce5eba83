/**
 * A Keras-style image classifier built with TF.js layers, the way a user's own model.json
 * arrives: conv stem, a residual block, BatchNorm, global average pooling, dropout and a Dense
 * softmax top (Keras names: avg_pool, top_dropout, predictions). Optionally pretrained briefly
 * on a real task with model.fit, then saved as model.json + weights.
 */
import { tf } from '../../src/core/tf';
import { loadDataset } from '../../src/core/data';
import { saveLayersModelFile } from '../../src/core/model/modelIO';
import { tmpDir } from './engineFixtures';

export function buildKerasStyleClassifier(seed = 1, width = 16, classes = 10): tf.LayersModel {
  let s = seed;
  const init = () => tf.initializers.heNormal({ seed: s++ });
  const conv = (h: tf.SymbolicTensor, name: string, filters: number, strides = 1, relu = true) => {
    h = tf.layers.conv2d({ name, filters, kernelSize: 3, strides, padding: 'same', useBias: false, kernelInitializer: init() }).apply(h) as tf.SymbolicTensor;
    h = tf.layers.batchNormalization({ name: `${name}_bn`, momentum: 0.9 }).apply(h) as tf.SymbolicTensor;
    return relu ? (tf.layers.reLU({ name: `${name}_relu` }).apply(h) as tf.SymbolicTensor) : h;
  };
  const x = tf.input({ shape: [28, 28, 1], name: 'input_1' });
  let h = conv(x, 'stem', width, 2);
  h = conv(h, 'down1', 2 * width, 2);
  const r = conv(conv(h, 'res_a', 2 * width), 'res_b', 2 * width, 1, false);
  h = tf.layers.reLU({ name: 'res_out' }).apply(tf.layers.add({ name: 'res_add' }).apply([h, r])) as tf.SymbolicTensor;
  h = conv(h, 'down2', 4 * width, 2);
  h = tf.layers.globalAveragePooling2d({ name: 'avg_pool' }).apply(h) as tf.SymbolicTensor;
  h = tf.layers.dropout({ name: 'top_dropout', rate: 0.2, seed }).apply(h) as tf.SymbolicTensor;
  const y = tf.layers.dense({ name: 'predictions', units: classes, activation: 'softmax', kernelInitializer: init() }).apply(h) as tf.SymbolicTensor;
  return tf.model({ inputs: x, outputs: y, name: 'keras_style' });
}

/**
 * Builds the classifier, trains all of it (Adam, cross-entropy, as a Keras user would) on
 * `dataset`, saves it and returns the model.json path and its test accuracy.
 */
export async function pretrainedKerasStyleClassifier(opts: { dataset: string; trainPerClass: number; epochs: number; seed?: number }): Promise<{ modelPath: string; testAccuracy: number }> {
  const seed = opts.seed ?? 1;
  const data = await loadDataset(opts.dataset, { height: 28, width: 28, channels: 1 }, { trainPerClass: opts.trainPerClass, testLimit: 500, valFraction: 0, seed });
  const model = buildKerasStyleClassifier(seed, 16, data.train.classNames.length);
  const xs = tf.tensor4d(data.train.images, [data.train.count, 28, 28, 1]);
  const ys = tf.oneHot(tf.tensor1d(data.train.labels, 'int32'), data.train.classNames.length);
  model.compile({ optimizer: tf.train.adam(2e-3), loss: 'categoricalCrossentropy' });
  // The loader already shuffled train with the seed; no fit-time shuffle keeps the run deterministic.
  await model.fit(xs, ys, { epochs: opts.epochs, batchSize: 32, shuffle: false, verbose: 0 });
  const testAccuracy = tf.tidy(() => {
    const xt = tf.tensor4d(data.test.images, [data.test.count, 28, 28, 1]);
    return tf.mean(tf.equal(tf.argMax(model.predict(xt) as tf.Tensor, 1), tf.tensor1d(data.test.labels, 'int32'))).dataSync()[0];
  });
  xs.dispose();
  ys.dispose();
  const modelPath = await saveLayersModelFile(model, tmpDir('pb-keras-'));
  model.dispose();
  return { modelPath, testAccuracy };
}
