/**
 * Crash-safe file and folder writes (node:fs only).
 *
 * - Files: write a temp file in the same folder, fsync it, rename it over the target, fsync
 *   the folder. A reader sees the old bytes or the new bytes, never a mix.
 * - Task folders: write everything into `tasks/.tmp-<name>-<owner>-<rand>/`, fsync, then
 *   rename into place. On overwrite the old folder is renamed aside to
 *   `tasks/.old-<name>-<owner>-<rand>/` first and deleted only after the new one is in
 *   place. If the process dies between the two renames, `cleanupStale` (run on open) puts
 *   the old folder back, so either the old or the new state is always loadable.
 * - `<owner>` is `<pid>.<threadId>`: leftovers are removed only when their owner is gone
 *   (dead process, or this very thread, which runs all of this synchronously), so a reader
 *   never deletes the temp folder of a save still running in another process or worker.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { threadId } from 'node:worker_threads';
import { PiggybackError } from '../errors';
import { fsError } from '../fsErrors';

/** Steps at which tests can inject a failure (see `testHooks`). */
export type WriteStep =
  | 'write-temp-file'
  | 'rename-file'
  | 'write-temp-dir'
  | 'rename-aside'
  | 'rename-dir'
  | 'remove-old'
  | 'write-lock';

/** Thrown by a test hook to simulate the process dying: no cleanup runs after it. */
export class SimulatedCrash extends Error {
  constructor(readonly step: WriteStep) {
    super(`simulated crash at ${step}`);
    this.name = 'SimulatedCrash';
  }
}

/** Test-only hook called before each write step; throw to simulate a failure or a crash there. */
export const testHooks: { beforeStep?: (step: WriteStep, target: string) => void } = {};

function step(s: WriteStep, target: string): void {
  testHooks.beforeStep?.(s, target);
}

/** This thread's owner tag used in temp names: `<pid>.<threadId>`. */
export function ownerTag(): string {
  return `${process.pid}.${threadId}`;
}

function rand(): string {
  return randomBytes(4).toString('hex');
}

/** Max age of a leftover whose owner process still exists (pid reuse, other hosts). */
const STALE_AFTER_MS = 60 * 60 * 1000;

/** True when the owner `<pid>.<tid>` of a leftover can no longer be writing to it. */
export function ownerIsGone(owner: string, mtimeMs: number): boolean {
  const m = /^(\d+)\.(\d+)$/.exec(owner);
  if (!m) return true;
  const pid = Number(m[1]);
  const tid = Number(m[2]);
  if (pid === process.pid) {
    // Everything here is synchronous: our own thread cannot be mid-write while it is cleaning.
    if (tid === threadId) return true;
    return Date.now() - mtimeMs > STALE_AFTER_MS;
  }
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ESRCH') return true;
  }
  return Date.now() - mtimeMs > STALE_AFTER_MS;
}

/** fsync a folder so a rename inside it is durable (best effort: not supported on Windows). */
export function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    /* directories cannot be fsynced on some platforms */
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** Writes `chunks` to a new file and fsyncs it (fails if the file exists). */
export function writeFileSynced(file: string, data: string | Uint8Array | Uint8Array[]): void {
  const fd = fs.openSync(file, 'wx');
  try {
    const chunks = typeof data === 'string' ? [Buffer.from(data, 'utf8')] : Array.isArray(data) ? data : [data];
    for (const c of chunks) {
      let off = 0;
      while (off < c.byteLength) off += fs.writeSync(fd, c, off, c.byteLength - off);
    }
    fs.fsyncSync(fd);
  } catch (e) {
    // write() errors (ENOSPC) carry no path: name the file for the one-line message.
    const x = e as NodeJS.ErrnoException;
    if (x && typeof x.code === 'string' && !x.path) x.path = file;
    throw e;
  } finally {
    fs.closeSync(fd);
  }
}

