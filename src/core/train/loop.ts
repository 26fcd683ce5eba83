/**
 * The one training loop every method shares: seeded shuffling, Adam (or SGD + momentum, for
 * the paper's baselines) with separate learning rates for mask scores and head, step decay,
 * per-step loss and per-epoch metrics as events, NaN detection and cancellation between steps. Tensor count stays flat across epochs.
 */
import { tf } from '../tf';
import { CancelledError, PiggybackError } from '../errors';
import { shuffled } from '../data/split';
import type { DataSplits, EpochMetrics, TrainEvent, TrainMethod, TrainOptions } from '../types';
import { batchTensors, evaluateLogits } from './batches';
import type { TaskNet } from './taskNets';
import { adam } from './adam';
import { augmentBatch } from './augment';
import type { StepLossRecorder } from './stepLoss';

export interface LoopHooks {
  task: string;
  method: TrainMethod;
  backend: string;
  layerNames: string[];
  onEvent?: (e: TrainEvent) => void;
  signal?: AbortSignal;
  /** Per-epoch mask statistics (Piggyback only). */
  maskStats?: () => { layerSparsity: number[]; bitsFlipped: number; layerBitsFlipped?: number[] };
  /** Receives every step's loss (bounded, downsampled) for task.json. */
  stepLoss?: StepLossRecorder;
  /** Adam (default) or SGD with momentum, for both parameter groups at their own rates. */
  optimizer?: { kind: 'adam' | 'sgd-momentum'; momentum?: number };
}

/** SGD-family optimisers keep the rate as a tensor (setLearningRate); Adam reads the field. */
export function setRate(o: tf.Optimizer, lr: number): void {
  const sgd = o as unknown as { setLearningRate?: (lr: number) => void; learningRate: number };
  if (typeof sgd.setLearningRate === 'function') {
    if (sgd.learningRate !== lr) sgd.setLearningRate(lr);
  } else sgd.learningRate = lr;
}

export function makeOptimizer(kind: 'adam' | 'sgd-momentum', lr: number, momentum = 0.9): tf.Optimizer {
  return kind === 'adam' ? adam(lr) : tf.train.momentum(lr, momentum);
}

export function throwIfAborted(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw new CancelledError(what);
}

export async function trainLoop(net: TaskNet, data: DataSplits, opts: TrainOptions, hooks: LoopHooks): Promise<EpochMetrics[]> {
  const { train } = data;
  if (train.count === 0) throw new PiggybackError('BAD_DATASET', `dataset ${train.name} has no training images`);
  const batchSize = Math.max(1, Math.min(opts.batchSize, train.count));
  const stepsPerEpoch = Math.ceil(train.count / batchSize);
  const kind = hooks.optimizer?.kind ?? 'adam';
  const optimizers = {
    mask: makeOptimizer(kind, opts.lrMask, hooks.optimizer?.momentum),
    head: makeOptimizer(kind, opts.lrHead, hooks.optimizer?.momentum),
  };
  const emit = hooks.onEvent ?? (() => {});
  emit({ type: 'start', task: hooks.task, method: hooks.method, backend: hooks.backend, epochs: opts.epochs, stepsPerEpoch, layers: hooks.layerNames });
  const history: EpochMetrics[] = [];
  const allIndices = Array.from({ length: train.count }, (_, i) => i);
  const what = `training of ${hooks.task}`;
  try {
    for (let epoch = 1; epoch <= opts.epochs; epoch++) {
      const t0 = performance.now();
      const decay = opts.lrDecayEvery > 0 ? Math.pow(opts.lrDecayFactor, Math.floor((epoch - 1) / opts.lrDecayEvery)) : 1;
      setRate(optimizers.mask, opts.lrMask * decay);
      setRate(optimizers.head, opts.lrHead * decay);
      const order = shuffled(allIndices, opts.seed * 1000 + epoch);
      let lossSum = 0;
      let correct = 0;
      for (let step = 0; step < stepsPerEpoch; step++) {
        throwIfAborted(hooks.signal, what);
        const s = step * batchSize;
        const e = Math.min(train.count, s + batchSize);
        const raw = batchTensors(train, order, s, e);
        let batch = raw;
        if (opts.augment === 'crop-flip') {
          batch = { x: augmentBatch(raw.x, opts.seed * 1_000_003 + (epoch - 1) * stepsPerEpoch + step), y: raw.y };
          raw.x.dispose();
        }
        const { loss, hits } = trainStep(net, optimizers, batch);
        if (!Number.isFinite(loss)) {
          throw new PiggybackError('NAN_LOSS', `loss became ${loss} at epoch ${epoch}, step ${step + 1} of ${hooks.task}`, 'lower the learning rates (--lr-mask, --lr-head); nothing was saved');
        }
        lossSum += loss * (e - s);
        correct += hits;
        hooks.stepLoss?.push((epoch - 1) * stepsPerEpoch + step + 1, loss);
        emit({ type: 'step', task: hooks.task, epoch, step: step + 1, stepsPerEpoch, loss });
        // Yield so cancellation messages and progress reach us between steps.
        if (step % 4 === 3) await new Promise((r) => setImmediate(r));
      }
      throwIfAborted(hooks.signal, what);
      const val = data.val && data.val.count > 0 ? evaluateLogits(data.val, (x) => net.logits(x, false), 256, () => throwIfAborted(hooks.signal, what)).accuracy : null;
      const stats = hooks.maskStats?.() ?? { layerSparsity: [], bitsFlipped: 0 };
      const metrics: EpochMetrics = {
        epoch,
        trainAccuracy: correct / train.count,
        trainLoss: lossSum / train.count,
        valAccuracy: val,
        layerSparsity: stats.layerSparsity,
        bitsFlipped: stats.bitsFlipped,
        ...(stats.layerBitsFlipped ? { layerBitsFlipped: stats.layerBitsFlipped } : {}),
        seconds: (performance.now() - t0) / 1000,
      };
      history.push(metrics);
      emit({ type: 'epoch', task: hooks.task, ...metrics });
    }
  } finally {
    for (const o of [optimizers.mask, optimizers.head]) {
      o.dispose();
      // MomentumOptimizer.dispose leaves its -lr scalar behind (tfjs 4.22).
      (o as unknown as { c?: tf.Tensor }).c?.dispose();
    }
  }
  return history;
}

export function trainStep(
  net: TaskNet,
  optimizers: { mask: tf.Optimizer; head: tf.Optimizer },
  batch: { x: tf.Tensor4D; y: tf.Tensor1D },
): { loss: number; hits: number } {
  const { x, y } = batch;
  const vars = net.groups.flatMap((g) => g.vars);
  let hitsT: tf.Tensor | null = null;
  const { value, grads } = tf.variableGrads(() => {
    const logits = net.logits(x, true);
    hitsT = tf.keep(tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), y), 'int32')));
    const onehot = tf.oneHot(y, logits.shape[1]);
    return tf.losses.softmaxCrossEntropy(onehot, logits) as tf.Scalar;
  }, vars);
  for (const g of net.groups) {
    const mine: tf.NamedTensorMap = {};
    for (const v of g.vars) if (grads[v.name]) mine[v.name] = grads[v.name];
    optimizers[g.lr].applyGradients(mine);
  }
  net.afterStep();
  const loss = value.dataSync()[0];
  const hits = (hitsT as unknown as tf.Tensor).dataSync()[0];
  tf.dispose([value, hitsT as unknown as tf.Tensor, x, y]);
  tf.dispose(Object.values(grads));
  return { loss, hits };
}
