/** A small residual net (28x28x3) for the native dispatch test and bench/profile-native.ts (--model res). */
import { tf } from '../../src/core/tf';

/**
 * A small residual net: stem conv (stride 2) + BN + ReLU; a block with a 1x1 expansion, a
 * depthwise 3x3 conv, ReLU6, a 1x1 projection and an Add skip; a strided block (ZeroPadding2D +
 * 'valid' depthwise stride 2) whose skip is a strided 1x1 projection conv; global average pooling.
 */
export function smallResidualNet(seed = 10): tf.LayersModel {
  const init = () => tf.initializers.heNormal({ seed: seed++ });
  const conv = (h: tf.SymbolicTensor, filters: number, kernelSize: number, strides = 1, padding: 'same' | 'valid' = 'same') =>
    tf.layers.conv2d({ filters, kernelSize, strides, padding, useBias: false, kernelInitializer: init() }).apply(h) as tf.SymbolicTensor;
  const dw = (h: tf.SymbolicTensor, strides: number, padding: 'same' | 'valid') =>
    tf.layers.depthwiseConv2d({ kernelSize: 3, strides, padding, useBias: false, depthwiseInitializer: init() }).apply(h) as tf.SymbolicTensor;
  const bn = (h: tf.SymbolicTensor) => tf.layers.batchNormalization({ momentum: 0.9 }).apply(h) as tf.SymbolicTensor;
  const relu6 = (h: tf.SymbolicTensor) => tf.layers.reLU({ maxValue: 6 }).apply(h) as tf.SymbolicTensor;
  const x = tf.input({ shape: [28, 28, 3] });
  let h = tf.layers.reLU().apply(bn(conv(x, 16, 3, 2))) as tf.SymbolicTensor; // 14x14x16
  // block 1: expand, depthwise, project, identity skip
  let b = relu6(bn(conv(h, 32, 1)));
  b = relu6(bn(dw(b, 1, 'same')));
  b = bn(conv(b, 16, 1));
  h = tf.layers.add().apply([h, b]) as tf.SymbolicTensor;
  // block 2: strided depthwise after explicit padding, strided 1x1 projection on the skip
  let c = relu6(bn(conv(h, 48, 1)));
  c = tf.layers.zeroPadding2d({ padding: [[0, 1], [0, 1]] }).apply(c) as tf.SymbolicTensor;
  c = relu6(bn(dw(c, 2, 'valid'))); // 7x7x48
  c = bn(conv(c, 24, 1));
  const skip = bn(conv(h, 24, 1, 2));
  h = tf.layers.add().apply([skip, c]) as tf.SymbolicTensor;
  h = tf.layers.globalAveragePooling2d({}).apply(h) as tf.SymbolicTensor;
  return tf.model({ inputs: x, outputs: h, name: 'small_residual' });
}