/** Atomically replaces `file` with `data`: temp file in the same folder, fsync, rename, fsync folder. */
export function writeFileAtomic(file: string, data: string | Uint8Array | Uint8Array[]): void {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.tmp-${ownerTag()}-${rand()}`);
  try {
    step('write-temp-file', tmp);
    writeFileSynced(tmp, data);
    step('rename-file', file);
    fs.renameSync(tmp, file);
  } catch (e) {
    if (!(e instanceof SimulatedCrash)) fs.rmSync(tmp, { force: true });
    throw e;
  }
  fsyncDir(dir);
}

/** Atomically writes `value` as pretty JSON. */
export function writeJsonAtomic(file: string, value: unknown): void {
  writeFileAtomic(file, JSON.stringify(value, null, 2) + '\n');
}

/** Creates a fresh staging folder `<parent>/.tmp-<name>-<owner>-<rand>` and returns its path. */
export function makeStagingDir(parent: string, name: string): string {
  fs.mkdirSync(parent, { recursive: true });
  const dir = path.join(parent, `.tmp-${name}-${ownerTag()}-${rand()}`);
  step('write-temp-dir', dir);
  fs.mkdirSync(dir);
  return dir;
}

/**
 * Moves a fully written staging folder to `finalDir`. With `overwrite`, an existing
 * `finalDir` is renamed aside first and deleted only once the new folder is in place;
 * if the swap fails the old folder is put back. Without `overwrite`, an existing
 * `finalDir` is an error (the caller decides which error to show).
 */
export function commitDirAtomic(stagingDir: string, finalDir: string, overwrite: boolean): void {
  const parent = path.dirname(finalDir);
  const name = path.basename(finalDir);
  fsyncDir(stagingDir);
  let aside: string | undefined;
  try {
    if (fs.existsSync(finalDir)) {
      if (!overwrite) throw new Error(`commitDirAtomic: ${finalDir} exists`);
      aside = path.join(parent, `.old-${name}-${ownerTag()}-${rand()}`);
      step('rename-aside', aside);
      fs.renameSync(finalDir, aside);
    }
    step('rename-dir', finalDir);
    fs.renameSync(stagingDir, finalDir);
  } catch (e) {
    if (!(e instanceof SimulatedCrash)) {
      if (aside && !fs.existsSync(finalDir)) fs.renameSync(aside, finalDir);
      fs.rmSync(stagingDir, { recursive: true, force: true });
    }
    throw e;
  }
  fsyncDir(parent);
  if (aside) removeDirQuietly(aside);
}

/** Renames a folder aside (`.old-*`) and deletes it; the rename makes the removal atomic for readers. */
export function removeDirAtomic(dir: string): void {
  if (!fs.existsSync(dir)) return;
  removeDirAside(dir)();
}

/**
 * Renames `dir` aside to `.old-<name>-<owner>-<rand>` (durably) and returns the function that
 * deletes it, so a caller can commit another change in between. A leftover aside folder is
 * restored or removed by cleanupStale.
 */
export function removeDirAside(dir: string): () => void {
  const aside = path.join(path.dirname(dir), `.old-${path.basename(dir)}-${ownerTag()}-${rand()}`);
  step('rename-aside', aside);
  fs.renameSync(dir, aside);
  fsyncDir(path.dirname(dir));
  return () => removeDirQuietly(aside);
}

function removeDirQuietly(dir: string): void {
  try {
    step('remove-old', dir);
    fs.rmSync(dir, { recursive: true, force: true });
  } catch (e) {
    if (e instanceof SimulatedCrash) throw e;
    /* a leftover .old-* folder is removed by the next cleanupStale */
  }
}

const TMP_DIR_RE = /^\.tmp-(.+)-(\d+\.\d+)-[0-9a-f]{8}$/;
const OLD_DIR_RE = /^\.old-(.+)-(\d+\.\d+)-[0-9a-f]{8}$/;
const TMP_FILE_RE = /^\..+\.tmp-(\d+\.\d+)-[0-9a-f]{8}$/;

/**
 * Removes leftovers of interrupted writes in `dir` whose owner is gone: staging folders
 * (`.tmp-*`), temp files (`.<file>.tmp-*`), and set-aside folders (`.old-<name>-*`). A
 * set-aside folder whose name `isListed` but whose `<name>` folder is missing is renamed
 * back (the crash hit between the two renames of an overwrite). Best effort; returns
 * what it did, for logging and tests.
 */
export function cleanupStale(dir: string, isListed: (name: string) => boolean = () => false): { removed: string[]; restored: string[] } {
  const removed: string[] = [];
  const restored: string[] = [];
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return { removed, restored };
  }
  for (const ent of entries) {
    const full = path.join(dir, ent.name);
    let owner: string | undefined;
    let oldName: string | undefined;
    let m: RegExpExecArray | null;
    if ((m = TMP_DIR_RE.exec(ent.name)) && ent.isDirectory()) owner = m[2];
    else if ((m = OLD_DIR_RE.exec(ent.name)) && ent.isDirectory()) {
      owner = m[2];
      oldName = m[1];
    } else if ((m = TMP_FILE_RE.exec(ent.name)) && ent.isFile()) owner = m[1];
    if (owner === undefined) continue;
    let mtimeMs = Date.now();
    try {
      mtimeMs = fs.statSync(full).mtimeMs;
    } catch {
      continue;
    }
    if (!ownerIsGone(owner, mtimeMs)) continue;
    try {
      if (oldName !== undefined && isListed(oldName) && !fs.existsSync(path.join(dir, oldName))) {
        fs.renameSync(full, path.join(dir, oldName));
        fsyncDir(dir);
        restored.push(oldName);
        continue;
      }
      fs.rmSync(full, { recursive: true, force: true });
      removed.push(ent.name);
    } catch {
      /* best effort (read-only folder, concurrent cleanup) */
    }
  }
  return { removed, restored };
}

/** Max wait for another writer's lock before giving up. */
const LOCK_WAIT_MS = 15_000;
const sleepCell = new Int32Array(new SharedArrayBuffer(4));

/** Project folders whose lock this thread holds (withLock is re-entrant within a thread). */
const held = new Set<string>();

/**
 * Runs `fn` holding `<dir>/piggyback.lock` (created exclusively), so two writers cannot
 * lose each other's manifest updates. A lock whose owner is gone is taken over. Filesystem
 * failures (read-only project, disk full) come out as one-line IO_ERRORs, and a lock file
 * this call created is never left behind.
 */
export function withLock<T>(dir: string, fn: () => T): T {
  const key = path.resolve(dir);
  if (held.has(key)) return fn();
  const lockFile = path.join(dir, 'piggyback.lock');
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    let fd: number | undefined;
    try {
      fd = fs.openSync(lockFile, 'wx');
      step('write-lock', lockFile);
      fs.writeSync(fd, `${ownerTag()} ${new Date().toISOString()}\n`);
      fs.closeSync(fd);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST' && fd === undefined) {
        /* held by someone: see below */
      } else {
        // Created but not written (disk full): remove it so no empty lock is left behind.
        if (fd !== undefined) {
          try { fs.closeSync(fd); } catch { /* already closed */ }
          fs.rmSync(lockFile, { force: true });
        }
        throw fsError(e, lockFile);
      }
    }
    let owner = '';
    let mtimeMs = Date.now();
    try {
      owner = fs.readFileSync(lockFile, 'utf8').split(' ')[0] ?? '';
      mtimeMs = fs.statSync(lockFile).mtimeMs;
    } catch {
      continue; // released meanwhile
    }
    // An empty lock is one being written right now, or one left by a crash: wait a moment first.
    const fresh = owner === '' && Date.now() - mtimeMs < 5_000;
    if (!fresh && ownerIsGone(owner, mtimeMs)) {
      fs.rmSync(lockFile, { force: true });
      continue;
    }
    if (Date.now() > deadline) {
      throw new PiggybackError(
        'BAD_PROJECT',
        `project ${dir} is locked by another piggyback process (${owner})`,
        `wait for it to finish, or delete ${lockFile} if no other piggyback command is running`,
      );
    }
    Atomics.wait(sleepCell, 0, 0, 25);
  }
  held.add(key);
  try {
    return fn();
  } catch (e) {
    throw e instanceof SimulatedCrash ? e : fsError(e);
  } finally {
    held.delete(key);
    fs.rmSync(lockFile, { force: true });
  }
}
