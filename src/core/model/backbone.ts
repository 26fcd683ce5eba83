/**
 * A frozen backbone: a LayersModel (optionally cut at a named layer) turned into a plan we
 * execute ourselves, so that every maskable layer (Conv2D, DepthwiseConv2D, Dense) can use a
 * per-task kernel (W ⊙ mask, or a fine-tuning variable) and every BatchNormalization can use
 * frozen or per-task parameters. Other layers run through their own `apply` (frozen).
 */
import { tf } from '../tf';
import { PiggybackError } from '../errors';
import type { BnValues, DataSplits, Dataset, LayerKind, MaskedLayerInfo } from '../types';
import { loadLayersModelFile } from './modelIO';
import { inferenceBatchSize, readRange } from '../data/dataset';
import { frozenBatchNorm, frozenBnReluMax } from './fusedOps';

/** A BN layer's parameters as tensors (the stored form is BnValues<Float32Array>). */
export type BnParams = BnValues<tf.Tensor1D>;

export interface BnLayerInfo {
  name: string;
  channels: number;
  epsilon: number;
  momentum: number;
  frozen: BnParams;
}

/** What a forward pass needs to know about the task it runs for. */
export interface ForwardContext {
  /** Kernel of maskable layer i (manifest order). */
  kernel(i: number): tf.Tensor;
  /** Bias of maskable layer i, or null when the layer has none. */
  bias(i: number): tf.Tensor | null;
  /** BN parameters of BN layer j, and whether to normalise with batch statistics. */
  bn(j: number): { params: BnParams; training: boolean };
  /** Called in training mode with the batch statistics of BN layer j (for running averages). */
  onBatchStats?(j: number, mean: tf.Tensor, variance: tf.Tensor): void;
  /** Called with the output of maskable layer i (for analyses such as CKA); the tensor is the caller's to keep. */
  onLayerOutput?(i: number, y: tf.Tensor): void;
}

type Step =
  | { op: 'input'; out: number }
  /** pad: a ZeroPadding2D folded into this 'valid' conv (explicit padding), else the layer's own. */
  | { op: 'masked'; index: number; layer: tf.layers.Layer; kind: LayerKind; inputs: number[]; out: number; pad?: ExplicitPad }
  | { op: 'bn'; index: number; inputs: number[]; out: number }
  | { op: 'apply'; layer: tf.layers.Layer; inputs: number[]; out: number }
  /** Keras ReLU(max_value): clip(relu(x), 0, max); max Infinity: relu(x). */
  | { op: 'relu-max'; max: number; inputs: number[]; out: number }
  /** A BN whose only reader is a ReLU: one op when the BN is frozen (fusedOps.ts). */
  | { op: 'bn-relu-max'; index: number; max: number; inputs: number[]; out: number };

type ExplicitPad = [[number, number], [number, number], [number, number], [number, number]];

const MASKABLE: Record<string, LayerKind> = { Conv2D: 'conv2d', DepthwiseConv2D: 'depthwise', Dense: 'dense' };

export class Backbone {
  private constructor(
    readonly model: tf.LayersModel,
    readonly sha256: string,
    readonly modelPath: string,
    readonly cutAt: string | null,
    readonly layers: MaskedLayerInfo[],
    /** Frozen kernels in layer order; never modified. */
    readonly kernels: tf.Tensor[],
    readonly biases: (tf.Tensor | null)[],
    readonly bnLayers: BnLayerInfo[],
    private readonly steps: Step[],
    private readonly outputSlot: number,
    readonly inputShape: [number, number, number],
    /** Feature width after global average pooling (rank-4 output) or as is (rank 2). */
    readonly featureSize: number,
    readonly totalParams: number,
  ) {}

  get maskedParams(): number {
    return this.layers.reduce((a, l) => a + l.size, 0);
  }

