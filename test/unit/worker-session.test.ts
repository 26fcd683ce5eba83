/**
 * WorkerSession (the what-if slider's long-lived worker), with a fake worker: one worker for
 * many calls, one call at a time, a newer call replaces the waiting one, a crash rejects the
 * call in flight and the next call starts a fresh worker, idle stops it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { SUPERSEDED, WorkerSession, type WorkerLike } from '../../src/extension/workerSession';
import type { HostToWorker, JobRequest } from '../../src/extension/workerProtocol';
import type { JobError } from '../../src/extension/jobErrors';

class FakeWorker extends EventEmitter {
  sent: HostToWorker[] = [];
  terminated = false;
  postMessage(m: HostToWorker): void {
    this.sent.push(m);
  }
  async terminate(): Promise<number> {
    this.terminated = true;
    return 0;
  }
  /** Answers the last call. */
  answer(result: unknown): void {
    const m = this.sent[this.sent.length - 1];
    assert.equal(m.type, 'call');
    if (m.type === 'call') this.emit('message', { type: 'reply', id: m.id, result });
  }
}

const job = (t: number): Extract<JobRequest, { kind: 'rethreshold' }> => ({ kind: 'rethreshold', req: { projectDir: '/p', task: 'a', thresholds: [t] } });
const tick = () => new Promise((r) => setImmediate(r));

test('one worker serves many calls in turn; a newer call supersedes the waiting one', async () => {
  const workers: FakeWorker[] = [];
  const s = new WorkerSession(() => {
    const w = new FakeWorker();
    workers.push(w);
    return w as unknown as WorkerLike;
  }, { info: () => undefined }, 60_000);
  const a = s.call(job(1));
  const b = s.call(job(2));
  const c = s.call(job(3));
  assert.equal(workers.length, 1);
  assert.equal(workers[0].sent.length, 1, 'one call at a time');
  await assert.rejects(b, (e: JobError) => e.info.code === SUPERSEDED);
  workers[0].answer('r1');
  assert.equal(await a, 'r1');
  await tick();
  assert.equal(workers[0].sent.length, 2);
  const second = workers[0].sent[1];
  assert.ok(second.type === 'call' && second.job.kind === 'rethreshold' && second.job.req.thresholds[0] === 3, 'the latest call runs next');
  workers[0].answer('r3');
  assert.equal(await c, 'r3');
  assert.equal(workers.length, 1, 'the same worker: its caches stay warm');
  s.dispose();
  assert.equal(workers[0].terminated, true);
});

test('a crash rejects the call in flight and the next call gets a fresh worker; idle stops it', async () => {
  const workers: FakeWorker[] = [];
  const s = new WorkerSession(() => {
    const w = new FakeWorker();
    workers.push(w);
    return w as unknown as WorkerLike;
  }, { info: () => undefined }, 20);
  const a = s.call(job(1));
  workers[0].emit('exit', 1);
  await assert.rejects(a, (e: JobError) => e.info.code === 'WORKER_CRASH' && /exited with code 1/.test(e.info.line));
  const b = s.call(job(2));
  assert.equal(workers.length, 2);
  workers[1].emit('message', { type: 'replyError', id: (workers[1].sent[0] as { id: number }).id, error: { code: 'NO_SCORES', line: 'scores were not stored for this task' } });
  await assert.rejects(b, (e: JobError) => e.info.line === 'scores were not stored for this task');
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(workers[1].terminated, true, 'stopped when idle');
  s.dispose();
});

test('a waiting call is replaced only by a newer call of the same kind', async () => {
  const w = new FakeWorker();
  const s = new WorkerSession(() => w as unknown as WorkerLike, { info: () => undefined }, 60_000);
  const a = s.call(job(1));
  const cka = s.call({ kind: 'similarity', req: { projectDir: '/p', taskA: 'a', taskB: 'b' } });
  const b = s.call(job(2));
  w.answer('r1');
  assert.equal(await a, 'r1');
  await tick();
  assert.equal((w.sent[1] as { job: JobRequest }).job.kind, 'similarity', 'the other kind was kept, in arrival order');
  w.answer('cka');
  assert.equal(await cka, 'cka');
  await tick();
  w.answer('r2');
  assert.equal(await b, 'r2');
  s.dispose();
});
