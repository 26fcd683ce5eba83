/**
 * Errors as they cross the worker boundary, and how the host shows them.
 * A PiggybackError becomes its one line (message + hint), in the log too (no stack trace);
 * anything else is a bug and says so, with the stack going to the output channel only.
 */
import { isPiggybackError } from '../core/errors';

export interface SerializedError {
  /** PiggybackError code, 'CANCELLED' for cancellation, 'WORKER_CRASH' / 'INTERNAL' otherwise. */
  code: string;
  /** The single line shown to a person. */
  line: string;
  stack?: string;
}

export function serializeError(e: unknown): SerializedError {
  // A user's error (bad dataset, out-of-range option) is its one line; a stack is for bugs only.
  if (isPiggybackError(e)) return { code: e.code, line: e.oneLine() };
  // A PiggybackError from another bundle copy (instanceof fails across copies): duck-type it.
  if (e && typeof e === 'object' && (e as { name?: unknown }).name === 'PiggybackError') {
    const pe = e as { code?: unknown; message?: unknown; hint?: unknown; stack?: string };
    const msg = String(pe.message ?? 'error');
    const hint = typeof pe.hint === 'string' && pe.hint ? ` (${pe.hint})` : '';
    return { code: typeof pe.code === 'string' ? pe.code : 'INTERNAL', line: msg + hint };
  }
  const err = e instanceof Error ? e : new Error(String(e));
  return { code: 'INTERNAL', line: `internal error: ${err.message} (this is a bug; the output channel "Piggyback" has details)`, stack: err.stack };
}

/** What a failed job rejects with on the host side. */
export class JobError extends Error {
  constructor(readonly info: SerializedError) {
    super(info.line);
    this.name = 'JobError';
  }

  get cancelled(): boolean {
    return this.info.code === 'CANCELLED';
  }
}

export function isCancelled(e: unknown): boolean {
  return (e instanceof JobError && e.cancelled) || (isPiggybackError(e) && e.code === 'CANCELLED');
}

/** The one line for a notification, whatever was thrown. */
export function errorLine(e: unknown): string {
  if (e instanceof JobError) return e.info.line;
  return serializeError(e).line;
}

export function errorStack(e: unknown): string | undefined {
  if (e instanceof JobError) return e.info.stack;
  return e instanceof Error ? e.stack : undefined;
}
