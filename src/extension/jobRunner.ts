/**
 * Runs engine jobs in a worker_threads Worker (dist/worker.js), one job at a time,
 * one fresh worker per job (a crash or OOM cannot poison the next run).
 *
 * Guarantees for the UI: every run settles. Result -> resolve; engine error -> JobError
 * with the PiggybackError line; cancel -> 'cancel' is posted (the worker aborts its
 * AbortController) and, if the worker has not stopped within a grace period, it is
 * terminated; crash / non-zero exit / out of memory -> JobError('WORKER_CRASH').
 */
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import * as vscode from 'vscode';
import type { TrainEvent } from '../core/types';
import { EventLoopMonitor } from './eventLoopMonitor';
import { JobError } from './jobErrors';
import type { Log } from './log';
import type { HostToWorker, JobRequest, JobResults, WorkerToHost } from './workerProtocol';

export interface RunOptions {
  /** Shown in the status bar / logs, e.g. 'training "fashion"'. */
  title: string;
  onEvent?: (e: TrainEvent) => void;
  token?: vscode.CancellationToken;
}

export interface RunningJob {
  kind: JobRequest['kind'];
  title: string;
  startedAt: number;
  cancel(): void;
}

export interface JobRunnerOptions {
  /** Heap cap for the worker: a runaway job dies with a clear message instead of taking the host down. */
  heapMb?: number;
  /** After 'cancel', how long the worker gets to stop by itself before it is terminated. */
  cancelGraceMs?: number;
}

export class JobRunner implements vscode.Disposable {
  private current: (RunningJob & { worker: Worker }) | undefined;
  private readonly changed = new vscode.EventEmitter<RunningJob | undefined>();
  /** Fires when a job starts or ends. */
  readonly onDidChange = this.changed.event;
  readonly loopMonitor = new EventLoopMonitor();

  private readonly heapMb: number;
  private readonly cancelGraceMs: number;

  constructor(
    private readonly workerPath: string,
    private readonly log: Pick<Log, 'info' | 'error'>,
    opts: JobRunnerOptions = {},
  ) {
    this.heapMb = opts.heapMb ?? 4096;
    this.cancelGraceMs = opts.cancelGraceMs ?? 15_000;
  }

  get running(): RunningJob | undefined {
    return this.current;
  }

  cancelCurrent(): boolean {
    if (!this.current) return false;
    this.current.cancel();
    return true;
  }

  run<K extends JobRequest['kind']>(job: Extract<JobRequest, { kind: K }>, opts: RunOptions): Promise<JobResults[K]> {
    if (this.current) {
      return Promise.reject(
        new JobError({
          code: 'BUSY',
          line: `another Piggyback job is running (${this.current.title}) (wait for it or run "Piggyback: Cancel Running Job")`,
        }),
      );
    }
    const started = Date.now();
    const worker = new Worker(this.workerPath, {
      resourceLimits: { maxOldGenerationSizeMb: this.heapMb },
      stdout: false,
      stderr: false,
    });
    this.log.info(`job start: ${opts.title} (worker ${worker.threadId}, ${path.basename(this.workerPath)})`);
    const measured = job.kind === 'train' || job.kind === 'baselines' || job.kind === 'evaluate';
    if (measured) this.loopMonitor.start(opts.title);

    return new Promise<JobResults[K]>((resolve, reject) => {
      let settled = false;
      let cancelRequested = false;
      let killTimer: NodeJS.Timeout | undefined;
      const tokenSub = opts.token?.onCancellationRequested(() => cancel());

      const finish = (err: JobError | undefined, result?: unknown): void => {
        if (settled) return;
        settled = true;
        tokenSub?.dispose();
        if (killTimer) clearTimeout(killTimer);
        this.current = undefined;
        void worker.terminate().catch(() => undefined);
        const secs = ((Date.now() - started) / 1000).toFixed(1);
        if (measured) {
          const s = this.loopMonitor.stop();
          if (s) this.log.info(EventLoopMonitor.format(s));
        }
        if (err) {
          if (err.cancelled) this.log.info(`job cancelled after ${secs} s: ${opts.title}`);
          else this.log.error(`job failed after ${secs} s: ${opts.title}: ${err.info.line}${err.info.stack ? `\n${err.info.stack}` : ''}`);
          reject(err);
        } else {
          this.log.info(`job done in ${secs} s: ${opts.title}`);
          resolve(result as JobResults[K]);
        }
        this.changed.fire(undefined);
      };

      const cancel = (): void => {
        if (settled || cancelRequested) return;
        cancelRequested = true;
        this.log.info(`cancel requested: ${opts.title}`);
        worker.postMessage({ type: 'cancel' } satisfies HostToWorker);
        killTimer = setTimeout(() => {
          this.log.info(`worker did not stop within ${this.cancelGraceMs / 1000} s of cancel; terminating it`);
          finish(new JobError({ code: 'CANCELLED', line: `${opts.title} cancelled (nothing was saved for the cancelled run)` }));
        }, this.cancelGraceMs);
      };

      worker.on('message', (m: WorkerToHost) => {
        if (settled) return;
        switch (m.type) {
          case 'event':
            try {
              opts.onEvent?.(m.event);
            } catch (e) {
              this.log.error(`event handler failed: ${String(e)}`);
            }
            break;
          case 'log':
            this.log.info(`[worker] ${m.message}`);
            break;
          case 'result':
            finish(undefined, m.result);
            break;
          case 'error':
            // A cancel that the engine reported as some other error is still a cancel to the user.
            finish(new JobError(cancelRequested && m.error.code !== 'CANCELLED' ? { ...m.error, code: 'CANCELLED' } : m.error));
            break;
        }
      });
      worker.on('error', (e: Error & { code?: string }) => {
        const oom = e.code === 'ERR_WORKER_OUT_OF_MEMORY' || /out of memory|heap limit/i.test(e.message);
        finish(
          new JobError({
            code: 'WORKER_CRASH',
            line: oom
              ? `${opts.title} ran out of memory in the worker (limit ${this.heapMb} MB) (use a smaller batch size or fewer images per class)`
              : `${opts.title} crashed: ${e.message} (this is a bug; the output channel "Piggyback" has details)`,
            stack: e.stack,
          }),
        );
      });
      worker.on('exit', (code) => {
        if (settled) return;
        finish(
          cancelRequested
            ? new JobError({ code: 'CANCELLED', line: `${opts.title} cancelled (nothing was saved for the cancelled run)` })
            : new JobError({ code: 'WORKER_CRASH', line: `${opts.title} stopped: the worker exited with code ${code} before answering (see the output channel "Piggyback")` }),
        );
      });

      this.current = { kind: job.kind, title: opts.title, startedAt: started, cancel, worker };
      this.changed.fire(this.current);
      if (opts.token?.isCancellationRequested) cancel();
      worker.postMessage({ type: 'run', job } satisfies HostToWorker);
    });
  }

  dispose(): void {
    this.current?.cancel();
    void this.current?.worker.terminate();
    this.changed.dispose();
  }
}
