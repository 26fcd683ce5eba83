/** Messages between the extension host (jobRunner.ts) and the engine worker (worker.ts). Plain JSON only. */
import type {
  BackendRequest,
  BaselineRequest,
  CreateProjectRequest,
  EvaluateRequest,
  ForgettingMatrixResult,
  RelinkRequest,
  RethresholdRequest,
  RethresholdResult,
  SimilarityRequest,
  SimilarityResult,
  TaskInferenceRequest,
  TaskInferenceResult,
  TrainTaskRequest,
} from '../core/engine';
import type { BaselineResult, EvalResult, ProjectStats, TaskStats, TrainEvent } from '../core/types';
import type { LayerFilterReport } from '../core/project/filters';
import type { SerializedError } from './jobErrors';

export type JobRequest =
  | { kind: 'train'; req: TrainTaskRequest }
  | { kind: 'evaluate'; req: EvaluateRequest }
  | { kind: 'baselines'; req: BaselineRequest }
  | { kind: 'createProject'; req: CreateProjectRequest }
  | { kind: 'deleteTask'; projectDir: string; task: string }
  | { kind: 'relink'; req: RelinkRequest }
  | { kind: 'rethreshold'; req: RethresholdRequest }
  | { kind: 'forgetting'; req: BackendRequest & { projectDir: string } }
  | { kind: 'similarity'; req: SimilarityRequest }
  | { kind: 'inference'; req: TaskInferenceRequest }
  | { kind: 'filters'; req: { projectDir: string; layer: string; diff?: [string, string]; positionsOf?: string } };

export interface JobResults {
  train: TaskStats;
  evaluate: EvalResult;
  baselines: BaselineResult[];
  createProject: ProjectStats;
  deleteTask: null;
  relink: ProjectStats;
  rethreshold: RethresholdResult;
  forgetting: ForgettingMatrixResult;
  similarity: SimilarityResult;
  inference: TaskInferenceResult;
  filters: LayerFilterReport;
}

/**
 * 'run' is JobRunner's one job per worker. 'call' is WorkerSession's: many in a row in one
 * long-lived worker, so the engine's in-process caches (what-if probe set, decoded scores) stay warm.
 */
export type HostToWorker = { type: 'run'; job: JobRequest } | { type: 'cancel' } | { type: 'call'; id: number; job: JobRequest };

export type WorkerToHost =
  | { type: 'event'; event: TrainEvent }
  | { type: 'log'; message: string }
  | { type: 'result'; result: unknown }
  | { type: 'error'; error: SerializedError }
  | { type: 'reply'; id: number; result: unknown }
  | { type: 'replyError'; id: number; error: SerializedError };
