/**
 * The shapes a reproduce run produces: one ArchResult per backbone (saved as
 * docs/results/<arch>.json, so architectures can run separately and be merged), and the rows
 * of docs/results.csv. Shared by the stages and the report (no import circle).
 */

export type Method = 'piggyback' | 'classifier' | 'finetune' | 'piggyback-51-steps';

/** One row of results.csv: one (backbone, task, method). */
export interface ResultRow {
  backbone: string;
  task: string;
  method: Method;
  test_accuracy: number;
  val_accuracy: number | null;
  train_seconds: number;
  /** Fraction of masked weights switched off (Piggyback rows). */
  sparsity: number | null;
  /** Per-task storage per masked backbone weight: mask.bin bits as stored; 32 for a float32 copy; 0 for a head only. */
  bits_per_weight: number;
  /** Bytes the task needs besides the shared backbone (Piggyback: mask + head + BN files; fine-tune: a float32 copy + head). */
  bytes: number;
  /** The same task as a fine-tuned float32 copy (bytes), for the ratio. */
  finetune_bytes: number;
  optimizer: string;
  lr: number;
  lr_mask: number | null;
  epochs: number;
  steps: number;
  batch_size: number;
  decay_every: number;
  train_images: number;
  val_images: number;
  test_images: number;
  /** Task name inside the scratch project. */
  project_task: string;
}

export interface BackboneInfo {
  id: string;
  description: string;
  modelPath: string;
  sha256: string;
  inputShape: number[];
  totalParams: number;
  maskedParams: number;
  maskedLayers: number;
  /** Share of the masked weights in the largest masked layer. */
  largestLayerShare: number;
  /** Where its weights come from, when there is no pretrain.json. */
  origin: string;
  /** From pretrain.json beside the model, when there is one. */
  pretrain: { arch?: string; baseTask: string; trainImages: number; epochs: number; testAccuracy: number; deadUnits?: number; featureUnits?: number } | null;
}

export interface ForgettingTask {
  task: string;
  accuracyAfterTraining: number;
  accuracyAtEnd: number;
  equal: boolean;
  filesUnchanged: boolean;
}

export interface ForgettingCheck {
  backboneFiles: Record<string, string>;
  backboneUnchanged: boolean;
  tasks: ForgettingTask[];
  passed: boolean;
}

export interface LayerSparsity {
  layers: Array<{ name: string; kind: string; size: number }>;
  tasks: Array<{ task: string; layerSparsity: number[] }>;
}

/** Dead feature units of the frozen backbone on a task's training images. */
export interface FeatureDiagnostic {
  task: string;
  units: number;
  deadUnits: number;
  zeroFraction: number;
}

/** Everything one backbone's run measured. */
export interface ArchResult {
  arch: string;
  mode: 'quick' | 'full';
  status: string;
  commandLine: string;
  backend: string;
  commit: string;
  date: string;
  machine: string;
  node: string;
  /** Wall time of this backbone's run and the load average (1 min) at its start and end. */
  seconds: number;
  loadAverage: [number, number];
  backbone: BackboneInfo;
  protocol: Protocol;
  rows: ResultRow[];
  forgetting: ForgettingCheck;
  layerSparsity: LayerSparsity;
  features: FeatureDiagnostic[];
  /** Per task, the head-rate pilot runs and the rate chosen (absent in results saved before the selection existed). */
  headRates?: HeadRateChoice[];
  skipped: string[];
}

/** One task's head-rate selection: validation accuracy after the pilot, per candidate rate. */
export interface HeadRateChoice {
  task: string;
  pilotEpochs: number;
  candidates: Array<{ lrHead: number; valAccuracy: number | null; sparsity: number | null }>;
  chosen: number;
}

/** The paper's training protocol (official scripts), and the short-budget ablation. */
export interface Protocol {
  epochs: number;
  decayAt: number;
  batchSize: number;
  piggyback: { lrMask: number; lrHead: number; maskScale: number; threshold: number; optimizer: 'adam' };
  classifier: { optimizer: 'sgd-momentum'; lr: number; momentum: number; decayEvery: number };
  finetune: { optimizer: 'sgd-momentum'; lr: number; momentum: number; decayEvery: number };
  /** The earlier short run (about 51 steps), kept as an ablation row. */
  short: { trainPerClass: number; epochs: number; lrMask: number; lrHead: number; decayEvery: number } | null;
  /**
   * Piggyback's head rate chosen per task on the validation split: a short pilot run per
   * candidate (the paper's rate first; it keeps ties), then the full run at the winner.
   * null = the paper's rate, no selection.
   */
  headRateSelection: { candidates: number[]; epochs: number } | null;
  seed: number;
  valFraction: number;
  /** What differs from the paper, and why (chosen on validation data only). */
  changes: string[];
}
