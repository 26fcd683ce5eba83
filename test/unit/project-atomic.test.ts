/** Crash safety: a failure or a crash at any write step leaves the old or the new state loadable. */
import { test, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { MaskedLayerInfo } from '../../src/core/types';
import { DEFAULT_TRAIN_OPTIONS } from '../../src/core/types';
import { createProject, listTasks, openProject } from '../../src/core/project/projectDir';
import { readProjectStats } from '../../src/core/project/stats';
import { deleteTask, loadTask, saveBaseline, saveTask, type TaskArtifacts } from '../../src/core/project/taskFiles';
import { SimulatedCrash, testHooks, writeFileAtomic, cleanupStale, withLock, type WriteStep } from '../../src/core/project/atomic';

const scratchDirs: string[] = [];
/** A fresh temp folder, removed after the tests. */
function scratch(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'pb-atomic-'));
  scratchDirs.push(d);
  return d;
}
after(() => {
  for (const d of scratchDirs) fs.rmSync(d, { recursive: true, force: true });
});

const LAYERS: MaskedLayerInfo[] = [
  { name: 'c1', kind: 'conv2d', shape: [3, 3, 1, 4], size: 36 },
  { name: 'fc', kind: 'dense', shape: [20, 5], size: 100 },
];
const SHA = '12'.repeat(32);
const DEAD = '999999999.0'; // owner tag of a process that does not exist

function newProject(): string {
  const dir = path.join(scratch(), 'proj');
  createProject(dir, { modelPath: path.join(dir, 'model.json'), sha256: SHA, cutAt: null, inputShape: [8, 8, 1], totalParams: 200, maskedParams: 136 }, LAYERS, 5e-3);
  return dir;
}

function art(name: string, seed: number): TaskArtifacts {
  let s = seed;
  const r = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32);
  return {
    name, dataset: `ds${seed}`, classNames: ['a', 'b', 'c', 'd', 'e'],
    options: DEFAULT_TRAIN_OPTIONS, masks: LAYERS.map((l) => new Uint8Array(l.size).map(() => (r() < 0.5 ? 1 : 0))),
    head: { kernel: new Float32Array(100).map(() => r()), shape: [20, 5], bias: new Float32Array(5).map(() => r()) },
    history: [], testAccuracy: seed / 100, trainSeconds: seed,
  };
}

function same(dir: string, name: string, a: TaskArtifacts): boolean {
  const t = loadTask(dir, name);
  return t.dataset === a.dataset && t.masks.every((m, i) => Buffer.compare(Buffer.from(m), Buffer.from(a.masks[i])) === 0)
    && Buffer.compare(Buffer.from(t.head.kernel.buffer), Buffer.from(a.head.kernel.buffer)) === 0;
}

function leftovers(dir: string): string[] {
  return [...fs.readdirSync(dir), ...fs.readdirSync(path.join(dir, 'tasks'))].filter((f) => f.startsWith('.') || f.endsWith('.lock'));
}

/** Runs `fn` with a crash (or plain error) injected at the n-th write step; returns the steps seen. */
function crashAt(n: number, fn: () => void, plainError = false): { steps: WriteStep[]; crashed: boolean } {
  const steps: WriteStep[] = [];
  let crashed = false;
  testHooks.beforeStep = (s) => {
    steps.push(s);
    if (steps.length === n) {
      crashed = true;
      if (plainError) throw Object.assign(new Error(`EIO: injected at ${s}`), { code: 'EIO' });
      throw new SimulatedCrash(s);
    }
  };
  try {
    fn();
  } catch (e) {
    if (!crashed) throw e;
    if (plainError) assert.match((e as Error).message, /injected/);
    else assert.ok(e instanceof SimulatedCrash);
  } finally {
    testHooks.beforeStep = undefined;
  }
  return { steps, crashed };
}

afterEach(() => {
  testHooks.beforeStep = undefined;
});

/** Crashes at every step of `op` in turn; after each, reopening must give the old or the new state. */
function everyStep(setup: () => string, op: (dir: string) => void, verify: (dir: string, isNew: boolean) => void, isNewState: (dir: string) => boolean, plainError = false) {
  let n = 1;
  let sawOld = false;
  let sawNew = false;
  for (; n < 50; n++) {
    const dir = setup();
    const { crashed, steps } = crashAt(n, () => op(dir), plainError);
    if (!crashed) {
      assert.ok(n > 2, `expected several write steps, saw ${steps.join(', ')}`);
      break;
    }
    openProject(dir); // recovery + cleanup
    assert.deepEqual(leftovers(dir), [], `leftovers after ${plainError ? 'error' : 'crash'} at ${steps.at(-1)}`);
    const isNew = isNewState(dir);
    if (isNew) sawNew = true;
    else sawOld = true;
    verify(dir, isNew);
  }
  assert.ok(sawOld, 'some crash point must leave the old state');
  if (!plainError) assert.ok(sawNew || n > 1, 'ran');
}

test('crash at any step of a new-task save: project and previous task intact', () => {
  const a = art('a', 1);
  const b = art('b', 2);
  everyStep(
    () => { const d = newProject(); saveTask(d, a); return d; },
    (d) => saveTask(d, b),
    (d, isNew) => {
      assert.ok(same(d, 'a', a));
      assert.deepEqual(listTasks(d), isNew ? ['a', 'b'] : ['a']);
      if (isNew) assert.ok(same(d, 'b', b));
      readProjectStats(d);
      saveTask(d, b, { overwrite: true }); // project still writable (an orphan folder is replaced)
      assert.ok(same(d, 'b', b));
    },
    (d) => listTasks(d).includes('b'),
  );
});