  static async load(modelPath: string, opts: { cutAt?: string | null; inputHW?: [number, number] } = {}): Promise<Backbone> {
    const loaded = await loadLayersModelFile(modelPath, { inputHW: opts.inputHW, cutAt: opts.cutAt });
    return Backbone.fromModel(loaded.model, loaded.sha256, loaded.modelPath, opts.cutAt);
  }

  static fromModel(full: tf.LayersModel, sha256: string, modelPath: string, cutAt?: string | null): Backbone {
    let model = full;
    if (cutAt) {
      let layer: tf.layers.Layer;
      try {
        layer = full.getLayer(cutAt);
      } catch {
        const names = full.layers.map((l) => l.name);
        throw new PiggybackError('BAD_ARGUMENT', `no layer named "${cutAt}" in the model`, `layers include: ${names.slice(-8).join(', ')}`);
      }
      model = tf.model({ inputs: full.inputs, outputs: layer.output as tf.SymbolicTensor });
    }
    if (model.inputs.length !== 1 || model.outputs.length !== 1) {
      throw new PiggybackError('BAD_MODEL', 'backbone must have exactly one input and one output', 'cut it at a single layer with --cut-at');
    }
    const inShape = model.inputs[0].shape;
    if (inShape.length !== 4 || inShape.slice(1).some((d) => d == null)) {
      throw new PiggybackError('BAD_MODEL', `backbone input must be an image [h, w, c], got [${inShape.slice(1).join(', ')}]`);
    }
    const outShape = model.outputs[0].shape;
    if (outShape.length !== 2 && outShape.length !== 4) {
      throw new PiggybackError('BAD_MODEL', `backbone output must be rank 2 or 4, got shape [${outShape.join(', ')}]`, 'cut the model at a dense or conv layer');
    }
    const featureSize = outShape[outShape.length - 1] as number;

    const layers: MaskedLayerInfo[] = [];
    const kernels: tf.Tensor[] = [];
    const biases: (tf.Tensor | null)[] = [];
    const bnLayers: BnLayerInfo[] = [];
    const steps: Step[] = [];
    const slotOf = new Map<number, number>();
    let nextSlot = 0;
    let totalParams = 0;
    const visitedLayers = new Set<string>();

    const visit = (t: tf.SymbolicTensor): number => {
      const known = slotOf.get(t.id);
      if (known !== undefined) return known;
      const layer = t.sourceLayer as tf.layers.Layer;
      const node = (layer as any).inboundNodes[t.nodeIndex];
      const className = layer.getClassName();
      let out: number;
      if (className === 'InputLayer') {
        out = nextSlot++;
        steps.push({ op: 'input', out });
      } else {
        const inputTensors: tf.SymbolicTensor[] = node.inputTensors;
        const inputs = inputTensors.map(visit);
        out = nextSlot++;
        if (!visitedLayers.has(layer.name)) {
          visitedLayers.add(layer.name);
          totalParams += layer.countParams();
        }
        const l = layer as any;
        if (className in MASKABLE) {
          const kind = MASKABLE[className];
          if (l.dataFormat && l.dataFormat !== 'channelsLast') {
            throw new PiggybackError('BAD_MODEL', `layer ${layer.name} uses ${l.dataFormat}; only channels-last models are supported`);
          }
          const kernelVar = kind === 'depthwise' ? l.depthwiseKernel : l.kernel;
          const kernel = kernelVar.read().clone();
          layers.push({ name: layer.name, kind, shape: kernel.shape.slice(), size: kernel.size });
          kernels.push(kernel);
          biases.push(l.useBias && l.bias ? l.bias.read().clone() : null);
          steps.push({ op: 'masked', index: layers.length - 1, layer, kind, inputs, out });
        } else if (className === 'BatchNormalization') {
          const axis = Array.isArray(l.axis) ? l.axis[0] : l.axis;
          const rank = inputTensors[0].shape.length;
          if (axis !== -1 && axis !== rank - 1) {
            throw new PiggybackError('BAD_MODEL', `BatchNormalization ${layer.name} normalises axis ${axis}; only the channel (last) axis is supported`);
          }
          const mean = l.movingMean.read() as tf.Tensor1D;
          const channels = mean.shape[0];
          bnLayers.push({
            name: layer.name,
            channels,
            epsilon: l.epsilon,
            momentum: l.momentum,
            frozen: {
              gamma: (l.scale ? l.gamma.read().clone() : tf.ones([channels])) as tf.Tensor1D,
              beta: (l.center ? l.beta.read().clone() : tf.zeros([channels])) as tf.Tensor1D,
              movingMean: mean.clone(),
              movingVariance: l.movingVariance.read().clone() as tf.Tensor1D,
            },
          });
          steps.push({ op: 'bn', index: bnLayers.length - 1, inputs, out });
        } else if (className === 'ReLU' && inputs.length === 1) {
          steps.push({ op: 'relu-max', max: typeof l.maxValue === 'number' ? l.maxValue : Infinity, inputs, out });
        } else {
          steps.push({ op: 'apply', layer, inputs, out });
        }
      }
      slotOf.set(t.id, out);
      return out;
    };
    const outputSlot = visit(model.outputs[0]);
    fuseBnReluMax(steps, outputSlot);
    foldZeroPadding(steps, outputSlot);
    if (layers.length === 0) {
      throw new PiggybackError('BAD_MODEL', 'the backbone has no Conv2D, DepthwiseConv2D or Dense layer to mask');
    }
    return new Backbone(
      model, sha256, modelPath, cutAt ?? null, layers, kernels, biases, bnLayers, steps, outputSlot,
      inShape.slice(1) as [number, number, number], featureSize, totalParams,
    );
  }

