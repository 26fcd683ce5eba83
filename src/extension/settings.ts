/** Reads the piggyback.* settings into engine option objects. */
import * as vscode from 'vscode';
import { DEFAULT_TRAIN_OPTIONS, type BnMode, type MaskKind, type TrainOptions } from '../core/types';

export type BackendSetting = 'auto' | 'tensorflow' | 'native' | 'wasm' | 'cpu';

function cfg(): vscode.WorkspaceConfiguration {
  return vscode.workspace.getConfiguration('piggyback');
}

function num(c: vscode.WorkspaceConfiguration, key: string, fallback: number, ok: (v: number) => boolean): number {
  const v = c.get<unknown>(key);
  return typeof v === 'number' && Number.isFinite(v) && ok(v) ? v : fallback;
}

const pos = (v: number): boolean => v > 0;
const posInt = (v: number): boolean => Number.isInteger(v) && v > 0;

export function backendSetting(): BackendSetting {
  const v = cfg().get<string>('backend', 'auto');
  return v === 'tensorflow' || v === 'native' || v === 'wasm' || v === 'cpu' ? v : 'auto';
}

export function trainOptionsFromSettings(): TrainOptions {
  const c = cfg();
  const d = DEFAULT_TRAIN_OPTIONS;
  const maskKind = c.get<string>('maskKind');
  const bnMode = c.get<string>('bnMode');
  return {
    epochs: num(c, 'epochs', d.epochs, posInt),
    batchSize: num(c, 'batchSize', d.batchSize, posInt),
    lrMask: num(c, 'lrMask', d.lrMask, pos),
    lrHead: num(c, 'lrHead', d.lrHead, pos),
    lrDecayEvery: num(c, 'lrDecayEvery', d.lrDecayEvery, (v) => Number.isInteger(v) && v >= 0),
    lrDecayFactor: num(c, 'lrDecayFactor', d.lrDecayFactor, pos),
    maskKind: maskKind === 'binary' || maskKind === 'ternary' ? (maskKind as MaskKind) : d.maskKind,
    bnMode: bnMode === 'frozen' || bnMode === 'trainable' ? (bnMode as BnMode) : d.bnMode,
    threshold: num(c, 'threshold', d.threshold, Number.isFinite),
    maskScale: num(c, 'maskScale', d.maskScale, pos),
    seed: num(c, 'seed', d.seed, Number.isInteger),
  };
}

/** Quick-run caps; undefined = use everything. */
export function budgetFromSettings(): { trainPerClass?: number; testLimit?: number } {
  const c = cfg();
  const tpc = c.get<unknown>('trainPerClass');
  const tl = c.get<unknown>('testLimit');
  return {
    trainPerClass: typeof tpc === 'number' && posInt(tpc) ? tpc : undefined,
    testLimit: typeof tl === 'number' && posInt(tl) ? tl : undefined,
  };
}

export function projectPathSetting(): string {
  return (cfg().get<string>('projectPath') ?? '').trim();
}
