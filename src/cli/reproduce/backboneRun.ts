/**
 * One backbone's part of `piggyback reproduce`, through the engine API only: create the
 * project, count the frozen backbone's dead feature units per task, then per task Piggyback
 * (the paper's protocol), the two baselines (engine.runBaselines with the paper's SGD), and
 * the short-budget ablation; last the no-forgetting check (every task re-evaluated to exactly
 * its accuracy after training, its files unchanged, the backbone bit-identical).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as engine from '../../core/engine';
import { PiggybackError } from '../../core/errors';
import { loadDataset } from '../../core/data';
import { Backbone } from '../../core/model/backbone';
import { countDeadUnits } from '../../core/analysis/deadUnits';
import { readTaskMeta } from '../../core/project/taskFiles';
import { packageRoot } from '../../core/paths';
import type { BaselineOptimizer, TaskStats, TrainEvent, TrainOptions } from '../../core/types';
import type { ArchPlan, TaskPlan } from './plan';
import type { ArchResult, BackboneInfo, FeatureDiagnostic, ForgettingCheck, ForgettingTask, HeadRateChoice, LayerSparsity, Protocol, ResultRow } from './types';
import { sameRecord, sha256File, snapshotFiles } from './snapshot';
import type { RunProgress } from './progress';
import { pilotMethod } from './pilot';

export interface BackboneRunContext {
  protocol: Protocol;
  workDir: string;
  backend: string;
  backendPref: engine.BackendRequest['backend'];
  progress: RunProgress;
  log: (line: string) => void;
  signal?: AbortSignal;
}

interface Trained {
  task: string;
  accuracy: number;
  payload: Record<string, string>;
}

const lastVal = (h: Array<{ valAccuracy: number | null }>): number | null => (h.length ? h[h.length - 1].valAccuracy : null);

function stopIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new PiggybackError('CANCELLED', 'reproduce cancelled');
}

/** The binary files of a task (mask, head, BN): what must never change once it is trained. */
function taskPayload(projectDir: string, task: string): Record<string, string> {
  const meta = readTaskMeta(projectDir, task);
  const out: Record<string, string> = {};
  for (const f of [meta.files.mask, meta.files.head, meta.files.bn]) if (f) out[f.file] = sha256File(path.join(projectDir, 'tasks', task, f.file));
  return out;
}

async function createProject(arch: ArchPlan, dir: string, ctx: BackboneRunContext): Promise<{ backboneDir: string; info: BackboneInfo }> {
  const src = arch.source;
  if (src.kind === 'model') {
    const modelPath = path.resolve(packageRoot(), src.modelPath);
    if (!fs.existsSync(modelPath)) {
      throw new PiggybackError('FILE_NOT_FOUND', `backbone ${src.modelPath} not found`, `make it with \`piggyback pretrain --arch ${arch.id} --out ${path.dirname(src.modelPath)}\``);
    }
    await engine.createProject({ projectDir: dir, modelPath, backend: ctx.backendPref });
    return { backboneDir: path.dirname(modelPath), info: describeBackbone(arch, dir, path.join(path.dirname(modelPath), 'pretrain.json'), `${src.modelPath} (no pretrain.json beside it: pretraining unknown)`) };
  }
  await engine.createProject({ projectDir: dir, modelPath: 'nsfwjs-mobilenetv2', inputSize: src.inputSize, cutAt: src.cutAt, backend: ctx.backendPref });
  return { backboneDir: path.join(dir, 'backbone'), info: describeBackbone(arch, dir, null, 'ImageNet (the MobileNetV2 weights npm nsfwjs@4.3.0 ships)') };
}

function describeBackbone(arch: ArchPlan, dir: string, pretrainFile: string | null, origin: string): BackboneInfo {
  const s = engine.projectStats(dir);
  let pretrain: BackboneInfo['pretrain'] = null;
  if (pretrainFile && fs.existsSync(pretrainFile)) {
    const p = JSON.parse(fs.readFileSync(pretrainFile, 'utf8'));
    pretrain = { arch: p.arch, baseTask: p.baseTask, trainImages: p.trainImages, epochs: p.options?.epochs, testAccuracy: p.testAccuracy, deadUnits: p.deadUnits, featureUnits: p.featureUnits };
  }
  const sizes = s.layers.map((l) => l.size);
  return {
    id: arch.id, description: arch.description, modelPath: path.relative(packageRoot(), s.backbone.modelPath) || s.backbone.modelPath, sha256: s.backbone.sha256,
    origin, inputShape: s.backbone.inputShape, totalParams: s.backbone.totalParams, maskedParams: s.backbone.maskedParams, maskedLayers: s.layers.length,
    largestLayerShare: Math.max(...sizes) / sizes.reduce((a, b) => a + b, 0), pretrain,
  };
}