test('crash at any step of an overwrite: the task is the old or the new one, never missing', () => {
  const old = art('a', 1);
  const neu = art('a', 7);
  everyStep(
    () => { const d = newProject(); saveTask(d, old); saveTask(d, art('other', 3)); return d; },
    (d) => saveTask(d, neu, { overwrite: true }),
    (d) => {
      assert.deepEqual(listTasks(d), ['a', 'other']);
      assert.ok(same(d, 'a', old) || same(d, 'a', neu));
      assert.ok(same(d, 'other', art('other', 3)));
    },
    (d) => same(d, 'a', neu),
  );
});

test('a failing rename during overwrite (plain error, process alive) restores the old task at once', () => {
  const old = art('a', 1);
  const dir = newProject();
  saveTask(dir, old);
  let n = 0;
  testHooks.beforeStep = (s) => {
    if (s === 'rename-dir' && ++n === 1) throw Object.assign(new Error('EPERM: rename failed'), { code: 'EPERM' });
  };
  assert.throws(() => saveTask(dir, art('a', 9), { overwrite: true }), /EPERM/);
  testHooks.beforeStep = undefined;
  // no reopen needed: the old folder was put back and the staging folder removed
  assert.deepEqual(fs.readdirSync(path.join(dir, 'tasks')), ['a']);
  assert.ok(same(dir, 'a', old));
  assert.deepEqual(leftovers(dir), []);
});

test('plain errors at any step of a new save leave the old state and no leftovers', () => {
  const a = art('a', 1);
  everyStep(
    () => { const d = newProject(); saveTask(d, a); return d; },
    (d) => saveTask(d, art('b', 2)),
    (d) => assert.ok(same(d, 'a', a)),
    (d) => listTasks(d).includes('b'),
    true,
  );
});

test('crash at any step of deleteTask and saveBaseline keeps the project loadable', () => {
  const a = art('a', 1);
  const b = art('b', 2);
  everyStep(
    () => { const d = newProject(); saveTask(d, a); saveTask(d, b); return d; },
    (d) => deleteTask(d, 'a'),
    (d, isNew) => {
      assert.deepEqual(listTasks(d), isNew ? ['b'] : ['a', 'b']);
      if (!isNew) assert.ok(same(d, 'a', a));
      assert.ok(same(d, 'b', b));
    },
    (d) => !listTasks(d).includes('a'),
  );
  const base = { method: 'classifier' as const, testAccuracy: 0.3, trainSeconds: 1, history: [], bytesIfStored: 420 };
  everyStep(
    () => { const d = newProject(); saveTask(d, a); return d; },
    (d) => saveBaseline(d, 'a', base),
    (d, isNew) => {
      assert.ok(same(d, 'a', a));
      assert.deepEqual(loadTask(d, 'a').baselines, isNew ? [base] : []);
    },
    (d) => (loadTask(d, 'a').baselines ?? []).length === 1,
  );
});

test('stale .tmp folders, half-written temp files and .old folders are cleaned or restored on open', () => {
  const a = art('a', 1);
  const dir = newProject();
  saveTask(dir, a);
  const tasks = path.join(dir, 'tasks');
  // dead writer: half-written staging folder and half-written manifest temp file
  fs.mkdirSync(path.join(tasks, `.tmp-b-${DEAD}-0badc0de`));
  fs.writeFileSync(path.join(tasks, `.tmp-b-${DEAD}-0badc0de`, 'mask.bin'), 'PGB');
  fs.writeFileSync(path.join(dir, `.piggyback.json.tmp-${DEAD}-00000001`), '{"format": "piggyback-proj');
  // dead writer crashed between "rename old aside" and "rename new into place"
  fs.renameSync(path.join(tasks, 'a'), path.join(tasks, `.old-a-${DEAD}-12345678`));
  // a live writer in another worker thread of this process: its fresh staging folder must survive
  const live = `.tmp-c-${process.pid}.987-abcdef01`;
  fs.mkdirSync(path.join(tasks, live));
  const h = openProject(dir);
  assert.deepEqual(h.manifest.tasks, ['a']);
  assert.deepEqual(fs.readdirSync(tasks).sort(), [live, 'a'].sort());
  assert.deepEqual(fs.readdirSync(dir).sort(), ['piggyback.json', 'tasks']);
  assert.ok(same(dir, 'a', a));
  // an .old folder whose task is in place is simply removed
  fs.cpSync(path.join(tasks, 'a'), path.join(tasks, `.old-a-${DEAD}-87654321`), { recursive: true });
  assert.deepEqual(cleanupStale(tasks, () => true).removed, [`.old-a-${DEAD}-87654321`]);
});

test('writeFileAtomic replaces whole files; a lock left by a dead process is taken over', () => {
  const dir = scratch();
  const f = path.join(dir, 'x.json');
  writeFileAtomic(f, 'old');
  crashAt(2, () => writeFileAtomic(f, 'new')); // crash before the rename
  assert.equal(fs.readFileSync(f, 'utf8'), 'old');
  cleanupStale(dir);
  assert.deepEqual(fs.readdirSync(dir), ['x.json']);
  writeFileAtomic(f, [Buffer.from('n'), Buffer.from('ew')]);
  assert.equal(fs.readFileSync(f, 'utf8'), 'new');
  fs.writeFileSync(path.join(dir, 'piggyback.lock'), `${DEAD} 2020-01-01\n`);
  assert.equal(withLock(dir, () => 42), 42);
  assert.ok(!fs.existsSync(path.join(dir, 'piggyback.lock')));
});