  /**
   * Features for a batch of images [n, h, w, c]: the cut model's output, global-average-pooled if rank 4.
   * With no gradient being recorded (evaluation, probes, feature extraction), each layer runs in its
   * own tidy scope and its inputs are freed after their last use: only the activations still needed
   * are alive, not every layer's (at 224 px, batch 32, MobileNetV2 that was 2.4 GB).
   */
  features(x: tf.Tensor4D, ctx: ForwardContext): tf.Tensor2D {
    const release = !gradientsRecorded();
    const lastUse = this.lastUse();
    const slots: tf.Tensor[] = [];
    this.steps.forEach((step, i) => {
      const run = (): tf.Tensor => {
        switch (step.op) {
          case 'input':
            return x;
          case 'masked': {
            const y = runMasked(step, slots[step.inputs[0]], ctx);
            ctx.onLayerOutput?.(step.index, y);
            return y;
          }
          case 'bn':
            return this.runBn(step.index, slots[step.inputs[0]], ctx);
          case 'relu-max':
            return reluMax(slots[step.inputs[0]], step.max);
          case 'bn-relu-max': {
            const { params, training } = ctx.bn(step.index);
            if (training) return reluMax(this.runBn(step.index, slots[step.inputs[0]], ctx), step.max);
            return frozenBnReluMax(slots[step.inputs[0]], params, this.bnLayers[step.index].epsilon, step.max);
          }
          case 'apply': {
            const ins = step.inputs.map((s) => slots[s]);
            return step.layer.apply(ins.length === 1 ? ins[0] : ins, { training: false }) as tf.Tensor;
          }
        }
      };
      slots[step.out] = release && step.op !== 'input' ? tf.tidy(run) : run();
      if (!release || step.op === 'input') return;
      for (const s of new Set(step.inputs)) {
        const t = slots[s];
        if (lastUse[s] !== i || s === this.outputSlot || t === x) continue;
        // A layer may pass its input through unchanged (the same tensor in two slots).
        if (slots.some((o, k) => o === t && k !== s && (lastUse[k] > i || k === this.outputSlot))) continue;
        t.dispose();
      }
    });
    const out = slots[this.outputSlot];
    return (out.rank === 4 ? tf.mean(out, [1, 2]) : out) as tf.Tensor2D;
  }

