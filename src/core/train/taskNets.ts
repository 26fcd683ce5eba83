/**
 * The three ways a task can sit on a backbone, each as a "TaskNet" the shared training loop
 * drives: Piggyback (learned mask scores + head, optional per-task BN), classifier-only
 * (frozen features + head) and full fine-tuning (a trainable copy of every weight + head).
 */
import { tf } from '../tf';
import type { Backbone, BnParams, ForwardContext } from '../model/backbone';
import type { StoredBn } from '../project/taskFiles';
import { makeMaskedWeight, maskFromScores } from '../model/ste';
import type { BnMode, MaskKind } from '../types';

export interface ParamGroup {
  /** Which learning rate the group trains with. */
  lr: 'mask' | 'head';
  vars: tf.Variable[];
}

export interface TaskNet {
  groups: ParamGroup[];
  logits(x: tf.Tensor4D, training: boolean): tf.Tensor2D;
  /** Called after each optimizer step (e.g. BN running averages). */
  afterStep(): void;
  dispose(): void;
}

/**
 * A new dense classifier head, initialised like PyTorch's nn.Linear (what the paper's code
 * adds per task): kernel and bias ~ U(-1/sqrt(in), 1/sqrt(in)), seeded. Glorot gave initial
 * losses of 4-17 on the reference CNN's unnormalised features.
 */
/**
 * A variable holding its own copy of a tensor. tf.variable(t.clone()) would leave the clone
 * behind (one tensor per variable and run); inside tidy the copy goes, the variable stays.
 */
function ownVariable(source: () => tf.Tensor, trainable: boolean, name?: string): tf.Variable {
  return tf.tidy(() => tf.variable(source().clone(), trainable, name));
}

export class Head {
  readonly kernel: tf.Variable;
  readonly bias: tf.Variable;
  constructor(inputs: number, classes: number, seed: number, name: string, init?: { kernel: Float32Array; bias: Float32Array }) {
    const bound = 1 / Math.sqrt(inputs);
    const k = init ? tf.tensor2d(init.kernel, [inputs, classes]) : tf.randomUniform([inputs, classes], -bound, bound, 'float32', seed);
    const b = init ? tf.tensor1d(init.bias) : tf.randomUniform([classes], -bound, bound, 'float32', seed + 1);
    this.kernel = tf.variable(k, true, `${name}/head/kernel`);
    this.bias = tf.variable(b, true, `${name}/head/bias`);
    k.dispose();
    b.dispose();
  }
  apply(features: tf.Tensor2D): tf.Tensor2D {
    return tf.add(tf.matMul(features, this.kernel), this.bias) as tf.Tensor2D;
  }
  dispose(): void {
    this.kernel.dispose();
    this.bias.dispose();
  }
}

/** Per-task BatchNorm: trainable gamma/beta and running statistics owned by the task. */
export class TaskBatchNorm {
  readonly params: BnParams[];
  readonly vars: tf.Variable[] = [];
  private pending: Array<{ j: number; mean: tf.Tensor; variance: tf.Tensor }> = [];

  constructor(private readonly backbone: Backbone, name: string, init?: Array<{ gamma: Float32Array; beta: Float32Array; movingMean: Float32Array; movingVariance: Float32Array }>) {
    this.params = backbone.bnLayers.map((bn, j) => {
      const src = init?.[j];
      const gamma = ownVariable(() => (src ? tf.tensor1d(src.gamma) : bn.frozen.gamma), true, `${name}/bn${j}/gamma`);
      const beta = ownVariable(() => (src ? tf.tensor1d(src.beta) : bn.frozen.beta), true, `${name}/bn${j}/beta`);
      this.vars.push(gamma, beta);
      return {
        gamma: gamma as unknown as tf.Tensor1D,
        beta: beta as unknown as tf.Tensor1D,
        movingMean: ownVariable(() => (src ? tf.tensor1d(src.movingMean) : bn.frozen.movingMean), false) as unknown as tf.Tensor1D,
        movingVariance: ownVariable(() => (src ? tf.tensor1d(src.movingVariance) : bn.frozen.movingVariance), false) as unknown as tf.Tensor1D,
      };
    });
  }

