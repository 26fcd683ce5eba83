/** Reads the piggyback.* settings into engine option objects. */
import * as vscode from 'vscode';
import { HYPERPARAMS, TRAIN_OPTION_KEYS, hyperProblem } from '../core/hyperparams';
import type { TrainOptions } from '../core/types';

export type BackendSetting = 'auto' | 'tensorflow' | 'native' | 'wasm' | 'cpu';

function cfg(): vscode.WorkspaceConfiguration {
  return vscode.workspace.getConfiguration('piggyback');
}

export function backendSetting(): BackendSetting {
  const v = cfg().get<string>('backend', 'auto');
  return v === 'tensorflow' || v === 'native' || v === 'wasm' || v === 'cpu' ? v : 'auto';
}

/** What the piggyback.* settings say for a run; values outside the table's ranges fall back to the default and are named in `invalid`. */
export interface HyperSettings {
  /** Every per-run option (not the threshold: that is the project's). */
  options: Omit<TrainOptions, 'threshold'>;
  trainPerClass?: number;
  testLimit?: number;
  valFraction: number;
  invalid: string[];
}

export function hyperFromSettings(): HyperSettings {
  const c = cfg();
  const out: Record<string, unknown> = {};
  const invalid: string[] = [];
  for (const s of HYPERPARAMS) {
    if (!s.setting) continue;
    const v = c.get<unknown>(s.key);
    const problem = v === undefined ? null : hyperProblem(s.key, v);
    if (problem) invalid.push(`piggyback.${s.key}: ${problem}; using ${s.default ?? 'all'}`);
    out[s.key] = v === undefined || problem ? s.default : v;
  }
  const options = Object.fromEntries(TRAIN_OPTION_KEYS.filter((k) => k !== 'threshold').map((k) => [k, out[k]])) as Omit<TrainOptions, 'threshold'>;
  return {
    options,
    trainPerClass: (out.trainPerClass as number | null) ?? undefined,
    testLimit: (out.testLimit as number | null) ?? undefined,
    valFraction: out.valFraction as number,
    invalid,
  };
}

export function projectPathSetting(): string {
  return (cfg().get<string>('projectPath') ?? '').trim();
}