  private lastUseCache: number[] | null = null;

  /** For each slot, the index of the last step that reads it (-1: none). */
  private lastUse(): number[] {
    if (!this.lastUseCache) {
      const last: number[] = [];
      this.steps.forEach((step, i) => {
        last[step.out] ??= -1;
        if (step.op !== 'input') for (const s of step.inputs) last[s] = i;
      });
      this.lastUseCache = last;
    }
    return this.lastUseCache;
  }

  private runBn(j: number, x: tf.Tensor, ctx: ForwardContext): tf.Tensor {
    const info = this.bnLayers[j];
    const { params, training } = ctx.bn(j);
    if (!training) return frozenBatchNorm(x, params, info.epsilon);
    const axes = x.rank === 4 ? [0, 1, 2] : [0];
    const { mean, variance } = tf.moments(x, axes);
    ctx.onBatchStats?.(j, mean, variance);
    return tf.batchNorm(x, mean, variance, params.beta, params.gamma, info.epsilon);
  }

  /**
   * Frozen-backbone features of a whole dataset as a dataset of [1, 1, F] "images": what the
   * classifier-only baseline trains on (the backbone never changes, so compute them once).
   */
  featureDataset(ds: Dataset, wantedBatch = 256): Dataset {
    const f = this.featureSize;
    const batchSize = inferenceBatchSize(ds, wantedBatch);
    const out = new Float32Array(ds.count * f);
    for (let s = 0; s < ds.count; s += batchSize) {
      const e = Math.min(ds.count, s + batchSize);
      const feats = tf.tidy(() => this.features(tf.tensor4d(readRange(ds, s, e), [e - s, ds.height, ds.width, ds.channels]), this.frozenContext()));
      out.set(feats.dataSync() as Float32Array, s * f);
      feats.dispose();
    }
    return { name: ds.name, labels: ds.labels, count: ds.count, classNames: ds.classNames, images: out, height: 1, width: 1, channels: f };
  }

  /** featureDataset of every split. */
  featureSplits(data: DataSplits): DataSplits {
    return { train: this.featureDataset(data.train), test: this.featureDataset(data.test), val: data.val && this.featureDataset(data.val) };
  }

  /** Frozen context: the backbone exactly as stored. */
  frozenContext(): ForwardContext {
    return {
      kernel: (i) => this.kernels[i],
      bias: (i) => this.biases[i],
      bn: (j) => ({ params: this.bnLayers[j].frozen, training: false }),
    };
  }

  /** Output of the original (cut) model through TF.js itself, for equivalence checks. */
  referenceFeatures(x: tf.Tensor4D): tf.Tensor2D {
    return tf.tidy(() => {
      const out = this.model.predict(x) as tf.Tensor;
      return (out.rank === 4 ? tf.mean(out, [1, 2]) : out) as tf.Tensor2D;
    });
  }

  dispose(): void {
    for (const k of this.kernels) k.dispose();
    for (const b of this.biases) b?.dispose();
    for (const bn of this.bnLayers) Object.values(bn.frozen).forEach((t) => t.dispose());
    this.model.dispose();
  }
}

/** What a Keras ReLU layer computes: relu(x), clipped at max when it has one. */
function reluMax(x: tf.Tensor, max: number): tf.Tensor {
  const r = tf.relu(x);
  return Number.isFinite(max) ? tf.clipByValue(r, 0, max) : r;
}

/** How many step inputs read each slot. */
function readerCounts(steps: Step[]): Map<number, number> {
  const readers = new Map<number, number>();
  for (const st of steps) if (st.op !== 'input') for (const s of st.inputs) readers.set(s, (readers.get(s) ?? 0) + 1);
  return readers;
}

/**
 * Merges each BN step whose output only a ReLU step reads (ReLU6 in MobileNetV2; conv, BN, ReLU
 * in ResNets and VGG-style nets) into one 'bn-relu-max' step at the ReLU's place (nothing
 * between them reads the BN's output).
 */
