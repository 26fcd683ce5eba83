/**
 * Measures the wasm conv gradient kernels (src/core/kernels/wasmConvGrads.ts).
 *
 *   npx tsx bench/kernels.ts [--steps N] [--batch B]
 *
 * 1. A training step (forward + backward + SGD) of a 4-conv CNN on 28x28x1, batch 64:
 *    conv3x3 32, conv3x3 32, maxpool 2, conv3x3 64, conv3x3 64, maxpool 2, dense 128, dense 10
 *    ('same', ReLU), softmax cross-entropy. Reports img/s with the stock wasm
 *    Conv2DBackpropInput and with the rewrite, interleaved, plus a per-kernel time split of
 *    one configuration (top-level kernels only; the ops run inside our kernels count towards
 *    the kernel that ran them).
 * 2. Micro-benchmarks per kernel for the CNN's layer shapes and MobileNetV2-like depthwise
 *    shapes, as ratios to the forward conv of the same layer.
 * Timings on a shared 2-core machine are noisy: compare ratios within one run.
 */
import { tf } from '../src/core/tf';
import { initBackend } from '../src/core/backend';
import {
  useFastConv2DBackpropInput,
  depthwiseBackpropFilterImpl,
  depthwiseBackpropFilterOps,
  depthwiseBackpropInputConv,
  depthwiseBackpropInputLoop,
} from '../src/core/kernels/wasmConvGrads';
import { registerWasmMatMulFix, unregisterWasmMatMulFix } from '../src/core/kernels/wasmMatMul';
import { registerWasmMaxPoolGrad, unregisterWasmMaxPoolGrad } from '../src/core/kernels/wasmMaxPoolGrad';

const args = process.argv.slice(2);
const argNum = (name: string, dflt: number): number => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const STEPS = argNum('--steps', 12);
const BATCH = argNum('--batch', 64);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

// ---------------------------------------------------------------------------------------------
// per-kernel timing: wrap every wasm kernel; attribute time to top-level kernels only

interface KernelStat {
  ms: number;
  calls: number;
}

function instrument(stats: Map<string, KernelStat>): () => void {
  const originals = tf.getKernelsForBackend('wasm');
  let depth = 0;
  for (const k of originals) {
    const inner = k.kernelFunc;
    tf.unregisterKernel(k.kernelName, 'wasm');
    tf.registerKernel({
      ...k,
      kernelFunc: (p) => {
        if (depth > 0) return inner(p);
        depth++;
        const t0 = performance.now();
        try {
          return inner(p);
        } finally {
          depth--;
          const st = stats.get(k.kernelName) ?? { ms: 0, calls: 0 };
          st.ms += performance.now() - t0;
          st.calls++;
          stats.set(k.kernelName, st);
        }
      },
    });
  }
  return () => {
    for (const k of originals) {
      tf.unregisterKernel(k.kernelName, 'wasm');
      tf.registerKernel(k);
    }
  };
}

// ---------------------------------------------------------------------------------------------
// the CNN

function glorot(shape: number[], fanIn: number, fanOut: number): tf.Variable {
  const lim = Math.sqrt(6 / (fanIn + fanOut));
  return tf.variable(tf.randomUniform(shape, -lim, lim));
}

function makeCnn() {
  const convs = [
    [1, 32],
    [32, 32],
    [32, 64],
    [64, 64],
  ].map(([ci, co]) => ({ w: glorot([3, 3, ci, co], 9 * ci, 9 * co), b: tf.variable(tf.zeros([co])) }));
  const d1 = { w: glorot([7 * 7 * 64, 128], 7 * 7 * 64, 128), b: tf.variable(tf.zeros([128])) };
  const d2 = { w: glorot([128, 10], 128, 10), b: tf.variable(tf.zeros([10])) };
  const vars = [...convs.flatMap((c) => [c.w, c.b]), d1.w, d1.b, d2.w, d2.b];
  const forward = (x: tf.Tensor4D): tf.Tensor2D => {
    let h: tf.Tensor4D = x;
    convs.forEach((c, i) => {
      h = tf.relu(tf.add(tf.conv2d(h, c.w as tf.Tensor4D, 1, 'same'), c.b)) as tf.Tensor4D;
      if (i === 1 || i === 3) h = tf.maxPool(h, 2, 2, 'valid');
    });
    const f = tf.reshape(h, [h.shape[0], -1]) as tf.Tensor2D;
    const z = tf.relu(tf.add(tf.matMul(f, d1.w as tf.Tensor2D), d1.b)) as tf.Tensor2D;
    return tf.add(tf.matMul(z, d2.w as tf.Tensor2D), d2.b) as tf.Tensor2D;
  };
  return { vars, forward };
}

