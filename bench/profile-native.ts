/**
 * Per-kernel profile of Piggyback mask training on a TF.js backend (default 'native').
 *
 *   npx tsx bench/profile-native.ts [--model mnv2|ref|res|resnet18] [--hw 32] [--batch 16] [--steps 6]
 *                                   [--warmup 2] [--backend native|wasm|cpu] [--top 25] [--profile 0|1]
 *
 * Adam is the engine's (src/core/train/adam.ts). mnv2: nsfwjs@4.3.0's MobileNetV2 cut at block_10_project_BN (every conv masked, BN frozen),
 * at hw x hw x 3 inputs; ref: the reference CNN (28x28x1); res: the small residual net of the
 * native dispatch test (28x28x3). Runs `trainStep` (the engine's own
 * training step) and reports img/s over the timed steps (uninstrumented), then a per-kernel
 * split of as many more steps: every kernel registered for the backend is wrapped with a timer, so the time of a
 * kernel is its own plus whatever JS kernels it calls directly (nested engine kernels are not
 * double counted: only the outermost is charged). "outside kernels" is the rest of the step
 * (tape, gradient bookkeeping, tensor allocation). Also prints, per kernel, how many calls ran
 * natively and how many fell back to the JS cpu kernel (nativeStats).
 * Machine load moves absolute numbers: compare within one run and quote `uptime`.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { tf } from '../src/core/tf';
import { initBackend, type BackendName } from '../src/core/backend';
import { Backbone } from '../src/core/model/backbone';
import { buildReferenceCnn } from '../src/core/model/referenceCnn';
import { buildResNet, resnet18Spec } from '../src/core/model/resnet';
import { extractNsfwjsMobilenet, MOBILENET_DEFAULT_CUT } from '../src/core/model/nsfwjsMobilenet';
import { PiggybackNet } from '../src/core/train/taskNets';
import { trainStep } from '../src/core/train/loop';
import { adam } from '../src/core/train/adam';
import { smallResidualNet } from '../test/helpers/residualNet';
import { nativeStats, resetNativeStats } from '../src/core/native/nativeBackend';

const argv = process.argv.slice(2);
const arg = (name: string, dflt: string): string => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : dflt;
};
const MODEL = arg('--model', 'mnv2');
const HW = Number(arg('--hw', '32'));
const BATCH = Number(arg('--batch', '16'));
const STEPS = Number(arg('--steps', '6'));
const WARMUP = Number(arg('--warmup', '2'));
const BACKEND = arg('--backend', 'native') as BackendName;
const TOP = Number(arg('--top', '25'));
const PROFILE = arg('--profile', '1') !== '0';

interface Acc {
  ms: number;
  calls: number;
  shapes: Map<string, { ms: number; calls: number }>;
}
const acc = new Map<string, Acc>();
let depth = 0;
let recording = false;

/** Re-registers every kernel of `backend` with a timer around it (outermost call only). */
function instrument(backend: string): void {
  for (const k of tf.getKernelsForBackend(backend)) {
    const f = k.kernelFunc;
    tf.unregisterKernel(k.kernelName, backend);
    tf.registerKernel({
      ...k,
      kernelFunc: (args) => {
        if (depth > 0 || !recording) {
          depth++;
          try {
            return f(args);
          } finally {
            depth--;
          }
        }
        depth++;
        const t0 = performance.now();
        try {
          return f(args);
        } finally {
          const ms = performance.now() - t0;
          depth--;
          let a = acc.get(k.kernelName);
          if (!a) acc.set(k.kernelName, (a = { ms: 0, calls: 0, shapes: new Map() }));
          a.ms += ms;
          a.calls++;
          const key = Object.values(args.inputs)
            .map((t) => (t ? `${t.dtype === 'float32' ? '' : t.dtype}[${t.shape.join(',')}]` : '-'))
            .join(' ');
          const s = a.shapes.get(key) ?? { ms: 0, calls: 0 };
          s.ms += ms;
          s.calls++;
          a.shapes.set(key, s);
        }
      },
    });
  }
}