function fuseBnReluMax(steps: Step[], outputSlot: number): void {
  const readers = readerCounts(steps);
  for (let i = 0; i < steps.length; i++) {
    const r = steps[i];
    if (r.op !== 'relu-max') continue;
    const src = r.inputs[0];
    const b = steps.findIndex((st) => st.op === 'bn' && st.out === src);
    if (b < 0 || readers.get(src) !== 1 || src === outputSlot) continue;
    const bn = steps[b] as Extract<Step, { op: 'bn' }>;
    steps[i] = { op: 'bn-relu-max', index: bn.index, max: r.max, inputs: bn.inputs, out: r.out };
    steps.splice(b, 1);
    i--;
  }
}

/**
 * Folds each ZeroPadding2D whose only reader is a 'valid' conv or depthwise conv into that conv's
 * explicit padding (MobileNetV2 pads before each of its 4 stride-2 depthwise convs). The padded
 * copy and, in training, its gradient's slice are gone: at 224 px, batch 16, PadV2 and Slice took
 * 44 ms of a 500 ms step. Zeros taken from the padding or skipped add nothing to a sum.
 */
function foldZeroPadding(steps: Step[], outputSlot: number): void {
  const readers = readerCounts(steps);
  for (let i = 0; i < steps.length; i++) {
    const p = steps[i];
    if (p.op !== 'apply' || p.layer.getClassName() !== 'ZeroPadding2D' || p.inputs.length !== 1) continue;
    const l = p.layer as unknown as { padding: [[number, number], [number, number]]; dataFormat?: string };
    if ((l.dataFormat ?? 'channelsLast') !== 'channelsLast' || readers.get(p.out) !== 1 || p.out === outputSlot) continue;
    const c = steps.find((st) => st.op === 'masked' && st.inputs[0] === p.out);
    if (!c || c.op !== 'masked' || c.kind === 'dense' || c.pad || (c.layer as unknown as { padding: string }).padding !== 'valid') continue;
    c.pad = [[0, 0], [l.padding[0][0], l.padding[0][1]], [l.padding[1][0], l.padding[1][1]], [0, 0]];
    c.inputs = [p.inputs[0]];
    steps.splice(i, 1);
    i--;
  }
}

/** True inside tf.grad/variableGrads: every intermediate must then live until the backward pass. */
function gradientsRecorded(): boolean {
  return ((tf.engine() as unknown as { state: { gradientDepth: number } }).state.gradientDepth ?? 0) > 0;
}

function runMasked(step: Extract<Step, { op: 'masked' }>, x: tf.Tensor, ctx: ForwardContext): tf.Tensor {
  const l = step.layer as any;
  const kernel = ctx.kernel(step.index);
  const bias = ctx.bias(step.index);
  let y: tf.Tensor;
  if (step.kind === 'dense') {
    const flat = x.rank === 2 ? x : tf.reshape(x, [-1, x.shape[x.rank - 1]]);
    y = tf.matMul(flat as tf.Tensor2D, kernel as tf.Tensor2D);
    if (bias) y = tf.add(y, bias);
    if (x.rank !== 2) y = tf.reshape(y, [...x.shape.slice(0, -1), kernel.shape[1] as number]);
  } else {
    const strides = l.strides as [number, number];
    const dilations = l.dilationRate as [number, number];
    const padding = step.pad ?? (l.padding as 'same' | 'valid');
    y =
      step.kind === 'conv2d'
        ? tf.conv2d(x as tf.Tensor4D, kernel as tf.Tensor4D, strides, padding, 'NHWC', dilations)
        : tf.depthwiseConv2d(x as tf.Tensor4D, kernel as tf.Tensor4D, strides, padding, 'NHWC', dilations);
    if (bias) y = tf.add(y, bias);
  }
  return l.activation ? l.activation.apply(y) : y;
}
