/**
 * One long-lived engine worker for interactive analyses (the threshold slider): the engine
 * caches the probe set and the decoded scores per process, so only the first call pays for
 * loading them. Calls run one at a time; while one runs, a newer call replaces the waiting one
 * of the same kind (answered 'superseded'), so a fast slider never queues stale work and
 * never drops another view's request. The worker
 * stops after an idle period and is started again on the next call; a crash rejects the call
 * in flight and the next call gets a fresh worker. No vscode import (unit-tested with a fake).
 */
import { JobError } from './jobErrors';
import type { HostToWorker, JobRequest, JobResults, WorkerToHost } from './workerProtocol';

/** The part of worker_threads.Worker used here. */
export interface WorkerLike {
  postMessage(m: HostToWorker): void;
  on(ev: 'message', f: (m: WorkerToHost) => void): unknown;
  on(ev: 'error', f: (e: Error) => void): unknown;
  on(ev: 'exit', f: (code: number) => void): unknown;
  terminate(): Promise<number>;
}

interface Call {
  job: JobRequest;
  resolve(v: unknown): void;
  reject(e: JobError): void;
}

export const SUPERSEDED = 'SUPERSEDED';

export class WorkerSession {
  private worker: WorkerLike | undefined;
  private running: (Call & { id: number }) | undefined;
  /** At most one waiting call per job kind, in arrival order. */
  private readonly waiting: Call[] = [];
  private nextId = 1;
  private idleTimer: ReturnType<typeof setTimeout> | undefined;
  private disposed = false;

  constructor(
    private readonly spawn: () => WorkerLike,
    private readonly log: { info(line: string): void },
    private readonly idleMs = 120_000,
  ) {}

  call<K extends JobRequest['kind']>(job: Extract<JobRequest, { kind: K }>): Promise<JobResults[K]> {
    if (this.disposed) return Promise.reject(new JobError({ code: 'CANCELLED', line: 'the explorer was closed' }));
    return new Promise<JobResults[K]>((resolve, reject) => {
      const i = this.waiting.findIndex((c) => c.job.kind === job.kind);
      if (i >= 0) this.waiting.splice(i, 1)[0].reject(new JobError({ code: SUPERSEDED, line: 'superseded by a newer request' }));
      this.waiting.push({ job, resolve: resolve as (v: unknown) => void, reject });
      this.pump();
    });
  }

  private pump(): void {
    const next = this.running ? undefined : this.waiting.shift();
    if (!next) return;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    const c = { ...next, id: this.nextId++ };
    this.running = c;
    this.ensureWorker().postMessage({ type: 'call', id: c.id, job: c.job });
  }

  private ensureWorker(): WorkerLike {
    if (this.worker) return this.worker;
    const w = this.spawn();
    this.log.info('analysis worker started (keeps the what-if probe set in memory)');
    w.on('message', (m) => {
      // The engine's store notices (repaired task folders) go to the output channel, as JobRunner's do.
      if (m.type === 'log') this.log.info(`[analysis worker] ${m.message}`);
      if ((m.type !== 'reply' && m.type !== 'replyError') || m.id !== this.running?.id) return;
      const c = this.running;
      this.running = undefined;
      if (m.type === 'reply') c.resolve(m.result);
      else c.reject(new JobError(m.error));
      this.settled();
    });
    const lost = (line: string) => {
      if (this.worker !== w) return;
      this.worker = undefined;
      const c = this.running;
      this.running = undefined;
      c?.reject(new JobError({ code: 'WORKER_CRASH', line }));
      this.settled();
    };
    w.on('error', (e) => lost(`the analysis worker crashed: ${e.message} (the next request starts a new one)`));
    w.on('exit', (code) => lost(`the analysis worker exited with code ${code} (the next request starts a new one)`));
    this.worker = w;
    return w;
  }

  /** After each answer: the next waiting call, or an idle timer that stops the worker. */
  private settled(): void {
    if (this.waiting.length) {
      this.pump();
      return;
    }
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => this.stopWorker('idle'), this.idleMs);
    this.idleTimer.unref?.();
  }

  private stopWorker(why: string): void {
    const w = this.worker;
    if (!w || this.running) return;
    this.worker = undefined;
    this.log.info(`analysis worker stopped (${why})`);
    void w.terminate().catch(() => undefined);
  }

  /** The project changed: its caches are useless, so start afresh on the next call. */
  reset(): void {
    this.stopWorker('project changed');
  }

  dispose(): void {
    this.disposed = true;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    for (const c of this.waiting.splice(0)) c.reject(new JobError({ code: 'CANCELLED', line: 'the explorer was closed' }));
    const c = this.running;
    this.running = undefined;
    c?.reject(new JobError({ code: 'CANCELLED', line: 'the explorer was closed' }));
    const w = this.worker;
    this.worker = undefined;
    void w?.terminate().catch(() => undefined);
  }
}