  record(j: number, mean: tf.Tensor, variance: tf.Tensor): void {
    this.pending.push({ j, mean: tf.keep(mean.clone()), variance: tf.keep(variance.clone()) });
  }

  /** Folds the batch statistics of the last step into the running averages. */
  update(): void {
    for (const { j, mean, variance } of this.pending) {
      const m = this.backbone.bnLayers[j].momentum;
      const p = this.params[j];
      tf.tidy(() => {
        (p.movingMean as unknown as tf.Variable).assign(tf.add(tf.mul(p.movingMean, m), tf.mul(mean, 1 - m)));
        (p.movingVariance as unknown as tf.Variable).assign(tf.add(tf.mul(p.movingVariance, m), tf.mul(variance, 1 - m)));
      });
      mean.dispose();
      variance.dispose();
    }
    this.pending = [];
  }

  toArrays(): StoredBn[] {
    return this.params.map((p, j) => ({
      layer: this.backbone.bnLayers[j].name,
      gamma: p.gamma.dataSync() as Float32Array,
      beta: p.beta.dataSync() as Float32Array,
      movingMean: p.movingMean.dataSync() as Float32Array,
      movingVariance: p.movingVariance.dataSync() as Float32Array,
    }));
  }

  dispose(): void {
    for (const p of this.params) Object.values(p).forEach((t) => t.dispose());
  }
}

export interface PiggybackInit {
  masks?: Array<Uint8Array | Int8Array>;
  head?: { kernel: Float32Array; bias: Float32Array };
  bn?: Array<{ gamma: Float32Array; beta: Float32Array; movingMean: Float32Array; movingVariance: Float32Array }>;
}

/** Piggyback: real-valued scores per masked weight, thresholded in the forward pass. */
export class PiggybackNet implements TaskNet {
  readonly scores: tf.Variable[];
  readonly head: Head;
  readonly bn: TaskBatchNorm | null;
  readonly groups: ParamGroup[];
  private readonly maskedWeight: Array<(s: tf.Tensor) => tf.Tensor>;

  constructor(
    readonly backbone: Backbone,
    classes: number,
    readonly opts: { threshold: number; maskScale: number; maskKind: MaskKind; bnMode: BnMode; seed: number; name: string },
    init: PiggybackInit = {},
  ) {
    // Scores start at the mask scale (above the threshold): the untrained task is the backbone.
    // A stored mask is restored as scores ±scale so thresholding reproduces it exactly.
    this.scores = backbone.kernels.map((k, i) => {
      const s = init.masks ? tf.mul(tf.tensor(Float32Array.from(init.masks[i]), k.shape), opts.maskScale) : tf.fill(k.shape, opts.maskScale);
      const v = tf.variable(s, true, `${opts.name}/scores${i}`);
      s.dispose();
      return v;
    });
    this.maskedWeight = backbone.kernels.map((k) => makeMaskedWeight(k, opts.threshold, opts.maskKind));
    this.head = new Head(backbone.featureSize, classes, opts.seed, opts.name, init.head);
    this.bn = opts.bnMode === 'trainable' ? new TaskBatchNorm(backbone, opts.name, init.bn) : null;
    this.groups = [
      { lr: 'mask', vars: this.scores },
      { lr: 'head', vars: [this.head.kernel, this.head.bias, ...(this.bn?.vars ?? [])] },
    ];
  }

  private context(training: boolean): ForwardContext {
    const bb = this.backbone;
    return {
      kernel: (i) => this.maskedWeight[i](this.scores[i]),
      bias: (i) => bb.biases[i],
      bn: (j) => (this.bn ? { params: this.bn.params[j], training } : { params: bb.bnLayers[j].frozen, training: false }),
      onBatchStats: (j, mean, variance) => this.bn?.record(j, mean, variance),
    };
  }

  /** Backbone features under this task's masks (and BN): what the head sees. */
  features(x: tf.Tensor4D, training: boolean): tf.Tensor2D {
    return this.backbone.features(x, this.context(training));
  }

