/**
 * The hyperparameter editor of Train Mask, without VS Code: the lines it shows and how a
 * typed value is checked, both from the one table (src/core/hyperparams.ts). train.ts puts
 * these into quick picks; unit tests check them directly.
 */
import { HYPERPARAMS, hyperProblem, hyperSpec, rangeText, type HyperKey } from '../core/hyperparams';
import type { TrainOptions } from '../core/types';

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
