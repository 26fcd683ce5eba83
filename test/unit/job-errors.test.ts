/** A user's error reaches the log as its one line, no stack trace; a bug keeps its stack (issue #9.5). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PiggybackError } from '../../src/core/errors';
import { serializeError } from '../../src/extension/jobErrors';

test('PiggybackError: one line, no stack; anything else: internal, with its stack', () => {
  const e = serializeError(new PiggybackError('BAD_DATASET', '/x is not a dataset: found 3 files and no class subfolders', 'point to the dataset folder'));
  assert.deepEqual(e, { code: 'BAD_DATASET', line: '/x is not a dataset: found 3 files and no class subfolders (point to the dataset folder)' });
  const dup = serializeError(Object.assign(new Error('m'), { name: 'PiggybackError', code: 'BAD_ARGUMENT', hint: 'h' }));
  assert.deepEqual(dup, { code: 'BAD_ARGUMENT', line: 'm (h)' });
  const bug = serializeError(new TypeError('x is undefined'));
  assert.equal(bug.code, 'INTERNAL');
  assert.match(bug.stack ?? '', /TypeError: x is undefined/);
});
