/**
 * Shared bits of the data module: loader options, option/InputSpec validation and
 * small helpers for building PiggybackErrors. Plain typed arrays only (no TF.js).
 */
import * as fs from 'fs';
import { PiggybackError } from '../errors';
import type { InputSpec } from '../types';

/** Options understood by every loader (builtin ids, IDX folders, image folders). */
export interface LoadOptions {
  /** Keep at most this many training images per class (seeded random subset). Applied before `valFraction`. */
  trainPerClass?: number;
  /** Keep at most this many test images overall (seeded, class-balanced round robin). */
  testLimit?: number;
  /** Fraction of the (capped) training pool carved out, stratified, as `val`. Default 0 (no val). */
  valFraction?: number;
  /** Seed for caps, the val carve-out and the final shuffle. Default 1. Fixed train/test splits never depend on it. */
  seed?: number;
}

/** Extra options for image folders without their own train/ and test/ subfolders. */
export interface ImageFolderOptions extends LoadOptions {
  /** Fraction of each class held out as test when the folder has no train/ + test/ layout. Default 0.2. */
  testFraction?: number;
}

export const DEFAULT_SEED = 1;
/** Seed of every fixed (built-in or folder) train/test split: independent of the user's seed on purpose. */
export const FIXED_SPLIT_SEED = 20240531;

export function badDataset(message: string, hint: string): PiggybackError {
  return new PiggybackError('BAD_DATASET', message, hint);
}

export function badArgument(message: string, hint: string): PiggybackError {
  return new PiggybackError('BAD_ARGUMENT', message, hint);
}

export function validateInputSpec(input: InputSpec): void {
  const ok = (v: unknown): boolean => typeof v === 'number' && Number.isInteger(v) && v > 0 && v <= 4096;
  if (!input || !ok(input.height) || !ok(input.width)) {
    throw badArgument(
      `invalid input size ${input ? `${input.height}x${input.width}` : String(input)}`,
      'height and width must be positive integers (e.g. 32x32)',
    );
  }
  if (![1, 3, 4].includes(input.channels)) {
    throw badArgument(`unsupported input channel count ${String(input.channels)}`, 'use 1 (grayscale), 3 (RGB) or 4 (RGBA)');
  }
}

export function validateLoadOptions(opts: LoadOptions & { testFraction?: number }): void {
  const posInt = (name: string, v: number | undefined): void => {
    if (v !== undefined && !(Number.isInteger(v) && v > 0)) {
      throw badArgument(`${name} must be a positive integer, got ${String(v)}`, `omit ${name} to keep everything`);
    }
  };
  posInt('trainPerClass', opts.trainPerClass);
  posInt('testLimit', opts.testLimit);
  if (opts.valFraction !== undefined && !(opts.valFraction >= 0 && opts.valFraction < 1)) {
    throw badArgument(`valFraction must be in [0, 1), got ${String(opts.valFraction)}`, 'e.g. 0.1 holds out 10% of train as val');
  }
  if (opts.testFraction !== undefined && !(opts.testFraction > 0 && opts.testFraction < 1)) {
    throw badArgument(`testFraction must be in (0, 1), got ${String(opts.testFraction)}`, 'e.g. 0.2 holds out 20% of each class as test');
  }
  if (opts.seed !== undefined && !Number.isFinite(opts.seed)) {
    throw badArgument(`seed must be a finite number, got ${String(opts.seed)}`, 'use an integer such as 1');
  }
}

export async function readFileOrThrow(file: string, what: string): Promise<Buffer> {
  try {
    return await fs.promises.readFile(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new PiggybackError('FILE_NOT_FOUND', `${what} not found: ${file}`, 'check the path');
    }
    throw badDataset(`cannot read ${what} ${file}: ${(e as Error).message}`, 'check the file permissions');
  }
}

export function isDir(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

export function isFile(p: string): boolean {
  try {
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

/** Numeric-aware, locale-independent name order ("2" < "10"), ties broken by code units. */
export function compareNames(a: string, b: string): number {
  const re = /(\d+)|(\D+)/g;
  const pa = a.match(re) ?? [];
  const pb = b.match(re) ?? [];
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    const x = pa[i];
    const y = pb[i];
    const nx = /^\d/.test(x);
    const ny = /^\d/.test(y);
    if (nx && ny) {
      const d = Number(x) - Number(y);
      if (d !== 0) return d;
    } else if (x !== y) {
      const lx = x.toLowerCase();
      const ly = y.toLowerCase();
      if (lx !== ly) return lx < ly ? -1 : 1;
    }
  }
  if (pa.length !== pb.length) return pa.length - pb.length;
  return a < b ? -1 : a > b ? 1 : 0;
}
