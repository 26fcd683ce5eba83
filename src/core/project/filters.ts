/**
 * Filter-level analytics on packed masks (no TF.js): per output filter of a layer, how many
 * weights each task keeps, a filter-level diff of two tasks, and for conv kernels the kept
 * count at each kernel position.
 *
 * Masks follow the kernel's own row-major layout (TF.js/Keras): conv [kh, kw, cin, cout],
 * depthwise [kh, kw, cin, mult], dense [in, out]. Entry i therefore belongs to output
 * filter i % F, where F = cout (conv), cin * mult (depthwise: output channel c * mult + m)
 * or out (dense); for conv and depthwise its kernel position is floor(i / (F * cinPerFilter))
 * with cinPerFilter = cin (conv) or 1 (depthwise). Ternary masks count nonzero (-1 or +1)
 * entries as kept.
 */
import type { MaskedLayerInfo } from '../types';
import { PiggybackError } from '../errors';
import { wordCount } from './bitpack';
import type { PackedMask } from './analytics';
import { openProject } from './projectDir';
import { loadTaskForStats, taskMetaOf } from './taskFiles';

/** How a layer's mask splits into output filters. */
export interface FilterGeometry {
  /** Number of output filters (output channels / units). */
  filters: number;
  /** Mask entries per filter. */
  weightsPerFilter: number;
  /** Kernel height and width for conv and depthwise layers, null for dense. */
  kernel: [number, number] | null;
  /** Entries per filter at one kernel position (cin for conv, 1 for depthwise). */
  perPosition: number;
}

export function filterGeometry(l: MaskedLayerInfo): FilterGeometry {
  const s = l.shape;
  if ((l.kind === 'conv2d' || l.kind === 'depthwise') && s.length === 4) {
    const [kh, kw, cin, c3] = s;
    const filters = l.kind === 'conv2d' ? c3 : cin * c3;
    const perPosition = l.kind === 'conv2d' ? cin : 1;
    return { filters, weightsPerFilter: kh * kw * perPosition, kernel: [kh, kw], perPosition };
  }
  if (s.length < 1 || s[s.length - 1] === 0) {
    throw new PiggybackError('SHAPE_MISMATCH', `layer ${l.name} has shape [${s.join(',')}], which has no output filters`);
  }
  const filters = s[s.length - 1];
  return { filters, weightsPerFilter: l.size / filters, kernel: null, perPosition: l.size / filters };
}

/** Calls fn(i) for every set bit i of words[0..wordCount(length)) (padding bits are zero). */
function forEachSet(words: Uint32Array, length: number, fn: (i: number) => void): void {
  const nw = wordCount(length);
  for (let w = 0; w < nw; w++) {
    let v = words[w];
    while (v !== 0) {
      const low = v & -v;
      fn((w << 5) + (31 - Math.clz32(low)));
      v ^= low;
    }
  }
}

function checkLength(l: MaskedLayerInfo, m: PackedMask): void {
  if (m.length !== l.size || m.words.length < wordCount(l.size)) {
    throw new RangeError(`filters: layer ${l.name} has ${l.size} entries but the mask has ${m.length}`);
  }
}

/** Kept entries per output filter of one task's mask of layer `l`. */
export function keptPerFilter(l: MaskedLayerInfo, m: PackedMask): number[] {
  checkLength(l, m);
  const F = filterGeometry(l).filters;
  const out = new Array<number>(F).fill(0);
  forEachSet(m.words, m.length, (i) => out[i % F]++);
  return out;
}

/** Per filter of two tasks' masks of layer `l`: kept by both, by A only, by B only, by neither. */
export interface FilterDiff {
  both: number[];
  aOnly: number[];
  bOnly: number[];
  neither: number[];
}

export function filterDiff(l: MaskedLayerInfo, a: PackedMask, b: PackedMask): FilterDiff {
  checkLength(l, a);
  checkLength(l, b);
  const { filters: F, weightsPerFilter } = filterGeometry(l);
  const both = new Array<number>(F).fill(0);
  const aOnly = new Array<number>(F).fill(0);
  const bOnly = new Array<number>(F).fill(0);
  const nw = wordCount(l.size);
  const and = new Uint32Array(nw);
  const andNot = new Uint32Array(nw);
  const notAnd = new Uint32Array(nw);
  for (let w = 0; w < nw; w++) {
    and[w] = a.words[w] & b.words[w];
    andNot[w] = a.words[w] & ~b.words[w];
    notAnd[w] = ~a.words[w] & b.words[w];
  }
  forEachSet(and, l.size, (i) => both[i % F]++);
  forEachSet(andNot, l.size, (i) => aOnly[i % F]++);
  forEachSet(notAnd, l.size, (i) => bOnly[i % F]++);
  const neither = both.map((x, f) => weightsPerFilter - x - aOnly[f] - bOnly[f]);
  return { both, aOnly, bOnly, neither };
}

/**
 * Kept entries of each filter at each kernel position: positions[f][y * kw + x], out of
 * `perPosition` (cin for conv, 1 for depthwise). Dense layers have no kernel positions.
 */
export function keptPerPosition(l: MaskedLayerInfo, m: PackedMask): number[][] {
  checkLength(l, m);
  const g = filterGeometry(l);
  if (!g.kernel) {
    throw new PiggybackError('BAD_ARGUMENT', `layer ${l.name} is a dense layer: it has no kernel positions`, 'pick a conv or depthwise layer');
  }
  const F = g.filters;
  const stride = F * g.perPosition; // entries per kernel position
  const out = Array.from({ length: F }, () => new Array<number>(g.kernel![0] * g.kernel![1]).fill(0));
  forEachSet(m.words, m.length, (i) => out[i % F][Math.floor(i / stride)]++);
  return out;
}