async function main(): Promise<void> {
  const info = await initBackend(BACKEND);
  let backbone: Backbone;
  let inShape: [number, number, number];
  if (MODEL === 'ref') {
    backbone = Backbone.fromModel(buildReferenceCnn(1), 'ref', '(in memory)');
    inShape = [28, 28, 1];
  } else if (MODEL === 'res') {
    backbone = Backbone.fromModel(smallResidualNet(), 'res', '(in memory)');
    inShape = [28, 28, 3];
  } else if (MODEL === 'resnet18') {
    backbone = Backbone.fromModel(buildResNet(resnet18Spec(HW)), 'resnet18', '(in memory)');
    inShape = [HW, HW, 3];
  } else {
    const modelPath = extractNsfwjsMobilenet(path.join(os.tmpdir(), 'piggyback-profile-mnv2'));
    backbone = await Backbone.load(modelPath, { cutAt: MOBILENET_DEFAULT_CUT, inputHW: [HW, HW] });
    inShape = [HW, HW, 3];
  }
  const net = new PiggybackNet(backbone, 10, { threshold: 5e-3, maskScale: 1e-2, maskKind: 'binary', bnMode: 'frozen', seed: 1, name: 'prof' });
  const optimizers = { mask: adam(1e-4), head: adam(1e-4) };
  // Batches made up front (as the engine's loop copies them from a dataset: batchTensors), so
  // that generating random images is not timed.
  const images = Array.from({ length: 4 }, (_, i) => tf.tidy(() => tf.randomUniform([BATCH, ...inShape], 0, 1, 'float32', i).dataSync() as Float32Array));
  const batch = (i: number) => ({
    x: tf.tensor4d(images[i % images.length], [BATCH, ...inShape]),
    y: tf.tensor1d(Array.from({ length: BATCH }, (_, j) => (j * 7 + i) % 10), 'int32'),
  });
  for (let i = 0; i < WARMUP; i++) trainStep(net, optimizers, batch(i));
  // 1. img/s, uninstrumented.
  const loadBefore = os.loadavg();
  const t00 = performance.now();
  let loss = 0;
  for (let i = 0; i < STEPS; i++) loss = trainStep(net, optimizers, batch(100 + i)).loss;
  const plain = performance.now() - t00;
  if (!PROFILE) {
    console.log(`backend ${info.detail}; ${MODEL} input ${inShape.join('x')} batch ${BATCH}; ${STEPS} steps after ${WARMUP} warm-up; load average before ${loadBefore.map((l) => l.toFixed(2)).join(' ')}, after ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}; loss ${loss.toFixed(4)}`);
    console.log(`IMG/S ${((STEPS * BATCH) / (plain / 1000)).toFixed(2)}   (${(plain / STEPS).toFixed(1)} ms/step, uninstrumented)`);
    return;
  }
  // 2. The same number of steps with every kernel timed (the timers add some overhead).
  instrument(tf.getBackend());
  resetNativeStats();
  recording = true;
  const t0 = performance.now();
  for (let i = 0; i < STEPS; i++) trainStep(net, optimizers, batch(200 + i));
  const total = performance.now() - t0;
  recording = false;

  const kernelMs = [...acc.values()].reduce((s, a) => s + a.ms, 0);
  console.log(`backend ${info.detail}; model ${MODEL === 'ref' ? 'reference CNN' : MODEL === 'res' ? 'small residual net (test/helpers/residualNet)' : MODEL === 'resnet18' ? `ResNet-18 ${HW}px (random weights)` : `MobileNetV2 ${HW}px cut ${MOBILENET_DEFAULT_CUT}`}; masked weights ${backbone.maskedParams}`);
  console.log(`OMP_WAIT_POLICY ${process.env.OMP_WAIT_POLICY ?? '(unset)'}; PIGGYBACK_NATIVE_THREADS ${process.env.PIGGYBACK_NATIVE_THREADS ?? '(unset)'}`);
  console.log(`batch ${BATCH}, ${STEPS} timed steps after ${WARMUP} warm-up; load average before ${loadBefore.map((l) => l.toFixed(2)).join(' ')}, after ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}; loss ${loss.toFixed(4)}`);
  console.log(`IMG/S ${((STEPS * BATCH) / (plain / 1000)).toFixed(2)}   (${(plain / STEPS).toFixed(1)} ms/step, uninstrumented)`);
  console.log(`profiled: ${(total / STEPS).toFixed(1)} ms/step; kernels ${(kernelMs / STEPS).toFixed(1)} ms/step, outside kernels ${((total - kernelMs) / STEPS).toFixed(1)} ms/step`);
  const rows = [...acc.entries()].sort((a, b) => b[1].ms - a[1].ms);
  console.log(`\n${'kernel'.padEnd(38)} ${'ms/step'.padStart(8)} ${'%'.padStart(5)} ${'calls/step'.padStart(10)} ${'native'.padStart(7)} ${'fallbk'.padStart(7)}`);
  for (const [name, a] of rows.slice(0, TOP)) {
    const nat = (nativeStats.native.get(name) ?? 0) / STEPS;
    const fb = (nativeStats.fallback.get(name) ?? 0) / STEPS;
    console.log(
      `${name.padEnd(38)} ${(a.ms / STEPS).toFixed(2).padStart(8)} ${((100 * a.ms) / total).toFixed(1).padStart(5)} ${(a.calls / STEPS).toFixed(0).padStart(10)} ${nat.toFixed(0).padStart(7)} ${fb.toFixed(0).padStart(7)}`,
    );
  }
  console.log('\ntop kernel x input shapes:');
  const flat = rows.flatMap(([name, a]) => [...a.shapes.entries()].map(([s, v]) => ({ name, s, ...v })));
  flat.sort((a, b) => b.ms - a.ms);
  for (const r of flat.slice(0, TOP)) console.log(`  ${(r.ms / STEPS).toFixed(2).padStart(8)} ms/step  x${(r.calls / STEPS).toFixed(0).padStart(3)}  ${r.name} ${r.s}`);
  const fbs = [...nativeStats.fallback.entries()].sort((a, b) => b[1] - a[1]);
  console.log(`\nfallbacks to the JS cpu kernel (per step): ${fbs.length ? fbs.map(([k, n]) => `${k} ${n / STEPS}`).join(', ') : 'none'}`);
  optimizers.mask.dispose();
  optimizers.head.dispose();
  net.dispose();
  backbone.dispose();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
