/**
 * JobRunner outside VS Code (a tiny 'vscode' stub): every way a worker can end settles
 * the job with a clear message: result, engine error, crash, exit, out of memory,
 * cancel honoured, cancel ignored (terminated after the grace period).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import Module from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';

// Minimal vscode API used by jobRunner.ts / eventLoopMonitor.ts.
class EventEmitter<T> {
  private ls: Array<(e: T) => void> = [];
  event = (l: (e: T) => void) => {
    this.ls.push(l);
    return { dispose: () => (this.ls = this.ls.filter((x) => x !== l)) };
  };
  fire(e: T): void {
    for (const l of this.ls) l(e);
  }
  dispose(): void {
    this.ls = [];
  }
}
const vscodeStub = { EventEmitter };
const M = Module as unknown as { _load: (req: string, ...rest: unknown[]) => unknown };
const origLoad = M._load;
M._load = function (req: string, ...rest: unknown[]) {
  if (req === 'vscode') return vscodeStub;
  return origLoad.call(this, req, ...rest);
};
// eslint-disable-next-line @typescript-eslint/no-var-requires
const { JobRunner } = require('../../src/extension/jobRunner') as typeof import('../../src/extension/jobRunner');
// eslint-disable-next-line @typescript-eslint/no-var-requires
const { JobError } = require('../../src/extension/jobErrors') as typeof import('../../src/extension/jobErrors');

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pb-jobrunner-'));
function worker(name: string, body: string): string {
  const f = path.join(dir, `${name}.js`);
  fs.writeFileSync(f, `const { parentPort } = require('node:worker_threads');\n${body}\n`);
  return f;
}
const quiet = { info: () => undefined, error: () => undefined };
const job = { kind: 'deleteTask' as const, projectDir: '/nowhere', task: 't' };

async function settle(p: Promise<unknown>): Promise<{ ok: true; v: unknown } | { ok: false; e: InstanceType<typeof JobError> }> {
  try {
    return { ok: true, v: await p };
  } catch (e) {
    assert.ok(e instanceof JobError, `rejected with ${String(e)}`);
    return { ok: false, e };
  }
}

describe('JobRunner', () => {
  it('resolves with the result and forwards events', async () => {
    const w = worker('ok', `parentPort.on('message', (m) => { if (m.type !== 'run') return;
      parentPort.postMessage({ type: 'event', event: { type: 'step', task: 't', epoch: 1, step: 1, stepsPerEpoch: 2, loss: 1 } });
      parentPort.postMessage({ type: 'result', result: { answer: 42 } }); });`);
    const events: unknown[] = [];
    const r = await settle(new JobRunner(w, quiet).run(job, { title: 'ok job', onEvent: (e) => events.push(e) }));
    assert.deepEqual(r, { ok: true, v: { answer: 42 } });
    assert.equal(events.length, 1);
  });

  it('passes an engine error through as its one line', async () => {
    const w = worker('err', `parentPort.on('message', (m) => { if (m.type === 'run') parentPort.postMessage({ type: 'error', error: { code: 'BAD_DATASET', line: 'x is not a dataset (point to it)' } }); });`);
    const r = await settle(new JobRunner(w, quiet).run(job, { title: 'err job' }));
    assert.ok(!r.ok && r.e.info.code === 'BAD_DATASET' && r.e.message === 'x is not a dataset (point to it)');
  });

  it('turns an uncaught exception in the worker into a crash message', async () => {
    const w = worker('crash', `parentPort.on('message', () => { setTimeout(() => { throw new Error('boom'); }, 10); });`);
    const r = await settle(new JobRunner(w, quiet).run(job, { title: 'crash job' }));
    assert.ok(!r.ok && r.e.info.code === 'WORKER_CRASH' && /crashed: boom/.test(r.e.message), JSON.stringify(!r.ok && r.e.info));
  });

  it('turns a silent exit into an error, not a hang', async () => {
    const w = worker('exit', `parentPort.on('message', () => process.exit(3));`);
    const r = await settle(new JobRunner(w, quiet).run(job, { title: 'exit job' }));
    assert.ok(!r.ok && r.e.info.code === 'WORKER_CRASH' && /exited with code 3/.test(r.e.message));
  });

  it('reports running out of memory under the heap limit', { timeout: 60_000 }, async () => {
    const w = worker('oom', `parentPort.on('message', () => { const keep = []; for (;;) keep.push(new Array(1e6).fill(Math.random())); });`);
    const r = await settle(new JobRunner(w, quiet, { heapMb: 64 }).run(job, { title: 'oom job' }));
    assert.ok(!r.ok && r.e.info.code === 'WORKER_CRASH' && /out of memory/.test(r.e.message), JSON.stringify(!r.ok && r.e.info));
  });

  it('cancels: a worker that honours cancel reports CANCELLED', async () => {
    const w = worker('cancel', `parentPort.on('message', (m) => { if (m.type === 'cancel') parentPort.postMessage({ type: 'error', error: { code: 'CANCELLED', line: 'training cancelled' } }); });`);
    const runner = new JobRunner(w, quiet);
    const p = settle(runner.run(job, { title: 'cancel job' }));
    setTimeout(() => runner.cancelCurrent(), 100);
    const r = await p;
    assert.ok(!r.ok && r.e.cancelled);
    assert.equal(runner.running, undefined);
  });

  it('cancels: a worker that ignores cancel is terminated after the grace period', async () => {
    const w = worker('stuck', `parentPort.on('message', () => { const end = Date.now() + 60000; while (Date.now() < end) {} });`);
    const runner = new JobRunner(w, quiet, { cancelGraceMs: 300 });
    const t0 = Date.now();
    const p = settle(runner.run(job, { title: 'stuck job' }));
    setTimeout(() => runner.cancelCurrent(), 100);
    const r = await p;
    assert.ok(!r.ok && r.e.cancelled);
    assert.ok(Date.now() - t0 < 5000, 'terminated promptly');
  });

  it('refuses a second job while one runs', async () => {
    const w = worker('slow', `parentPort.on('message', (m) => { if (m.type === 'run') setTimeout(() => parentPort.postMessage({ type: 'result', result: 1 }), 300); });`);
    const runner = new JobRunner(w, quiet);
    const first = runner.run(job, { title: 'first' });
    const second = await settle(runner.run(job, { title: 'second' }));
    assert.ok(!second.ok && second.e.info.code === 'BUSY' && /first/.test(second.e.message));
    assert.equal(await first, 1);
  });
});