/** One task's column of the filters x tasks view. */
export interface TaskFilterColumn {
  task: string;
  /** Kept weights per filter. */
  kept: number[];
  /** kept / weightsPerFilter per filter. */
  fraction: number[];
  /** Filters with no weight kept: the filter's output is its bias alone (constant). */
  dead: number[];
}

/** What `piggyback analyze filters` shows for one layer. */
export interface LayerFilterReport {
  layer: MaskedLayerInfo;
  filters: number;
  weightsPerFilter: number;
  kernel: [number, number] | null;
  /** One column per readable task, in manifest order. */
  tasks: TaskFilterColumn[];
  /** Tasks whose masks could not be read, with the one-line reason. */
  skipped: Array<{ task: string; reason: string }>;
  /** With `diff`: the two tasks' filter-level diff. */
  diff?: { a: string; b: string } & FilterDiff;
  /** With `positionsOf` (conv and depthwise only): kept count at each kernel position per filter. */
  positions?: { task: string; perPosition: number; kept: number[][] };
}

export function taskColumn(task: string, l: MaskedLayerInfo, m: PackedMask): TaskFilterColumn {
  const kept = keptPerFilter(l, m);
  const per = filterGeometry(l).weightsPerFilter;
  return {
    task,
    kept,
    fraction: kept.map((k) => (per === 0 ? 0 : k / per)),
    dead: kept.flatMap((k, f) => (k === 0 ? [f] : [])),
  };
}

/**
 * Filter-level analysis of layer `layer` of a project: every task's kept fraction per filter,
 * optionally the diff of two tasks and the kernel positions of one task. Reads packed masks
 * only (each checked against its task.json checksum); a damaged task is skipped with its
 * reason, unless it was named in `diff` or `positionsOf` (then its error is thrown).
 */
export function analyzeLayerFilters(dir: string, layer: string, opts: { diff?: [string, string]; positionsOf?: string } = {}): LayerFilterReport {
  const h = openProject(dir);
  const li = h.manifest.layers.findIndex((l) => l.name === layer);
  if (li < 0) {
    throw new PiggybackError('BAD_ARGUMENT', `no masked layer named "${layer}" in ${h.dir}`,
      `masked layers: ${h.manifest.layers.map((l) => l.name).join(', ')}`);
  }
  const l = h.manifest.layers[li];
  const named = [...(opts.diff ?? []), ...(opts.positionsOf ? [opts.positionsOf] : [])];
  for (const t of named) {
    if (!h.manifest.tasks.includes(t)) {
      throw new PiggybackError('UNKNOWN_TASK', `no task "${t}" in ${h.dir}`, `tasks: ${h.manifest.tasks.join(', ') || '(none)'}`);
    }
  }
  if (opts.diff && opts.diff[0] === opts.diff[1]) {
    throw new PiggybackError('BAD_ARGUMENT', `cannot diff task "${opts.diff[0]}" with itself`, 'name two different tasks, e.g. --diff a,b');
  }
  if (opts.positionsOf && !filterGeometry(l).kernel) {
    throw new PiggybackError('BAD_ARGUMENT', `layer ${l.name} is a dense layer: it has no kernel positions`, 'pick a conv or depthwise layer for per-position counts, or leave out --task');
  }
  const masks = new Map<string, PackedMask>();
  const skipped: LayerFilterReport['skipped'] = [];
  for (const t of h.manifest.tasks) {
    try {
      masks.set(t, loadTaskForStats(h, taskMetaOf(h, t), true).packed[li]);
    } catch (e) {
      if (!(e instanceof PiggybackError) || named.includes(t)) throw e;
      skipped.push({ task: t, reason: e.oneLine() });
    }
  }
  const g = filterGeometry(l);
  const report: LayerFilterReport = {
    layer: l,
    filters: g.filters,
    weightsPerFilter: g.weightsPerFilter,
    kernel: g.kernel,
    tasks: [...masks].map(([t, m]) => taskColumn(t, l, m)),
    skipped,
  };
  if (opts.diff) {
    const [a, b] = opts.diff;
    report.diff = { a, b, ...filterDiff(l, masks.get(a)!, masks.get(b)!) };
  }
  if (opts.positionsOf) {
    report.positions = { task: opts.positionsOf, perPosition: g.perPosition, kept: keptPerPosition(l, masks.get(opts.positionsOf)!) };
  }
  return report;
}

/** Per layer, the dead filters (no weight kept) of every task: what `analyze filters` shows without --layer. */
export interface FilterSummary {
  tasks: string[];
  layers: Array<{ layer: string; kind: MaskedLayerInfo['kind']; filters: number; weightsPerFilter: number; dead: number[] }>;
  skipped: Array<{ task: string; reason: string }>;
}

export function summarizeFilters(dir: string): FilterSummary {
  const h = openProject(dir);
  const tasks: string[] = [];
  const packed: PackedMask[][] = [];
  const skipped: FilterSummary['skipped'] = [];
  for (const t of h.manifest.tasks) {
    try {
      packed.push(loadTaskForStats(h, taskMetaOf(h, t), true).packed);
      tasks.push(t);
    } catch (e) {
      if (!(e instanceof PiggybackError)) throw e;
      skipped.push({ task: t, reason: e.oneLine() });
    }
  }
  const layers = h.manifest.layers.map((l, li) => {
    const g = filterGeometry(l);
    return { layer: l.name, kind: l.kind, filters: g.filters, weightsPerFilter: g.weightsPerFilter, dead: packed.map((p) => keptPerFilter(l, p[li]).filter((k) => k === 0).length) };
  });
  return { tasks, layers, skipped };
}
