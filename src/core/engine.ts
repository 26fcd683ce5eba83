/**
 * The engine's public API: what the CLI and the extension worker call.
 * Everything long takes an AbortSignal and reports progress through TrainEvent callbacks.
 * (Signatures fixed first so the CLI, worker and UI can be built against them.)
 */
import type { EvalResult, ProjectStats, TrainEvent, TrainOptions, BaselineResult, TaskStats } from './types';

export interface BackendRequest {
  /** 'auto' tries tfjs-node, then wasm, then cpu. */
  backend?: 'auto' | 'tensorflow' | 'wasm' | 'cpu';
}

export interface CreateProjectRequest extends BackendRequest {
  projectDir: string;
  /** Path to a TF.js LayersModel model.json. */
  modelPath: string;
  /** Optional layer name: the backbone ends at (and includes) this layer. */
  cutAt?: string;
}

export interface TrainTaskRequest extends BackendRequest {
  projectDir: string;
  task: string;
  /** A built-in dataset id (see listBuiltinDatasets) or a path to an IDX folder or image folder. */
  dataset: string;
  options?: Partial<TrainOptions>;
  /** Cap on training images per class (quick runs); undefined = all. */
  trainPerClass?: number;
  /** Cap on test images; undefined = all. */
  testLimit?: number;
  /** Fraction of train held out as validation for the live curve (default 0.1). */
  valFraction?: number;
  /** Replace an existing task of the same name (default false: refuse). */
  overwrite?: boolean;
}

export interface EvaluateRequest extends BackendRequest {
  projectDir: string;
  task: string;
  /** Defaults to the task's own dataset. */
  dataset?: string;
  testLimit?: number;
}

export interface BaselineRequest extends TrainTaskRequest {
  methods: Array<'classifier' | 'finetune'>;
}

export type EventSink = (e: TrainEvent) => void;

export declare function createProject(req: CreateProjectRequest): Promise<ProjectStats>;
export declare function trainTask(req: TrainTaskRequest, onEvent?: EventSink, signal?: AbortSignal): Promise<TaskStats>;
export declare function evaluateTask(req: EvaluateRequest, signal?: AbortSignal): Promise<EvalResult>;
export declare function runBaselines(req: BaselineRequest, onEvent?: EventSink, signal?: AbortSignal): Promise<BaselineResult[]>;
/** Reads manifest + packed masks only: no TF.js, fast, safe to call from the extension host. */
export declare function projectStats(projectDir: string): ProjectStats;
export declare function deleteTask(projectDir: string, task: string): void;
