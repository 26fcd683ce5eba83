/**
 * The one hyperparameter table. Everything else is generated from it or checked against it:
 * the engine's validation (resolveTrainOptions), the CLI flags and their help (src/cli),
 * the VS Code quick-pick editor and settings reader (src/extension), and package.json's
 * `piggyback.*` settings (test/unit/hyperparams.test.ts fails when they drift apart).
 *
 * The threshold is the project's: set once by `init --threshold` (or Create Mask Project),
 * stored in piggyback.json, copied into each task's options when it trains and shown there.
 * It is no setting and no train flag, so nothing can silently train with another one.
 */
import { PiggybackError } from './errors';
import type { DataLimits, TrainOptions } from './types';

export type HyperKey = keyof TrainOptions | 'trainPerClass' | 'testLimit' | 'valFraction';

export interface HyperSpec {
  key: HyperKey;
  /** CLI flag without the dashes (commander turns it into the camelCase option name). */
  flag: string;
  /** Whether `piggyback.<key>` is a VS Code setting (false: the threshold, owned by the project). */
  setting: boolean;
  type: 'integer' | 'number' | 'enum';
  choices?: readonly string[];
  min?: number;
  max?: number;
  /** min / max themselves are not allowed. */
  exclusiveMin?: boolean;
  exclusiveMax?: boolean;
  /** May be left empty (null / undefined): "use everything". */
  optional?: boolean;
  default: number | string | null;
  /** One line, shown as the setting's description, the CLI help and the quick-pick detail. */
  doc: string;
}

export const HYPERPARAMS: readonly HyperSpec[] = [
  { key: 'epochs', flag: 'epochs', setting: true, type: 'integer', min: 1, max: 10_000, default: 30, doc: 'Training epochs per task.' },
  { key: 'batchSize', flag: 'batch-size', setting: true, type: 'integer', min: 1, max: 4096, default: 32, doc: 'Training batch size (images per step).' },
  { key: 'lrMask', flag: 'lr-mask', setting: true, type: 'number', min: 0, exclusiveMin: true, max: 1, default: 1e-4, doc: 'Adam learning rate of the real-valued mask scores.' },
  {
    key: 'lrHead', flag: 'lr-head', setting: true, type: 'number', min: 0, exclusiveMin: true, max: 1, default: 1e-4,
    doc: 'Adam learning rate of everything but the mask scores: the new head, BN parameters when trainable, and every weight of the fine-tuning baseline.',
  },
  { key: 'lrDecayEvery', flag: 'decay-every', setting: true, type: 'integer', min: 0, max: 10_000, default: 15, doc: 'Multiply the learning rates by lrDecayFactor every this many epochs (0 = never).' },
  { key: 'lrDecayFactor', flag: 'decay-factor', setting: true, type: 'number', min: 0, exclusiveMin: true, max: 1, default: 0.1, doc: 'Learning-rate decay factor, in (0, 1].' },
  { key: 'maskKind', flag: 'mask', setting: true, type: 'enum', choices: ['binary', 'ternary'], default: 'binary', doc: 'Binary masks {0,1} or the ternarizer {-1,0,+1}.' },
  { key: 'bnMode', flag: 'bn', setting: true, type: 'enum', choices: ['frozen', 'trainable'], default: 'frozen', doc: "Batch normalisation: keep the backbone's (frozen) or train per-task BN parameters." },
  { key: 'maskScale', flag: 'mask-scale', setting: true, type: 'number', min: 0, exclusiveMin: true, max: 1, default: 1e-2, doc: "Initial value of every mask score; must be above the project's threshold, so training starts from the backbone." },
  {
    key: 'threshold', flag: 'threshold', setting: false, type: 'number', min: 0, max: 1, exclusiveMax: true, default: 5e-3,
    doc: "Mask threshold: a weight is kept when its score is above it. The project's, set when it is created; below the mask scale.",
  },
  {
    key: 'augment', flag: 'augment', setting: true, type: 'enum', choices: ['none', 'crop-flip'], default: 'none',
    doc: "Training augmentation: none, or the paper's random crop (pad by 1/8 of the size, crop back) and horizontal flip. Off for digit-like data, whose classes flips confuse.",
  },
  { key: 'seed', flag: 'seed', setting: true, type: 'integer', min: 0, max: 2_147_483_647, default: 1, doc: 'Random seed for data shuffling and head initialisation (same seed, same mask).' },
  { key: 'trainPerClass', flag: 'train-per-class', setting: true, type: 'integer', optional: true, min: 1, max: 10_000_000, default: null, doc: 'Cap on training images per class (quick experiments); empty = all.' },
  { key: 'testLimit', flag: 'test-limit', setting: true, type: 'integer', optional: true, min: 1, max: 100_000_000, default: null, doc: 'Cap on test images (quick experiments); empty = all.' },
  { key: 'valFraction', flag: 'val-fraction', setting: true, type: 'number', min: 0, max: 0.5, default: 0.1, doc: 'Fraction of the training images held out for validation (the live validation curve).' },
];

const BY_KEY = new Map(HYPERPARAMS.map((s) => [s.key, s]));

export function hyperSpec(key: HyperKey): HyperSpec {
  const s = BY_KEY.get(key);
  if (!s) throw new Error(`no hyperparameter ${key}`);
  return s;
}