  /** Every masked layer's output for a batch (inference mode), in layer order. Caller disposes. */
  layerOutputs(x: tf.Tensor4D): tf.Tensor[] {
    const outs: tf.Tensor[] = [];
    const ctx = { ...this.context(false), onLayerOutput: (i: number, y: tf.Tensor) => { outs[i] = tf.keep(y.clone()); } };
    tf.tidy(() => { this.backbone.features(x, ctx); });
    return outs;
  }

  logits(x: tf.Tensor4D, training: boolean): tf.Tensor2D {
    return this.head.apply(this.features(x, training));
  }

  afterStep(): void {
    this.bn?.update();
  }

  /** Current masks as plain arrays (0/1, or -1/0/+1 for ternary), one per masked layer. */
  masks(): Array<Uint8Array | Int8Array> {
    return this.scores.map((s) => {
      const m = tf.tidy(() => maskFromScores(s, this.opts.threshold, this.opts.maskKind).cast('int32'));
      const data = m.dataSync() as Int32Array;
      m.dispose();
      return this.opts.maskKind === 'binary' ? Uint8Array.from(data) : Int8Array.from(data);
    });
  }

  dispose(): void {
    this.scores.forEach((s) => s.dispose());
    this.head.dispose();
    this.bn?.dispose();
  }
}

/**
 * Classifier-only baseline: a new head on features the frozen backbone computed once
 * (the "images" it sees are [n, 1, 1, F] feature vectors).
 */
export class FeatureHeadNet implements TaskNet {
  readonly head: Head;
  readonly groups: ParamGroup[];
  constructor(features: number, classes: number, seed: number, name: string) {
    this.head = new Head(features, classes, seed, name);
    this.groups = [{ lr: 'head', vars: [this.head.kernel, this.head.bias] }];
  }
  logits(x: tf.Tensor4D): tf.Tensor2D {
    return this.head.apply(tf.reshape(x, [x.shape[0], -1]) as tf.Tensor2D);
  }
  afterStep(): void {}
  dispose(): void {
    this.head.dispose();
  }
}

/** Full fine-tuning baseline: a trainable copy of every maskable kernel and bias, BN trained, new head. */
export class FinetuneNet implements TaskNet {
  readonly kernels: tf.Variable[];
  readonly biases: (tf.Variable | null)[];
  readonly head: Head;
  readonly bn: TaskBatchNorm;
  readonly groups: ParamGroup[];
  constructor(readonly backbone: Backbone, classes: number, seed: number, name: string) {
    this.kernels = backbone.kernels.map((k, i) => ownVariable(() => k, true, `${name}/ft/kernel${i}`));
    this.biases = backbone.biases.map((b, i) => (b ? ownVariable(() => b, true, `${name}/ft/bias${i}`) : null));
    this.head = new Head(backbone.featureSize, classes, seed, name);
    this.bn = new TaskBatchNorm(backbone, `${name}/ft`);
    this.groups = [
      {
        lr: 'head',
        vars: [...this.kernels, ...(this.biases.filter(Boolean) as tf.Variable[]), ...this.bn.vars, this.head.kernel, this.head.bias],
      },
    ];
  }
  logits(x: tf.Tensor4D, training: boolean): tf.Tensor2D {
    const ctx: ForwardContext = {
      kernel: (i) => this.kernels[i],
      bias: (i) => this.biases[i],
      bn: (j) => ({ params: this.bn.params[j], training }),
      onBatchStats: (j, mean, variance) => this.bn.record(j, mean, variance),
    };
    return this.head.apply(this.backbone.features(x, ctx));
  }
  /** The fine-tuned backbone's features in inference mode (BN running statistics). */
  features(x: tf.Tensor4D): tf.Tensor2D {
    return this.backbone.features(x, { kernel: (i) => this.kernels[i], bias: (i) => this.biases[i], bn: (j) => ({ params: this.bn.params[j], training: false }) });
  }
  afterStep(): void {
    this.bn.update();
  }
  /** Bytes a stored fine-tuned copy needs: every backbone parameter plus the head, float32. */
  storedBytes(): number {
    return (this.backbone.totalParams + this.head.kernel.size + this.head.bias.size) * 4;
  }
  dispose(): void {
    this.kernels.forEach((k) => k.dispose());
    this.biases.forEach((b) => b?.dispose());
    this.head.dispose();
    this.bn.dispose();
  }
}
