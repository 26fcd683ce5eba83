/**
 * Plain data types shared by the engine, the CLI, the extension worker and the webview.
 * Nothing here depends on TensorFlow.js, so the webview and protocol can import it.
 */
import { defaultTrainOptions } from './hyperparams';

/**
 * Images as NHWC float32 in [0, 1], labels as class indices. A set too large to hold at the
 * input size (e.g. 50,000 photos at 224 px) is read per batch instead: it has `read`, and its
 * `images` throws. Read through data/dataset.ts' readImages, which handles both.
 */
export interface Dataset {
  name: string;
  images: Float32Array;
  /** Present on sets read per batch: the images at `positions` (indices into this set), converted to the set's size. */
  read?: (positions: ArrayLike<number>) => Float32Array;
  labels: Int32Array;
  count: number;
  height: number;
  width: number;
  channels: number;
  classNames: string[];
}

export interface DataSplits {
  train: Dataset;
  /** Held out from train for model selection / live curves; may be absent. */
  val?: Dataset;
  test: Dataset;
}

/** Shape the backbone wants; loaders resize/replicate channels to it. */
export interface InputSpec {
  height: number;
  width: number;
  channels: number;
}

export type MaskKind = 'binary' | 'ternary';
export type BnMode = 'frozen' | 'trainable';
export type LayerKind = 'conv2d' | 'depthwise' | 'dense';

/** One maskable layer of the backbone (biases never masked). */
export interface MaskedLayerInfo {
  name: string;
  kind: LayerKind;
  /** Kernel shape as TF.js stores it, e.g. [kh, kw, cin, cout] or [in, out]. */
  shape: number[];
  /** Number of weights in the kernel = number of mask entries. */
  size: number;
}

export interface TrainOptions {
  epochs: number;
  batchSize: number;
  /** Adam learning rate for the real-valued mask scores. */
  lrMask: number;
  /** Adam learning rate for the new classifier head (and BN params when trainable). */
  lrHead: number;
  /** Multiply both learning rates by `lrDecayFactor` every `lrDecayEvery` epochs (0 = never). */
  lrDecayEvery: number;
  lrDecayFactor: number;
  maskKind: MaskKind;
  bnMode: BnMode;
  threshold: number;
  maskScale: number;
  seed: number;
  /** Training augmentation: none, or random crop (pad 1/8, crop back) + horizontal flip. */
  augment: 'none' | 'crop-flip';
}

/** The paper's defaults, from the one hyperparameter table (hyperparams.ts). */
export const DEFAULT_TRAIN_OPTIONS: TrainOptions = defaultTrainOptions();

/** Data limits a task was trained with, kept so baselines and re-evaluation use the same data. */
export interface DataLimits {
  /** Cap on training images per class; undefined = all. */
  trainPerClass?: number;
  /** Cap on test images; undefined = all. */
  testLimit?: number;
  /** Fraction of train held out as validation. */
  valFraction: number;
}

/** One BatchNorm layer's parameters: tensors while training, Float32Arrays on disk. */
export interface BnValues<T> {
  gamma: T;
  beta: T;
  movingMean: T;
  movingVariance: T;
}

export interface EvalResult {
  accuracy: number;
  perClassAccuracy: number[];
  /** confusion[true][predicted] counts. */
  confusion: number[][];
  count: number;
  seconds: number;
  imagesPerSecond: number;
}

export interface EpochMetrics {
  epoch: number;
  trainAccuracy: number;
  trainLoss: number;
  valAccuracy: number | null;
  /** Fraction of masked weights switched off, per masked layer, in layer order. */
  layerSparsity: number[];
  /** Mask entries that changed since the previous epoch (epoch 1: since the all-ones start). */
  bitsFlipped: number;
  /** The same per masked layer (absent in history saved before it was recorded). */
  layerBitsFlipped?: number[];
  seconds: number;
}

/**
 * Training loss per step, bounded: each point is the mean loss of `stride` consecutive steps
 * (the last point may cover fewer), at the global step (1-based, across epochs) that ends it.
 * The stride doubles whenever the series would exceed MAX_STEP_LOSS_POINTS.
 */
export interface StepLossSeries {
  stride: number;
  step: number[];
  loss: number[];
}
export const MAX_STEP_LOSS_POINTS = 1000;

