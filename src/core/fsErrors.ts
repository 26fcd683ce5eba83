/**
 * Filesystem failures (disk full, read-only project, a file where a folder should be...) as
 * one-line PiggybackErrors that name the path and the fix, instead of a stack trace.
 */
import { PiggybackError } from './errors';

const FIXES: Record<string, (p: string) => [string, string]> = {
  ENOSPC: (p) => [`no space left on the disk writing ${p}`, 'free some disk space and run it again; earlier results are intact'],
  EDQUOT: (p) => [`disk quota exceeded writing ${p}`, 'free some space in your quota and run it again; earlier results are intact'],
  EROFS: (p) => [`${p} is on a read-only file system`, 'copy the project to a writable folder, or remount it read-write'],
  EACCES: (p) => [`permission denied on ${p}`, 'check the folder permissions, or copy the project to a folder you can write'],
  EPERM: (p) => [`operation not permitted on ${p}`, 'check the folder permissions, or copy the project to a folder you can write'],
  ENOTDIR: (p) => [`a part of ${p} is a file, not a folder`, 'choose a path whose parents are folders'],
  EISDIR: (p) => [`${p} is a folder where a file was expected`, 'remove or rename that folder'],
  ENOENT: (p) => [`${p} does not exist`, 'check the path'],
  EMFILE: (p) => [`too many open files while opening ${p}`, 'close other programs or raise the open-file limit (ulimit -n)'],
  ENAMETOOLONG: (p) => [`the path ${p} is too long`, 'choose a shorter folder or task name'],
};

/** Node's errno-style error, if `e` is one. */
export function errnoOf(e: unknown): (NodeJS.ErrnoException & { code: string }) | undefined {
  const x = e as NodeJS.ErrnoException;
  return x instanceof Error && typeof x.code === 'string' && typeof x.syscall === 'string' ? (x as NodeJS.ErrnoException & { code: string }) : undefined;
}

/** Maps an errno error to a PiggybackError naming `target` (else the path the error names); anything else is returned as is. */
export function fsError(e: unknown, target?: string): unknown {
  const x = errnoOf(e);
  if (!x) return e;
  const p = target ?? x.path ?? '(unknown path)';
  const fix = FIXES[x.code];
  if (!fix) return new PiggybackError('IO_ERROR', `${x.syscall} ${p} failed: ${x.code}`, 'check the disk and the folder permissions');
  const [message, hint] = fix(p);
  return new PiggybackError('IO_ERROR', message, hint);
}

/** Runs `fn`, turning filesystem errors into one-line PiggybackErrors. */
export function withFsErrors<T>(fn: () => T, target?: string): T {
  try {
    return fn();
  } catch (e) {
    throw fsError(e, target);
  }
}