async function benchStep(): Promise<void> {
  const { vars, forward } = makeCnn();
  const opt = tf.train.sgd(0.01);
  const x = tf.randomUniform([BATCH, 28, 28, 1]) as tf.Tensor4D;
  const y = tf.oneHot(tf.randomUniform([BATCH], 0, 10, 'int32') as tf.Tensor1D, 10);
  const step = (): void => {
    const cost = opt.minimize(() => tf.losses.softmaxCrossEntropy(y, forward(x)) as tf.Scalar, true, vars);
    cost?.dataSync();
    cost?.dispose();
  };
  const timeSteps = (n: number): number[] => {
    const ts: number[] = [];
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      step();
      ts.push(performance.now() - t0);
    }
    return ts;
  };

  console.log(`\n## CNN training step, batch ${BATCH}, ${STEPS} steps per configuration (interleaved)`);
  // [name, level]: 0 = only the missing kernels added (stock Conv2DBackpropInput, matMul,
  // MaxPoolGrad); 1 = + rewritten Conv2DBackpropInput; 2 = + explicit-transpose matMul;
  // 3 = + JS MaxPoolGrad (the default set).
  const configs: Array<[string, number]> = [
    ['missing kernels only', 0],
    ['+ Conv2DBackpropInput rewrite', 1],
    ['+ matMul transposes', 2],
    ['+ MaxPoolGrad (default)', 3],
  ];
  const use = (level: number): void => {
    useFastConv2DBackpropInput(level >= 1);
    if (level >= 2) registerWasmMatMulFix();
    else unregisterWasmMatMulFix();
    if (level >= 3) registerWasmMaxPoolGrad();
    else unregisterWasmMaxPoolGrad();
  };
  const times = new Map<string, number[]>(configs.map(([n]) => [n, []]));
  for (const [, level] of configs) {
    use(level);
    timeSteps(2); // warm-up
  }
  const rounds = 3;
  for (let r = 0; r < rounds; r++) {
    for (const [name, level] of configs) {
      use(level);
      times.get(name)!.push(...timeSteps(Math.ceil(STEPS / rounds)));
    }
  }
  const ips = new Map<string, number>();
  for (const [name] of configs) {
    const med = median(times.get(name)!);
    ips.set(name, (BATCH * 1000) / med);
    console.log(`${name.padEnd(32)} ${med.toFixed(0).padStart(5)} ms/step  ${((BATCH * 1000) / med).toFixed(0).padStart(4)} img/s`);
  }
  const base = ips.get(configs[0][0])!;
  console.log(`whole-step speed-up vs the first row: ${configs.slice(1).map(([n]) => `${n}: ${(ips.get(n)! / base).toFixed(2)}x`).join(', ')}`);

  for (const [name, level] of [configs[0], configs[configs.length - 1]]) {
    use(level);
    const stats = new Map<string, KernelStat>();
    const restore = instrument(stats);
    const n = 5;
    const t0 = performance.now();
    timeSteps(n);
    const total = performance.now() - t0;
    restore();
    console.log(`\n### per-kernel split, ${name} (top-level kernels, ${n} steps, ${(total / n).toFixed(0)} ms/step)`);
    const rows = [...stats.entries()].sort((a, b) => b[1].ms - a[1].ms);
    let shown = 0;
    for (const [k, st] of rows) {
      if (shown++ >= 14) break;
      console.log(`${k.padEnd(36)} ${(st.ms / n).toFixed(1).padStart(7)} ms/step  ${((100 * st.ms) / total).toFixed(1).padStart(5)}%  (${st.calls / n} calls/step)`);
    }
    const rest = rows.slice(14).reduce((a, [, st]) => a + st.ms, 0);
    console.log(`${'(other kernels)'.padEnd(36)} ${(rest / n).toFixed(1).padStart(7)} ms/step  ${((100 * rest) / total).toFixed(1).padStart(5)}%`);
  }
  use(3);
  tf.dispose([x, y, ...vars]);
  opt.dispose();
}

// ---------------------------------------------------------------------------------------------
// micro-benchmarks

function timeIt(f: () => tf.Tensor, reps = 7): number {
  // (Not tf.tidy(() => f().dataSync()): tidy walks a returned typed array element by element.)
  const once = (): number => {
    const t0 = performance.now();
    const r = tf.tidy(f);
    r.dataSync();
    const dt = performance.now() - t0;
    r.dispose();
    return dt;
  };
  once(); // warm-up
  const ts: number[] = [];
  for (let i = 0; i < reps; i++) ts.push(once());
  return median(ts);
}

