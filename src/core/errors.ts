/**
 * Every failure a user can cause (bad file, wrong shape, unknown dataset, NaN loss...)
 * is a PiggybackError: one line saying what is wrong plus one hint saying what to do.
 * The CLI prints `error: <message> (<hint>)` and exits non-zero; the extension shows it
 * in an error notification. Anything else that escapes is a bug.
 */
export type ErrorCode =
  | 'FILE_NOT_FOUND'
  | 'BAD_MODEL'
  | 'BAD_DATASET'
  | 'UNKNOWN_DATASET'
  | 'SHAPE_MISMATCH'
  | 'BACKBONE_MISMATCH'
  | 'BAD_PROJECT'
  | 'BAD_MASK_FILE'
  | 'UNKNOWN_TASK'
  | 'TASK_EXISTS'
  | 'NAN_LOSS'
  | 'CANCELLED'
  | 'BAD_ARGUMENT'
  | 'BACKEND_UNAVAILABLE'
  | 'IO_ERROR';

/** Newlines and control characters (e.g. from a quoted corrupt file) would break the one-line promise. */
const oneLineText = (s: string): string => s.replace(/[\u0000-\u001f\u007f]+/g, ' ');

export class PiggybackError extends Error {
  readonly hint: string;

  constructor(
    readonly code: ErrorCode,
    message: string,
    hint = '',
  ) {
    super(oneLineText(message));
    this.hint = oneLineText(hint);
    this.name = 'PiggybackError';
  }

  /** The single line shown to a person. */
  oneLine(): string {
    return this.hint ? `${this.message} (${this.hint})` : this.message;
  }
}

export function isPiggybackError(e: unknown): e is PiggybackError {
  return e instanceof PiggybackError;
}

/** Thrown when a user (or the UI) cancels long work; callers treat it as a clean stop. */
export class CancelledError extends PiggybackError {
  constructor(what = 'operation') {
    super('CANCELLED', `${what} cancelled`, 'nothing was saved for the cancelled run; earlier results are intact');
  }
}