/** The options of TrainOptions (not the data limits), in table order. */
export const TRAIN_OPTION_KEYS = HYPERPARAMS.filter((s) => !['trainPerClass', 'testLimit', 'valFraction'].includes(s.key)).map((s) => s.key as keyof TrainOptions);

export function defaultTrainOptions(): TrainOptions {
  return Object.fromEntries(TRAIN_OPTION_KEYS.map((k) => [k, hyperSpec(k).default])) as unknown as TrainOptions;
}

/** The allowed values in words, e.g. "a whole number from 1 to 10000" or "a number in (0, 1]". */
export function rangeText(s: HyperSpec): string {
  if (s.type === 'enum') return `one of ${s.choices!.join(', ')}`;
  const what = s.type === 'integer' ? 'a whole number' : 'a number';
  if (s.type === 'integer' && !s.exclusiveMin && !s.exclusiveMax) return `${what} from ${s.min} to ${s.max}`;
  return `${what} in ${s.exclusiveMin ? '(' : '['}${s.min}, ${s.max}${s.exclusiveMax ? ')' : ']'}`;
}

/** What is wrong with `value` for `key`, or null when it is allowed. The one place ranges are checked. */
export function hyperProblem(key: HyperKey, value: unknown): string | null {
  const s = hyperSpec(key);
  if (value === undefined || value === null) return s.optional ? null : `${key} is required`;
  if (s.type === 'enum') return typeof value === 'string' && s.choices!.includes(value) ? null : `${key} must be ${rangeText(s)}, got ${JSON.stringify(value)}`;
  const v = value as number;
  const ok =
    typeof v === 'number' &&
    Number.isFinite(v) &&
    (s.type !== 'integer' || Number.isInteger(v)) &&
    (s.min === undefined || (s.exclusiveMin ? v > s.min : v >= s.min)) &&
    (s.max === undefined || (s.exclusiveMax ? v < s.max : v <= s.max));
  return ok ? null : `${key} must be ${rangeText(s)}, got ${typeof value === 'number' ? String(value) : JSON.stringify(value)}`;
}

function fail(problem: string, key: HyperKey): never {
  const s = hyperSpec(key);
  throw new PiggybackError('BAD_ARGUMENT', problem, s.setting ? `set --${s.flag} (or the piggyback.${s.key} setting) within range` : `create the project with --${s.flag} within range`);
}

export function checkHyper(key: HyperKey, value: unknown): void {
  const p = hyperProblem(key, value);
  if (p) fail(p, key);
}

/**
 * Complete, validated options for a run: defaults from the table, the project's threshold,
 * then what the caller gave. A threshold other than the project's is refused (it has one owner).
 */
export function resolveTrainOptions(partial: Partial<TrainOptions> | undefined, projectThreshold: number): TrainOptions {
  const given = Object.fromEntries(Object.entries(partial ?? {}).filter(([, v]) => v !== undefined)) as Partial<TrainOptions>;
  if (given.threshold !== undefined && given.threshold !== projectThreshold) {
    throw new PiggybackError('BAD_ARGUMENT', `threshold ${given.threshold} differs from the project's ${projectThreshold}`,
      'the threshold belongs to the project (set by init --threshold); leave it out of the training options');
  }
  const o = { ...defaultTrainOptions(), ...given, threshold: projectThreshold } as TrainOptions;
  for (const k of TRAIN_OPTION_KEYS) checkHyper(k, o[k]);
  if (!(o.maskScale > o.threshold)) {
    throw new PiggybackError('BAD_ARGUMENT', `mask scale ${o.maskScale} must be above the threshold ${o.threshold}`, 'otherwise the untrained mask would switch weights off');
  }
  return o;
}

/** Validated data limits for a run (undefined caps = everything). */
export function resolveDataLimits(l: { trainPerClass?: number; testLimit?: number; valFraction?: number }): DataLimits {
  checkHyper('trainPerClass', l.trainPerClass);
  checkHyper('testLimit', l.testLimit);
  const valFraction = l.valFraction ?? (hyperSpec('valFraction').default as number);
  checkHyper('valFraction', valFraction);
  return { trainPerClass: l.trainPerClass, testLimit: l.testLimit, valFraction };
}

/** The options that differ between two runs, as "key a → b" (key order of the table). */
export function optionDiff(a: Partial<Record<HyperKey, unknown>>, b: Partial<Record<HyperKey, unknown>>): Array<{ key: HyperKey; a: unknown; b: unknown }> {
  return HYPERPARAMS.filter((s) => (a[s.key] ?? null) !== (b[s.key] ?? null)).map((s) => ({ key: s.key, a: a[s.key] ?? null, b: b[s.key] ?? null }));
}

/** The `piggyback.<key>` entry package.json must carry for a setting of the table (JSON schema, as VS Code reads it). */
export function settingSchema(s: HyperSpec): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (s.type === 'enum') {
    out.type = 'string';
    out.enum = [...s.choices!];
  } else {
    out.type = s.optional ? [s.type, 'null'] : s.type;
  }
  out.default = s.default;
  if (s.min !== undefined) out[s.exclusiveMin ? 'exclusiveMinimum' : 'minimum'] = s.min;
  if (s.max !== undefined) out[s.exclusiveMax ? 'exclusiveMaximum' : 'maximum'] = s.max;
  out.description = s.doc;
  return out;
}