const runKernel = (kernel: string, inputs: tf.NamedTensorMap, attrs: object): tf.Tensor =>
  tf.engine().runKernel(kernel, inputs, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;

function benchConvKernels(): void {
  console.log('\n## conv kernels per layer (ms, median; ratio to the forward conv of the layer)');
  const layers: Array<[string, [number, number, number, number], [number, number, number, number], number]> = [
    ['conv1 28x28 1->32', [BATCH, 28, 28, 1], [3, 3, 1, 32], 1],
    ['conv2 28x28 32->32', [BATCH, 28, 28, 32], [3, 3, 32, 32], 1],
    ['conv3 14x14 32->64', [BATCH, 14, 14, 32], [3, 3, 32, 64], 1],
    ['conv4 14x14 64->64', [BATCH, 14, 14, 64], [3, 3, 64, 64], 1],
    ['s2 28x28 32->64', [BATCH, 28, 28, 32], [3, 3, 32, 64], 2],
  ];
  console.log('layer                  fwd   dW(ours)   dx(stock)   dx(ours)');
  for (const [name, xs, ws, s] of layers) {
    const x = tf.randomUniform(xs) as tf.Tensor4D;
    const w = tf.randomUniform(ws) as tf.Tensor4D;
    const y = tf.conv2d(x, w, s, 'same');
    const fwd = timeIt(() => tf.conv2d(x, w, s, 'same'));
    const common = { strides: s, pad: 'same', dataFormat: 'NHWC' };
    const dW = timeIt(() => runKernel('Conv2DBackpropFilter', { x, dy: y }, { ...common, filterShape: ws }));
    useFastConv2DBackpropInput(false);
    const dxStock = timeIt(() => runKernel('Conv2DBackpropInput', { dy: y, filter: w }, { ...common, inputShape: xs }), 3);
    useFastConv2DBackpropInput(true);
    const dxOurs = timeIt(() => runKernel('Conv2DBackpropInput', { dy: y, filter: w }, { ...common, inputShape: xs }));
    const r = (v: number): string => `${v.toFixed(1).padStart(6)} (${(v / fwd).toFixed(1)}x)`;
    console.log(`${name.padEnd(20)} ${fwd.toFixed(1).padStart(5)} ${r(dW)} ${r(dxStock)} ${r(dxOurs)}`);
    tf.dispose([x, w, y]);
  }
}

function benchDepthwise(): void {
  console.log('\n## depthwise kernels, MobileNetV2-like shapes (ms, median; ratio to the forward)');
  const cases: Array<[string, [number, number, number, number], number, 'same' | 'valid']> = [
    ['112x112x32 s1 same', [8, 112, 112, 32], 1, 'same'],
    ['56x56x144 s1 same', [8, 56, 56, 144], 1, 'same'],
    ['113x113x96 s2 valid', [8, 113, 113, 96], 2, 'valid'],
    ['14x14x576 s1 same', [8, 14, 14, 576], 1, 'same'],
  ];
  console.log('shape                    fwd | dW: JS loop (used)  tf-ops version | dx: depthwise-conv rewrite  JS loop');
  for (const [name, xs, s, pad] of cases) {
    const x = tf.randomUniform(xs) as tf.Tensor4D;
    const w = tf.randomUniform([3, 3, xs[3], 1]) as tf.Tensor4D;
    const y = tf.depthwiseConv2d(x, w, s, pad);
    const fwd = timeIt(() => tf.depthwiseConv2d(x, w, s, pad), 5);
    const fAttrs = { strides: s, pad, dilations: 1, filterShape: w.shape };
    const iAttrs = { strides: s, pad, dilations: 1, inputShape: xs };
    const dWLoop = timeIt(() => depthwiseBackpropFilterImpl(x, y, fAttrs), 5);
    const dWOps = timeIt(() => depthwiseBackpropFilterOps(x, y, fAttrs), 2);
    const dxConv = timeIt(() => depthwiseBackpropInputConv(y, w, iAttrs), 5);
    const dxLoop = timeIt(() => depthwiseBackpropInputLoop(y, w, iAttrs), 5);
    const r = (v: number): string => `${v.toFixed(1).padStart(7)} (${(v / fwd).toFixed(1)}x)`;
    console.log(`${name.padEnd(22)} ${fwd.toFixed(1).padStart(6)} | ${r(dWLoop)} ${r(dWOps)} | ${r(dxConv)} ${r(dxLoop)}`);
    tf.dispose([x, w, y]);
  }
}

function benchMaxPoolGrad(): void {
  console.log('\n## MaxPoolGrad 2x2/2 (ms, median; ratio to the forward maxPool)');
  for (const xs of [[BATCH, 28, 28, 32], [BATCH, 14, 14, 64]] as Array<[number, number, number, number]>) {
    const x = tf.randomUniform(xs) as tf.Tensor4D;
    const y = tf.maxPool(x, 2, 2, 'valid');
    const fwd = timeIt(() => tf.maxPool(x, 2, 2, 'valid'));
    const grad = (): number => timeIt(() => runKernel('MaxPoolGrad', { dy: y, input: x, output: y }, { filterSize: 2, strides: 2, pad: 'valid' }));
    unregisterWasmMaxPoolGrad();
    const gStock = grad();
    registerWasmMaxPoolGrad();
    const gOurs = grad();
    console.log(`${xs.join('x').padEnd(14)} fwd ${fwd.toFixed(1)}  grad stock ${gStock.toFixed(1)} (${(gStock / fwd).toFixed(1)}x)  grad ours ${gOurs.toFixed(1)} (${(gOurs / fwd).toFixed(1)}x)`);
    tf.dispose([x, y]);
  }
}

async function main(): Promise<void> {
  const info = await initBackend('wasm');
  console.log(`backend: ${info.detail}; tfjs ${tf.version_core}`);
  await benchStep();
  benchConvKernels();
  if (!args.includes('--no-depthwise')) benchDepthwise();
  if (!args.includes('--no-maxpool')) benchMaxPoolGrad();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
