/**
 * Residual backbones as TF.js LayersModels, laid out like torchvision's ResNet (BasicBlock:
 * conv3x3-BN-ReLU-conv3x3-BN, add, ReLU; a strided 1x1 conv + BN projection when the shape
 * changes; global average pooling at the end, no classifier). `resnet18` is the ImageNet
 * ResNet-18 (7x7/2 stem + max-pool); a small `stem: 'cifar'` variant keeps resolution for
 * 28-32 px inputs. Layer names follow Keras' conventions so cuts (--cut-at) read naturally.
 */
import { tf } from '../tf';

export interface ResNetSpec {
  /** BasicBlocks per stage, e.g. [2, 2, 2, 2] for ResNet-18. */
  blocks: number[];
  /** Output channels per stage, e.g. [64, 128, 256, 512]. */
  widths: number[];
  /** 'imagenet': 7x7/2 conv + 3x3/2 max-pool; 'cifar': one 3x3/1 conv. */
  stem: 'imagenet' | 'cifar';
  input: [number, number, number];
  seed?: number;
  name?: string;
}

/** torchvision's resnet18 (without fc) at the given input size. */
export function resnet18Spec(size: number, channels = 3): ResNetSpec {
  return { blocks: [2, 2, 2, 2], widths: [64, 128, 256, 512], stem: 'imagenet', input: [size, size, channels], name: 'resnet18' };
}

export function buildResNet(spec: ResNetSpec): tf.LayersModel {
  let s = spec.seed ?? 1;
  const init = () => tf.initializers.heNormal({ seed: s++ });
  const conv = (h: tf.SymbolicTensor, name: string, filters: number, kernelSize: number, strides: number): tf.SymbolicTensor =>
    tf.layers.conv2d({ name, filters, kernelSize, strides, padding: 'same', useBias: false, kernelInitializer: init() }).apply(h) as tf.SymbolicTensor;
  const bn = (h: tf.SymbolicTensor, name: string): tf.SymbolicTensor =>
    tf.layers.batchNormalization({ name, momentum: 0.9, epsilon: 1e-5 }).apply(h) as tf.SymbolicTensor;
  const relu = (h: tf.SymbolicTensor, name: string): tf.SymbolicTensor => tf.layers.reLU({ name }).apply(h) as tf.SymbolicTensor;

  const x = tf.input({ shape: spec.input, name: 'image' });
  let h: tf.SymbolicTensor;
  if (spec.stem === 'imagenet') {
    h = relu(bn(conv(x, 'conv1_conv', spec.widths[0], 7, 2), 'conv1_bn'), 'conv1_relu');
    h = tf.layers.maxPooling2d({ name: 'pool1_pool', poolSize: 3, strides: 2, padding: 'same' }).apply(h) as tf.SymbolicTensor;
  } else {
    h = relu(bn(conv(x, 'conv1_conv', spec.widths[0], 3, 1), 'conv1_bn'), 'conv1_relu');
  }
  let channels = spec.widths[0];
  spec.blocks.forEach((n, stage) => {
    const width = spec.widths[stage];
    for (let b = 0; b < n; b++) {
      const p = `conv${stage + 2}_block${b + 1}`;
      const stride = b === 0 && stage > 0 ? 2 : 1;
      let shortcut = h;
      if (stride !== 1 || channels !== width) shortcut = bn(conv(h, `${p}_0_conv`, width, 1, stride), `${p}_0_bn`);
      let y = relu(bn(conv(h, `${p}_1_conv`, width, 3, stride), `${p}_1_bn`), `${p}_1_relu`);
      y = bn(conv(y, `${p}_2_conv`, width, 3, 1), `${p}_2_bn`);
      h = relu(tf.layers.add({ name: `${p}_add` }).apply([shortcut, y]) as tf.SymbolicTensor, `${p}_out`);
      channels = width;
    }
  });
  h = tf.layers.globalAveragePooling2d({ name: 'avg_pool' }).apply(h) as tf.SymbolicTensor;
  return tf.model({ inputs: x, outputs: h, name: spec.name ?? 'resnet' });
}
