/**
 * `piggyback pretrain`: trains a fresh backbone (`--arch`: all weights, BN in training mode, a
 * temporary base-task head) on a base task and saves the backbone part (ending at its feature
 * layer) as a LayersModel, with pretrain.json: base-task accuracy and how many feature units
 * are dead (0 on every base-task test image). The base head is discarded: each Piggyback task
 * brings its own.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Backbone } from '../model/backbone';
import { ARCHITECTURE_DOCS, buildArchitecture, type Architecture } from '../model/architectures';
import { countDeadUnits } from '../analysis/deadUnits';
import { saveLayersModelFile } from '../model/modelIO';
import type { DataSplits, EpochMetrics, EvalResult, TrainEvent, TrainOptions } from '../types';
import { writeJsonAtomic } from '../project/atomic';
import { FinetuneNet } from './taskNets';
import { trainLoop } from './loop';
import { evaluateLogits } from './batches';

export interface PretrainResult {
  modelPath: string;
  history: EpochMetrics[];
  test: EvalResult;
  seconds: number;
}

export async function pretrainBackbone(
  arch: Architecture,
  data: DataSplits,
  outDir: string,
  opts: TrainOptions,
  backend: string,
  onEvent?: (e: TrainEvent) => void,
  signal?: AbortSignal,
): Promise<PretrainResult> {
  const t0 = performance.now();
  const { train } = data;
  const model = buildArchitecture(arch, opts.seed, [train.height, train.width, train.channels]);
  const backbone = Backbone.fromModel(model, 'untrained', '(in memory)');
  const net = new FinetuneNet(backbone, train.classNames.length, opts.seed, 'pretrain');
  try {
    const history = await trainLoop(net, data, opts, {
      task: 'pretrain', method: 'finetune', backend, layerNames: backbone.layers.map((l) => l.name), onEvent, signal,
    });
    const test = evaluateLogits(data.test, (x) => net.logits(x, false));
    writeBack(backbone, net);
    const dead = countDeadUnits((x) => net.features(x), data.test);
    const masked = backbone.layers.map((l) => ({ name: l.name, kind: l.kind, size: l.size }));
    const total = masked.reduce((a, l) => a + l.size, 0);
    // Save to a staging folder and swap it in, so a crash never leaves half a backbone.
    const staging = `${outDir}.tmp-${process.pid}`;
    fs.rmSync(staging, { recursive: true, force: true });
    await saveLayersModelFile(model, staging);
    writeJsonAtomic(path.join(staging, 'pretrain.json'), {
      arch, description: ARCHITECTURE_DOCS[arch],
      baseTask: train.name, classes: train.classNames, trainImages: train.count, testImages: data.test.count, options: opts, backend,
      testAccuracy: test.accuracy,
      featureUnits: dead.units, deadUnits: dead.deadUnits, deadUnitsRule: 'feature units that are 0 on every base-task test image',
      maskedLayers: masked, largestLayerShare: Math.max(...masked.map((l) => l.size)) / total,
      seconds: (performance.now() - t0) / 1000,
      history, createdAt: new Date().toISOString(),
    });
    fs.rmSync(outDir, { recursive: true, force: true });
    fs.renameSync(staging, outDir);
    onEvent?.({ type: 'done', task: 'pretrain', testAccuracy: test.accuracy, seconds: (performance.now() - t0) / 1000 });
    return { modelPath: path.join(outDir, 'model.json'), history, test, seconds: (performance.now() - t0) / 1000 };
  } finally {
    net.dispose();
    backbone.dispose();
  }
}

/** Copies the trained variables back into the LayersModel's own weights before saving. */
function writeBack(backbone: Backbone, net: FinetuneNet): void {
  backbone.layers.forEach((info, i) => {
    const layer = backbone.model.getLayer(info.name);
    const b = net.biases[i];
    layer.setWeights(b ? [net.kernels[i], b] : [net.kernels[i]]);
  });
  backbone.bnLayers.forEach((info, j) => {
    const p = net.bn.params[j];
    backbone.model.getLayer(info.name).setWeights([p.gamma, p.beta, p.movingMean, p.movingVariance]);
  });
}
