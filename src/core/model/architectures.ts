/**
 * The backbones `piggyback pretrain --arch` can build. `reference` is the original small CNN
 * (its fc1 holds 86% of the masked weights and most of its units die on new tasks); `vgg6`
 * and `resnet8` end in global average pooling, so no single layer dominates the mask and every
 * feature is a channel mean (a unit only dies if its whole channel does).
 */
import { tf } from '../tf';
import { buildReferenceCnn } from './referenceCnn';
import { buildResNet } from './resnet';

export { ARCHITECTURES, ARCHITECTURE_DOCS, isArchitecture, type Architecture } from './architectureNames';
import type { Architecture } from './architectureNames';

/** VGG-style: pairs of 3x3 convs (no bias, BN, ReLU) per stage, a 2x2 max-pool between stages, GAP. */
export function buildVgg6(seed = 1, input: [number, number, number] = [28, 28, 1]): tf.LayersModel {
  let s = seed;
  const init = () => tf.initializers.heNormal({ seed: s++ });
  const x = tf.input({ shape: input, name: 'image' });
  let h: tf.SymbolicTensor = x;
  const stages = [32, 64, 96];
  let k = 0;
  stages.forEach((filters, stage) => {
    if (stage > 0) h = tf.layers.maxPooling2d({ name: `pool${stage}`, poolSize: 2 }).apply(h) as tf.SymbolicTensor;
    for (let j = 0; j < 2; j++) {
      k++;
      h = tf.layers.conv2d({ name: `conv${k}`, filters, kernelSize: 3, padding: 'same', useBias: false, kernelInitializer: init() }).apply(h) as tf.SymbolicTensor;
      h = tf.layers.batchNormalization({ name: `bn${k}`, momentum: 0.9, epsilon: 1e-5 }).apply(h) as tf.SymbolicTensor;
      h = tf.layers.reLU({ name: `relu${k}` }).apply(h) as tf.SymbolicTensor;
    }
  });
  h = tf.layers.globalAveragePooling2d({ name: 'avg_pool' }).apply(h) as tf.SymbolicTensor;
  return tf.model({ inputs: x, outputs: h, name: 'vgg6' });
}

export function buildArchitecture(arch: Architecture, seed: number, input: [number, number, number]): tf.LayersModel {
  if (arch === 'reference') return buildReferenceCnn(seed, input);
  if (arch === 'vgg6') return buildVgg6(seed, input);
  return buildResNet({ blocks: [1, 1, 1], widths: [32, 64, 96], stem: 'cifar', input, seed, name: 'resnet8' });
}
