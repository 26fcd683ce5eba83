/** A mistake in what the user asked for, caught before any job runs (shown like a PiggybackError). */
import { PiggybackError } from '../../core/errors';

export class UserError extends PiggybackError {
  constructor(message: string, hint = '') {
    super('BAD_ARGUMENT', message, hint);
  }
}