/** Events a UI can draw live. All plain JSON so they cross worker/webview boundaries. */
export type TrainEvent =
  | { type: 'start'; task: string; method: TrainMethod; backend: string; epochs: number; stepsPerEpoch: number; layers: string[] }
  | { type: 'step'; task: string; epoch: number; step: number; stepsPerEpoch: number; loss: number }
  | ({ type: 'epoch'; task: string } & EpochMetrics)
  | { type: 'done'; task: string; testAccuracy: number; seconds: number }
  | { type: 'cancelled'; task: string }
  | { type: 'error'; task: string; message: string };

export type TrainMethod = 'piggyback' | 'classifier' | 'finetune';

/** Result of one baseline run on a task's data (paper table: classifier-only, full fine-tuning). */
export interface BaselineResult {
  method: 'classifier' | 'finetune';
  testAccuracy: number;
  trainSeconds: number;
  history: EpochMetrics[];
  /** Bytes a stored copy would need (fine-tune: whole float32 network + head; classifier: head only). */
  bytesIfStored: number;
  /** Per-step training loss; absent in results saved before it was recorded. */
  stepLoss?: StepLossSeries;
  /** How it was optimised, when it differed from the task's own Adam rate and schedule (absent in older results). */
  optimizer?: BaselineOptimizer;
}

/**
 * A baseline's optimiser, when not the task's (Adam at lrHead on the task's schedule). The
 * paper trains its baselines with SGD + momentum 0.9: fine-tuning decays x0.1 every 15
 * epochs, the classifier never within its 30.
 */
export interface BaselineOptimizer {
  kind: 'adam' | 'sgd-momentum';
  lr: number;
  /** Multiply the rate by the task's lrDecayFactor every this many epochs (0 = never). */
  lrDecayEvery: number;
  /** SGD momentum (0.9 in the paper); ignored by Adam. */
  momentum?: number;
}

/** Everything the inspector and webview show about one task, computed from disk without TF.js. null = unknown (damaged task). */
export interface TaskStats {
  name: string;
  dataset: string;
  classNames: string[];
  maskKind: MaskKind;
  bnMode: BnMode;
  testAccuracy: number | null;
  /** Fraction of masked weights switched off, per layer in manifest order (empty when unknown). */
  layerSparsity: number[];
  sparsity: number | null;
  /** Bytes on disk for this task (mask + head + BN + scores + metadata). */
  bytes: number | null;
  /** Of which scores.bin (kept for re-thresholding); null when not stored. */
  scoresBytes?: number | null;
  /** mask.bin as stored (entropy-coded when smaller) per masked weight. */
  bitsPerMaskedWeight: number | null;
  /** Plain bit-packing: 1 bit per weight (2 ternary) plus header. */
  rawBitsPerMaskedWeight: number | null;
  state: 'trained' | 'training' | 'failed';
  /** Why a 'failed' task cannot be used (the one-line error its files give), else null. */
  damage: string | null;
  history: EpochMetrics[];
  /** Per-step training loss as stored in task.json; null for tasks saved before it was recorded. */
  stepLoss: StepLossSeries | null;
  baselines: BaselineResult[];
  options: TrainOptions;
  /** The data caps it trained with; null when task.json predates them. */
  dataLimits: DataLimits | null;
  /** Training images it trained on (after caps and the validation hold-out); null when not recorded. */
  trainImages: number | null;
  /** confusion[true][predicted] counts of its test evaluation after training; null when not stored. */
  confusion: number[][] | null;
  /** Ternary masks: fraction of each layer's weights negated (-1), manifest order; null for binary or unknown. */
  layerNegated: number[] | null;
}

export interface OverlapMatrices {
  /** [i][j] Jaccard of kept (non-zero) weights between task i and j; null when either task is damaged. */
  jaccard: Array<Array<number | null>>;
  /** [i][j] number of mask entries that differ; null when either task is damaged. */
  hamming: Array<Array<number | null>>;
}

export interface ProjectStats {
  dir: string;
  backbone: {
    /** Absolute path the backbone resolves to now. */
    modelPath: string;
    /** Embedded backbone alias ('reference-cnn'), or null for a model given by path. */
    alias: string | null;
    /** True when no model.json is found there: evaluate and train need a relink first. */
    missing: boolean;
    sha256: string;
    cutAt: string | null;
    inputShape: number[];
    totalParams: number;
    maskedParams: number;
  };
  layers: MaskedLayerInfo[];
  threshold: number;
  tasks: TaskStats[];
  overlap: {
    overall: OverlapMatrices;
    /** perLayer[l] for layer l in manifest order. */
    perLayer: OverlapMatrices[];
  };
}
