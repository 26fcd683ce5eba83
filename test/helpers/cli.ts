/** Running the `piggyback` CLI from sources as a user would, and its one-line error contract. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

const root = path.resolve(__dirname, '..', '..');

export function cli(...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(root, 'src/cli/main.ts'), ...args], { encoding: 'utf8', cwd: root, timeout: 300_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Exit 1 with exactly one stderr line `error: …` matching `pattern`. */
export function assertOneLineError(r: { code: number; stderr: string }, pattern: RegExp): void {
  assert.equal(r.code, 1, `exit code, stderr: ${r.stderr}`);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line expected, got: ${r.stderr}`);
  assert.match(lines[0], /^error: /);
  assert.match(lines[0], pattern);
}
