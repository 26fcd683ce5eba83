/**
 * The hyperparameter editor of Train Mask, without VS Code: the lines it shows and how a
 * typed value is checked, both from the one table (src/core/hyperparams.ts). train.ts puts
 * these into quick picks; unit tests check them directly.
 */
import { HYPERPARAMS, hyperProblem, hyperSpec, rangeText, type HyperKey } from '../core/hyperparams';
import type { TaskStats, TrainOptions } from '../core/types';

/** One run's choices: every per-run option plus the data limits (the threshold is the project's). */
export interface Hyper {
  options: Omit<TrainOptions, 'threshold'>;
  trainPerClass?: number;
  testLimit?: number;
  valFraction: number;
}

export interface HyperRow {
  key: HyperKey;
  label: string;
  description: string;
  /** False for the threshold: shown, with where it comes from, but not editable per run. */
  editable: boolean;
}

export function hyperValue(h: Hyper, key: HyperKey): number | string | undefined {
  if (key === 'trainPerClass' || key === 'testLimit' || key === 'valFraction') return h[key];
  if (key === 'threshold') return undefined;
  return h.options[key];
}

/** The editor's lines in table order; the threshold line shows the project's value. */
export function hyperRows(h: Hyper, projectThreshold: number): HyperRow[] {
  return HYPERPARAMS.map((s) => {
    if (s.key === 'threshold') {
      return { key: s.key, label: `threshold = ${projectThreshold}`, description: "the project's (set when it was created); not per run", editable: false };
    }
    const v = hyperValue(h, s.key);
    return { key: s.key, label: `${s.key} = ${v === undefined ? 'all' : v}`, description: s.doc, editable: true };
  });
}

/** Checks typed text for `key`: the value to use, or the message to show under the input box. */
export function parseHyperInput(key: HyperKey, text: string): { value: number | undefined } | { error: string } {
  const s = hyperSpec(key);
  const t = text.trim();
  if (t === '' && s.optional) return { value: undefined };
  const n = Number(t);
  const problem = t === '' ? `${key} must be ${rangeText(s)}` : hyperProblem(key, n);
  return problem ? { error: problem } : { value: n };
}

/** Sets one value, keeping everything else. */
export function withHyper(h: Hyper, key: HyperKey, value: number | string | undefined): Hyper {
  if (key === 'trainPerClass' || key === 'testLimit') return { ...h, [key]: value as number | undefined };
  if (key === 'valFraction') return { ...h, valFraction: value as number };
  if (key === 'threshold') return h;
  return { ...h, options: { ...h.options, [key]: value } };
}

/** Every table value a task trained with: its options (threshold included) and its data limits. */
export function runValues(t: TaskStats): Partial<Record<HyperKey, number | string | null>> {
  const out: Partial<Record<HyperKey, number | string | null>> = {};
  for (const s of HYPERPARAMS) {
    if (s.key === 'trainPerClass' || s.key === 'testLimit' || s.key === 'valFraction') {
      out[s.key] = t.dataLimits ? (t.dataLimits[s.key] ?? null) : null;
    } else out[s.key] = t.options[s.key];
  }
  return out;
}

/** The table keys whose value is not the same for every readable task (what tells runs apart). */
export function differingKeys(tasks: readonly TaskStats[]): HyperKey[] {
  const ok = tasks.filter((t) => t.state !== 'failed');
  if (ok.length < 2) return [];
  const vals = ok.map(runValues);
  return HYPERPARAMS.map((s) => s.key).filter((k) => vals.some((v) => (v[k] ?? null) !== (vals[0][k] ?? null)));
}

/** "lrMask 0.0002 · seed 2 · trainPerClass all": this task's values of the keys that differ between runs. */
export function differingText(t: TaskStats, keys: readonly HyperKey[]): string {
  const v = runValues(t);
  return keys.map((k) => `${k} ${v[k] ?? 'all'}`).join(' · ');
}

/** A run set up like task `t`: its options and data limits (the threshold stays the project's). */
export function presetFromTask(t: TaskStats, fallback: Hyper): Hyper {
  const { threshold: _projectOwned, ...options } = t.options;
  return {
    options,
    trainPerClass: t.dataLimits ? t.dataLimits.trainPerClass : fallback.trainPerClass,
    testLimit: t.dataLimits ? t.dataLimits.testLimit : fallback.testLimit,
    valFraction: t.dataLimits?.valFraction ?? fallback.valFraction,
  };
}

export interface Estimate {
  /** Estimated training time, or null when nothing measured applies. */
  seconds: number | null;
  /** One line saying how it was estimated, or why it cannot be. */
  basis: string;
}

/** Seconds per training image a task measured (its epochs' wall time over the images it trained). */
function secondsPerImage(t: TaskStats): number | null {
  if (t.state === 'failed' || !t.history.length) return null;
  const images = t.trainImages ?? (t.stepLoss?.step.length ? (t.stepLoss.step[t.stepLoss.step.length - 1] / t.history.length) * t.options.batchSize : null);
  if (!images) return null;
  const seconds = t.history.reduce((a, m) => a + m.seconds, 0);
  return seconds > 0 ? seconds / (images * t.history.length) : null;
}

/**
 * Training time of run `h` on `dataset` from what this project measured: seconds per image
 * of its most recent task trained with the same mask kind and BN mode (else any), times the
 * images per epoch of an earlier run on the same dataset with the same caps, times epochs.
 */
export function estimateRun(h: Hyper, dataset: string, tasks: readonly TaskStats[]): Estimate {
  const timed = [...tasks].reverse().filter((t) => secondsPerImage(t) !== null);
  if (!timed.length) return { seconds: null, basis: 'no estimate yet: no run of this project has been timed' };
  const rateTask = timed.find((t) => t.options.maskKind === h.options.maskKind && t.options.bnMode === h.options.bnMode) ?? timed[0];
  const rate = secondsPerImage(rateTask)!;
  const same = [...tasks].reverse().find((t) =>
    t.dataset === dataset && t.trainImages !== null &&
    (t.dataLimits?.trainPerClass ?? undefined) === h.trainPerClass && (t.dataLimits?.valFraction ?? 0.1) === h.valFraction);
  let images: number | null = same?.trainImages ?? null;
  let how = same ? `${images!.toLocaleString('en-US')} images per epoch as in "${same.name}"` : '';
  if (images === null && h.trainPerClass !== undefined) {
    const classes = [...tasks].reverse().find((t) => t.dataset === dataset)?.classNames.length;
    if (classes) {
      images = Math.round(classes * h.trainPerClass * (1 - h.valFraction));
      how = `at most ${images.toLocaleString('en-US')} images per epoch (${classes} classes × ${h.trainPerClass})`;
    }
  }
  const ms = (rate * 1000).toPrecision(2);
  if (images === null) return { seconds: null, basis: `no estimate: no earlier run on ${dataset} with these caps (measured ${ms} ms per image on "${rateTask.name}")` };
  const seconds = rate * images * h.options.epochs;
  return { seconds, basis: `${how} × ${h.options.epochs} epochs at ${ms} ms per image measured on "${rateTask.name}"` };
}

export function formatDuration(s: number): string {
  if (s < 90) return `${Math.max(1, Math.round(s))} s`;
  if (s < 90 * 60) return `${Math.round(s / 60)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}
