/**
 * Optional command arguments. Every command works from the palette with dialogs;
 * tests, keybindings and tree items pass these to skip dialogs.
 */
import type { TrainOptions } from '../../core/types';
import { taskOfNode } from '../inspectorTree';

export interface CommonArgs {
  /** Project folder (absolute or relative to the first workspace folder). */
  project?: string;
  /** Never open a dialog: missing required arguments are an error. */
  nonInteractive?: boolean;
}

export interface TaskArgs extends CommonArgs {
  task?: string;
}

export interface TrainArgs extends TaskArgs {
  dataset?: string;
  /** Backbone model.json used when the project does not exist yet (default: the embedded one). */
  model?: string;
  epochs?: number;
  batchSize?: number;
  trainPerClass?: number;
  testLimit?: number;
  options?: Partial<TrainOptions>;
  overwrite?: boolean;
  /** Open the explorer's live curves (default true). */
  showExplorer?: boolean;
}

export interface CreateProjectArgs extends CommonArgs {
  model?: string;
  cutAt?: string;
}

export interface EvaluateArgs extends TaskArgs {
  dataset?: string;
  testLimit?: number;
}

export interface BaselineArgs extends TaskArgs {
  methods?: Array<'classifier' | 'finetune'>;
  showExplorer?: boolean;
}

export interface ReportArgs extends CommonArgs {
  /** Output file (.md or .json); skips the save dialog. */
  path?: string;
}

export interface RelinkArgs extends CommonArgs {
  /** model.json of the same backbone (or 'reference-cnn'); skips the file dialog. */
  model?: string;
}

export interface DeleteArgs extends TaskArgs {
  /** false: delete without the confirmation dialog. */
  confirm?: boolean;
}

/** Accepts an args object, a tree task node, or nothing. */
export function normaliseArgs<T extends TaskArgs>(x: unknown): T {
  const fromNode = taskOfNode(x);
  if (fromNode) return fromNode as T;
  if (x && typeof x === 'object' && !Array.isArray(x)) return x as T;
  if (typeof x === 'string') return { task: x } as T;
  return {} as T;
}
