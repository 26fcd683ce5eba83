/**
 * Answers the explorer's 'analyze' requests (issue #10). Filter counts of a small project run
 * here in the host (a few ms); a big project's, and everything that needs TF.js, go to a
 * worker. No vscode import, so it is unit-tested directly.
 */
import { performance } from 'node:perf_hooks';
import { isPiggybackError } from '../core/errors';
import { analyzeLayerFilters } from '../core/project/filters';
import type { AnalysisRequest, AnalysisResult, HostToWebview } from '../shared/protocol';
import type { BackendPreference } from '../core/backend';
import { JobError } from './jobErrors';
import type { JobRequest, JobResults } from './workerProtocol';
import { SUPERSEDED } from './workerSession';

export interface AnalysisHostDeps {
  /** The open project, if any. */
  projectDir(): string | undefined;
  log: { info(line: string): void; error(line: string): void };
  /** The piggyback.backend setting. */
  backend?(): BackendPreference;
  /** Runs a one-off engine job in a fresh worker (JobRunner: one at a time, cancellable). */
  runJob?<K extends JobRequest['kind']>(job: Extract<JobRequest, { kind: K }>, title: string): Promise<JobResults[K]>;
  /** Mask entries the project holds (masked weights x tasks): how much a filter drill-down decodes. */
  maskEntries?(): number;
  /** Runs an interactive engine call in the long-lived worker (WorkerSession: warm caches, newest call wins). */
  callWorker?<K extends JobRequest['kind']>(job: Extract<JobRequest, { kind: K }>): Promise<JobResults[K]>;
}

/**
 * A drill-down decodes every task's whole mask file: about 10 ns per mask entry (measured: 170 ms
 * for a MobileNetV2-sized project with 5 tasks, 17 M entries). Up to this many entries (a few ms)
 * it runs here; beyond, in the worker, so the host's event loop never stalls.
 */
export const HOST_FILTER_ENTRIES = 1_000_000;
/** Past this the log says the host was slow. */
const SLOW_HOST_MS = 50;

export async function runAnalysis(req: AnalysisRequest, deps: AnalysisHostDeps): Promise<AnalysisResult> {
  const dir = deps.projectDir();
  if (!dir) throw new Error('no mask project is open');
  switch (req.kind) {
    case 'filters': {
      if (deps.callWorker && (deps.maskEntries?.() ?? Infinity) > HOST_FILTER_ENTRIES) {
        const report = await deps.callWorker({ kind: 'filters', req: { projectDir: dir, layer: req.layer, diff: req.diff, positionsOf: req.positionsOf } });
        return { kind: 'filters', report };
      }
      const t0 = performance.now();
      const report = analyzeLayerFilters(dir, req.layer, { diff: req.diff, positionsOf: req.positionsOf });
      const ms = performance.now() - t0;
      if (ms > SLOW_HOST_MS) deps.log.info(`filter drill-down of ${req.layer} took ${ms.toFixed(0)} ms on the extension host`);
      return { kind: 'filters', report };
    }
    case 'forgetting': {
      if (!deps.runJob) throw new Error('the forgetting matrix needs the engine worker');
      const matrix = await deps.runJob({ kind: 'forgetting', req: { projectDir: dir, backend: deps.backend?.() } }, 're-evaluating every task (forgetting matrix)');
      return { kind: 'forgetting', matrix };
    }
    case 'rethreshold': {
      if (!deps.callWorker) throw new Error('the threshold what-if needs the engine worker');
      const result = await deps.callWorker({ kind: 'rethreshold', req: { projectDir: dir, task: req.task, thresholds: req.thresholds, backend: deps.backend?.() } });
      return { kind: 'rethreshold', result };
    }
    case 'similarity': {
      // The long-lived worker: its probe-set cache is the what-if's, and a second pair skips TF.js start-up.
      if (!deps.callWorker) throw new Error('CKA needs the engine worker');
      const result = await deps.callWorker({ kind: 'similarity', req: { projectDir: dir, taskA: req.taskA, taskB: req.taskB, backend: deps.backend?.() } });
      return { kind: 'similarity', result };
    }
    case 'inference': {
      if (!deps.runJob) throw new Error('task inference needs the engine worker');
      const result = await deps.runJob({ kind: 'inference', req: { projectDir: dir, backend: deps.backend?.() } }, 'task inference over every task');
      return { kind: 'inference', result };
    }
  }
}

/** One line for the user: the engine's own message when it has one. */
export function analysisErrorLine(e: unknown): string {
  if (isPiggybackError(e)) return e.oneLine();
  if (e instanceof JobError) return e.info.line;
  return e instanceof Error ? e.message : String(e);
}

/** The reply to post for request `id`: its result, or its error as one line. */
export async function answerAnalysis(id: number, req: AnalysisRequest, deps: AnalysisHostDeps): Promise<HostToWebview> {
  try {
    return { type: 'analysisResult', id, result: await runAnalysis(req, deps) };
  } catch (e) {
    const message = analysisErrorLine(e);
    // A slider move replaced by a newer one is not a failure (the webview drops it anyway).
    if (!(e instanceof JobError && e.info.code === SUPERSEDED)) deps.log.error(`${req.kind} analysis failed: ${message}`);
    return { type: 'analysisError', id, kind: req.kind, message };
  }
}
