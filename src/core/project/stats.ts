/**
 * Everything the inspector, the webview and `piggyback stats` show, from disk only (manifest,
 * task.json, packed masks; no TF.js). A damaged task is listed with state 'failed', the
 * reason, and null (unknown) numbers: it never blanks the rest of the project.
 */
import * as fs from 'node:fs';
import type { OverlapMatrices, ProjectStats, TaskStats } from '../types';
import { DEFAULT_TRAIN_OPTIONS } from '../types';
import { PiggybackError } from '../errors';
import { computeOverlap, popcountRange, type DenseOverlap, type PackedMask } from './analytics';
import { openProject } from './projectDir';
import { loadTaskForStats, taskMetaOf } from './taskFiles';
import type { TaskMeta } from './taskMeta';

/** The stored test confusion matrix when it is square over the task's classes, else null. */
function confusionOf(meta: TaskMeta): number[][] | null {
  const c = meta.evaluation?.confusion;
  const n = meta.classNames.length;
  return Array.isArray(c) && c.length === n && c.every((r) => Array.isArray(r) && r.length === n && r.every((v) => Number.isInteger(v) && v >= 0)) ? c : null;
}

function nullMatrix(n: number): Array<Array<number | null>> {
  return Array.from({ length: n }, () => new Array<number | null>(n).fill(null));
}

/**
 * Reads a project's stats. Every task's files are checked against their sha256 unless `verify`
 * is false, so a flipped bit shows as damage instead of normal numbers (the files are small).
 */
export function readProjectStats(dir: string, opts: { verify?: boolean } = {}): ProjectStats {
  const h = openProject(dir);
  const tasks: TaskStats[] = [];
  const loaded: PackedMask[][] = [];
  const loadedIdx: number[] = [];
  h.manifest.tasks.forEach((name, idx) => {
    let meta: TaskMeta | undefined;
    try {
      meta = taskMetaOf(h, name);
      const t = loadTaskForStats(h, meta, opts.verify ?? true);
      tasks.push({
        name, dataset: meta.dataset, classNames: meta.classNames, maskKind: meta.options.maskKind, bnMode: meta.options.bnMode,
        testAccuracy: meta.testAccuracy, layerSparsity: [], sparsity: null, // filled from the overlap pass below
        bytes: t.bytes.bytes, scoresBytes: t.bytes.scoresBytes, bitsPerMaskedWeight: t.bytes.bitsPerMaskedWeight, rawBitsPerMaskedWeight: t.bytes.rawBitsPerMaskedWeight,
        state: 'trained', damage: null, history: meta.history, stepLoss: meta.stepLoss ?? null, baselines: meta.baselines, options: meta.options,
        dataLimits: meta.dataLimits ?? null, trainImages: meta.trainImages ?? null, confusion: confusionOf(meta),
        layerNegated: t.packed.every((p) => p.negWords) ? t.packed.map((p) => (p.length ? popcountRange(p.negWords as Uint32Array) / p.length : 0)) : null,
      });
      loaded.push(t.packed);
      loadedIdx.push(idx);
    } catch (e) {
      if (!(e instanceof PiggybackError)) throw e;
      tasks.push({
        name, dataset: meta?.dataset ?? '', classNames: meta?.classNames ?? [], maskKind: meta?.options.maskKind ?? 'binary',
        bnMode: meta?.options.bnMode ?? 'frozen', testAccuracy: meta?.testAccuracy ?? null,
        layerSparsity: [], sparsity: null, bytes: null, bitsPerMaskedWeight: null, rawBitsPerMaskedWeight: null,
        state: 'failed', damage: e.oneLine(),
        history: meta?.history ?? [], stepLoss: meta?.stepLoss ?? null, baselines: meta?.baselines ?? [], options: meta?.options ?? DEFAULT_TRAIN_OPTIONS,
        dataLimits: meta?.dataLimits ?? null, trainImages: meta?.trainImages ?? null, confusion: meta ? confusionOf(meta) : null, layerNegated: null,
      });
    }
  });
  const T = tasks.length;
  const ov = computeOverlap(loaded);
  // Sparsity from the kept counts of the same pass (no second popcount over the masks).
  loadedIdx.forEach((gi, i) => {
    let kept = 0;
    tasks[gi].layerSparsity = h.manifest.layers.map((l, li) => {
      kept += ov.kept[i][li];
      return l.size === 0 ? 0 : (l.size - ov.kept[i][li]) / l.size;
    });
    const total = h.manifest.backbone.maskedParams;
    tasks[gi].sparsity = total === 0 ? 0 : (total - kept) / total;
  });
  const expand = (m: DenseOverlap): OverlapMatrices => {
    if (loadedIdx.length === T) return m;
    const jaccard = nullMatrix(T);
    const hamming = nullMatrix(T);
    loadedIdx.forEach((gi, i) => loadedIdx.forEach((gj, j) => {
      jaccard[gi][gj] = m.jaccard[i][j];
      hamming[gi][gj] = m.hamming[i][j];
    }));
    return { jaccard, hamming };
  };
  const empty = (): OverlapMatrices => ({ jaccard: nullMatrix(T), hamming: nullMatrix(T) });
  const b = h.manifest.backbone;
  return {
    dir: h.dir,
    backbone: {
      modelPath: h.modelPath, alias: b.alias ?? null, missing: !fs.existsSync(h.modelPath),
      sha256: b.sha256, cutAt: b.cutAt, inputShape: b.inputShape, totalParams: b.totalParams, maskedParams: b.maskedParams,
    },
    layers: h.manifest.layers,
    threshold: h.manifest.threshold,
    tasks,
    overlap: {
      overall: expand(ov.overall),
      perLayer: loaded.length ? ov.perLayer.map(expand) : h.manifest.layers.map(empty),
    },
  };
}
