#!/usr/bin/env node
// `npm test`: typecheck, then every test file (unit, CLI, browser, real VS Code) in one
// node:test run so the closing summary counts them all. `npm test -- unit` runs one group.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const groups = ['unit', 'cli', 'browser', 'e2e'];
const wanted = process.argv.slice(2).length ? process.argv.slice(2) : groups;
for (const g of wanted) if (!groups.includes(g)) throw new Error(`unknown test group ${g}; use ${groups.join(', ')}`);

const tsc = spawnSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', root], { stdio: 'inherit' });
if (tsc.status !== 0) process.exit(tsc.status ?? 1);

const files = wanted.flatMap((g) => {
  const dir = path.join(root, 'test', g);
  return fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.test.ts')).sort().map((f) => path.join('test', g, f)) : [];
});
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', ...files], { stdio: 'inherit', cwd: root });
process.exit(r.status ?? 1);