/** Dead feature units of the frozen backbone on each task's training images (one backbone load for all). */
async function deadUnitsPerTask(dir: string, tasks: TaskPlan[], p: Protocol): Promise<FeatureDiagnostic[]> {
  const s = engine.projectStats(dir);
  const bb = await Backbone.load(s.backbone.modelPath, { cutAt: s.backbone.cutAt, inputHW: [s.backbone.inputShape[0], s.backbone.inputShape[1]] });
  try {
    const [height, width, channels] = bb.inputShape;
    const out: FeatureDiagnostic[] = [];
    for (const t of tasks) {
      const d = await loadDataset(t.dataset, { height, width, channels }, { trainPerClass: t.trainPerClass, testLimit: 1, valFraction: p.valFraction, seed: p.seed });
      out.push({ task: t.dataset, ...countDeadUnits((x) => bb.features(x, bb.frozenContext()), d.train) });
    }
    return out;
  } finally {
    bb.dispose();
  }
}

export async function runBackbone(arch: ArchPlan, ctx: BackboneRunContext): Promise<Omit<ArchResult, 'mode' | 'status' | 'commandLine' | 'backend' | 'commit' | 'date' | 'machine' | 'node' | 'seconds' | 'loadAverage'>> {
  const p = ctx.protocol;
  const dir = path.join(ctx.workDir, arch.id);
  const batchSize = arch.batchSize ?? p.batchSize;
  const { backboneDir, info } = await createProject(arch, dir, ctx);
  const before = snapshotFiles(backboneDir);
  ctx.log(`[${arch.id}] ${info.description}: ${info.maskedParams.toLocaleString('en-US')} masked weights in ${info.maskedLayers} layers, input ${info.inputShape.join('x')}`);
  const features = await deadUnitsPerTask(dir, arch.tasks, p);
  const rows: ResultRow[] = [];
  const trained: Trained[] = [];

  const optionsFor = (lrMask: number, lrHead: number, epochs: number, decayEvery: number): Partial<TrainOptions> => ({
    epochs, batchSize, lrMask, lrHead, lrDecayEvery: decayEvery, lrDecayFactor: 0.1, maskScale: p.piggyback.maskScale,
    seed: p.seed, maskKind: 'binary', bnMode: 'frozen', augment: 'none',
  });
  const sink = (task: string, method: string) => (e: TrainEvent) => ctx.progress.onEvent(arch.id, task, method, e);

  async function piggyback(t: TaskPlan, name: string, method: 'piggyback' | 'piggyback-51-steps', o: Partial<TrainOptions>, trainPerClass: number | undefined): Promise<{ stats: TaskStats; row: ResultRow }> {
    stopIfAborted(ctx.signal);
    const stats = await engine.trainTask(
      { projectDir: dir, task: name, dataset: t.dataset, options: o, trainPerClass, testLimit: t.testLimit, valFraction: p.valFraction, backend: ctx.backendPref },
      sink(t.dataset, method),
      ctx.signal,
    );
    ctx.progress.finish(arch.id, t.dataset, method);
    const meta = readTaskMeta(dir, name);
    trained.push({ task: name, accuracy: stats.testAccuracy as number, payload: taskPayload(dir, name) });
    const counts = ctx.progress.counts(arch.id, t.dataset, method);
    const row: ResultRow = {
      backbone: arch.id, task: t.dataset, method,
      test_accuracy: stats.testAccuracy as number, val_accuracy: lastVal(stats.history), train_seconds: meta.trainSeconds,
      sparsity: stats.sparsity, bits_per_weight: stats.bitsPerMaskedWeight ?? NaN,
      bytes: meta.files.mask.bytes + meta.files.head.bytes + (meta.files.bn?.bytes ?? 0), finetune_bytes: 0,
      optimizer: 'adam', lr: o.lrHead as number, lr_mask: o.lrMask as number, epochs: o.epochs as number,
      steps: (o.epochs as number) * Math.ceil(counts.train / batchSize), batch_size: batchSize, decay_every: o.lrDecayEvery as number,
      train_images: counts.train, val_images: counts.val, test_images: meta.evaluation?.count ?? counts.test, project_task: name,
    };
    ctx.log(`[${arch.id}] ${name} ${method}: test ${(100 * row.test_accuracy).toFixed(2)}%, sparsity ${(100 * (row.sparsity ?? 0)).toFixed(2)}%, ${row.steps} steps`);
    return { stats, row };
  }

  /** A short Piggyback run per candidate head rate on the training split, scored on validation; the pilot tasks are deleted after. */
  async function chooseHeadRate(t: TaskPlan): Promise<HeadRateChoice | null> {
    const sel = p.headRateSelection;
    if (!sel || sel.candidates.length < 2) return null;
    const candidates: HeadRateChoice['candidates'] = [];
    for (const lrHead of sel.candidates) {
      stopIfAborted(ctx.signal);
      const method = pilotMethod(lrHead);
      const name = `${t.dataset}.${method}`;
      const stats = await engine.trainTask(
        { projectDir: dir, task: name, dataset: t.dataset, options: optionsFor(p.piggyback.lrMask, lrHead, sel.epochs, 0), trainPerClass: t.trainPerClass, testLimit: 1, valFraction: p.valFraction, backend: ctx.backendPref },
        sink(t.dataset, method),
        ctx.signal,
      );
      ctx.progress.finish(arch.id, t.dataset, method);
      engine.deleteTask(dir, name);
      candidates.push({ lrHead, valAccuracy: lastVal(stats.history), sparsity: stats.sparsity });
    }
    // Strictly better validation accuracy wins; ties keep the earlier candidate (the paper's rate).
    let best = candidates[0];
    for (const c of candidates.slice(1)) if ((c.valAccuracy ?? -1) > (best.valAccuracy ?? -1)) best = c;
    ctx.log(`[${arch.id}] ${t.dataset} head rate: ${candidates.map((c) => `${c.lrHead} → val ${c.valAccuracy === null ? '-' : (100 * c.valAccuracy).toFixed(2) + '%'}`).join(', ')}; chose ${best.lrHead}`);
    return { task: t.dataset, pilotEpochs: sel.epochs, candidates, chosen: best.lrHead };
  }

  const headRates: HeadRateChoice[] = [];
  for (const t of arch.tasks) {
    const choice = await chooseHeadRate(t);
    if (choice) headRates.push(choice);
    const lrHead = choice?.chosen ?? p.piggyback.lrHead;
    const main = await piggyback(t, t.dataset, 'piggyback', optionsFor(p.piggyback.lrMask, lrHead, p.epochs, p.decayAt), t.trainPerClass);
    stopIfAborted(ctx.signal);
    const opt = (m: Protocol['classifier']): BaselineOptimizer => ({ kind: m.optimizer, lr: m.lr, lrDecayEvery: m.decayEvery >= p.epochs ? 0 : m.decayEvery, momentum: m.momentum });
    const baselines = await engine.runBaselines(
      { projectDir: dir, task: t.dataset, methods: ['classifier', 'finetune'], optimizers: { classifier: opt(p.classifier), finetune: opt(p.finetune) }, backend: ctx.backendPref },
      (e) => ctx.progress.onEvent(arch.id, t.dataset, e.type === 'start' ? e.method : ctx.progress.currentMethod(), e),
      ctx.signal,
    );
    for (const b of baselines) ctx.progress.finish(arch.id, t.dataset, b.method);
    const ftBytes = baselines.find((b) => b.method === 'finetune')?.bytesIfStored ?? 0;
    main.row.finetune_bytes = ftBytes;
    rows.push(main.row);
    for (const b of baselines) {
      const counts = ctx.progress.counts(arch.id, t.dataset, b.method);
      const o = b.optimizer as BaselineOptimizer;
      rows.push({
        backbone: arch.id, task: t.dataset, method: b.method,
        test_accuracy: b.testAccuracy, val_accuracy: lastVal(b.history), train_seconds: b.trainSeconds,
        sparsity: null, bits_per_weight: b.method === 'finetune' ? 32 : 0, bytes: b.bytesIfStored, finetune_bytes: ftBytes,
        optimizer: `${o.kind} ${o.momentum ?? ''}`.trim(), lr: o.lr, lr_mask: null, epochs: p.epochs, steps: p.epochs * Math.ceil(counts.train / batchSize),
        batch_size: batchSize, decay_every: o.lrDecayEvery, train_images: counts.train, val_images: counts.val, test_images: counts.test, project_task: t.dataset,
      });
      ctx.log(`[${arch.id}] ${t.dataset} ${b.method}: test ${(100 * b.testAccuracy).toFixed(2)}%`);
    }
    if (p.short) {
      const s = p.short;
      const { row } = await piggyback(t, `${t.dataset}.51-steps`, 'piggyback-51-steps', optionsFor(s.lrMask, s.lrHead, s.epochs, s.decayEvery), s.trainPerClass);
      row.finetune_bytes = ftBytes;
      rows.push(row);
    }
  }

  const stats = engine.projectStats(dir);
  const layerSparsity: LayerSparsity = {
    layers: stats.layers.map((l) => ({ name: l.name, kind: l.kind, size: l.size })),
    tasks: trained.map((t) => ({ task: t.task, layerSparsity: stats.tasks.find((x) => x.name === t.task)?.layerSparsity ?? [] })),
  };
  ctx.log(`[${arch.id}] no-forgetting check: re-evaluating ${trained.length} tasks, hashing the backbone`);
  const tasks: ForgettingTask[] = [];
  for (const t of trained) {
    const r = await engine.evaluateTask({ projectDir: dir, task: t.task, backend: ctx.backendPref }, ctx.signal);
    tasks.push({ task: t.task, accuracyAfterTraining: t.accuracy, accuracyAtEnd: r.accuracy, equal: r.accuracy === t.accuracy, filesUnchanged: sameRecord(taskPayload(dir, t.task), t.payload) });
  }
  const backboneUnchanged = sameRecord(before, snapshotFiles(backboneDir));
  const forgetting: ForgettingCheck = { backboneFiles: before, backboneUnchanged, tasks, passed: backboneUnchanged && tasks.every((t) => t.equal && t.filesUnchanged) };
  ctx.log(`[${arch.id}] no forgetting: ${forgetting.passed ? 'passed' : 'FAILED'}`);
  return { arch: arch.id, backbone: info, protocol: p, rows, forgetting, layerSparsity, features, headRates, skipped: [] };
}
