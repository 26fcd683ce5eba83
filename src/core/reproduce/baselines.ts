/**
 * The paper's two baselines on a stored task's data, like engine.runBaselines, but with the
 * baseline's own learning rate. engine.runBaselines trains both baselines with the task's
 * lrHead; for a fair table each method gets the rate its own validation accuracy prefers
 * (a head on large frozen features wants a much higher Adam rate than a whole network being
 * fine-tuned). Everything else is the task's: data, limits, validation hold-out, epochs, batch
 * size, schedule and seed.
 */
import { loadDataset } from '../data';
import { Backbone } from '../model/backbone';
import { openProject } from '../project/projectDir';
import { readTaskMeta, saveBaseline } from '../project/taskFiles';
import { evaluateLogits } from '../train/batches';
import { trainLoop } from '../train/loop';
import { FeatureHeadNet, FinetuneNet, type TaskNet } from '../train/taskNets';
import type { BaselineResult, TrainEvent, TrainOptions } from '../types';

export interface BaselineRun {
  method: 'classifier' | 'finetune';
  /** Adam learning rate (decayed on the task's schedule). */
  lr: number;
  /** Store the result in the task's task.json (replacing one of the same method). */
  save?: boolean;
}

/** The data and schedule a baseline trains on: a stored task's, or given directly (tuning). */
export interface BaselineData {
  dataset: string;
  trainPerClass?: number;
  testLimit?: number;
  valFraction: number;
  options: TrainOptions;
}

/** A stored task's data, limits and options. */
export function taskBaselineData(projectDir: string, task: string): BaselineData {
  const meta = readTaskMeta(projectDir, task);
  const limits = meta.dataLimits ?? { valFraction: 0.1 };
  return { dataset: meta.dataset, trainPerClass: limits.trainPerClass, testLimit: limits.testLimit, valFraction: limits.valFraction, options: meta.options };
}

export async function runBaselinesWithLr(
  projectDir: string,
  /** Task name (results are saved to it when a run asks) and its data; or data alone. */
  target: { task?: string; data: BaselineData },
  runs: BaselineRun[],
  backend: string,
  onEvent?: (e: TrainEvent) => void,
  signal?: AbortSignal,
): Promise<Array<BaselineResult & { lr: number }>> {
  const handle = openProject(projectDir);
  const b = handle.manifest.backbone;
  const backbone = await Backbone.load(handle.modelPath, { cutAt: b.cutAt, inputHW: [b.inputShape[0], b.inputShape[1]] });
  const out: Array<BaselineResult & { lr: number }> = [];
  const task = target.task ?? target.data.dataset;
  try {
    if (backbone.sha256 !== b.sha256) throw new Error(`backbone ${handle.modelPath} changed since the project was created`);
    const spec = target.data;
    const [height, width, channels] = backbone.inputShape;
    const data = await loadDataset(spec.dataset, { height, width, channels }, { trainPerClass: spec.trainPerClass, testLimit: spec.testLimit, valFraction: spec.valFraction, seed: spec.options.seed });
    const classes = data.train.classNames.length;
    let features: typeof data | null = null;
    for (const run of runs) {
      const opts = { ...spec.options, lrHead: run.lr };
      const t0 = performance.now();
      let net: TaskNet;
      let splits = data;
      let bytesIfStored: number;
      if (run.method === 'classifier') {
        features ??= backbone.featureSplits(data);
        splits = features;
        net = new FeatureHeadNet(backbone.featureSize, classes, opts.seed, `${task}-classifier`);
        bytesIfStored = (backbone.featureSize * classes + classes) * 4;
      } else {
        const ft = new FinetuneNet(backbone, classes, opts.seed, `${task}-finetune`);
        bytesIfStored = ft.storedBytes();
        net = ft;
      }
      try {
        const history = await trainLoop(net, splits, opts, { task, method: run.method, backend, layerNames: backbone.layers.map((l) => l.name), onEvent, signal });
        const evaluation = evaluateLogits(splits.test, (x) => net.logits(x, false));
        const result: BaselineResult = { method: run.method, testAccuracy: evaluation.accuracy, trainSeconds: (performance.now() - t0) / 1000, history, bytesIfStored };
        if (run.save && target.task) saveBaseline(projectDir, target.task, result);
        out.push({ ...result, lr: run.lr });
      } finally {
        net.dispose();
      }
    }
  } finally {
    backbone.dispose();
  }
  return out;
}
