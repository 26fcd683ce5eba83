#!/usr/bin/env node
/**
 * Packages the already-built extension (run scripts/build.mjs first) into
 * piggyback-mask-explorer.vsix with @vscode/vsce, offline, without node_modules
 * (everything the extension needs is bundled into dist/), then checks the contents:
 * dist/ (without the CLI bundle), models/, media/, README, LICENSE in; src/, test/, node_modules/, scratch/ out.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const out = path.join(root, 'piggyback-mask-explorer.vsix');
const vsce = path.join(root, 'node_modules', '@vscode', 'vsce', 'vsce');

for (const f of ['dist/extension.js', 'dist/worker.js']) {
  if (!fs.existsSync(path.join(root, f))) {
    console.error(`package: ${f} missing: run "npm run build" first`);
    process.exit(1);
  }
}
if (!fs.existsSync(path.join(root, 'models', 'reference-cnn', 'model.json'))) {
  console.warn('package: warning: models/reference-cnn/model.json is missing; "Create Mask Project" with the embedded backbone will not work');
}

fs.rmSync(out, { force: true });
const r = spawnSync(
  process.execPath,
  [vsce, 'package', '--no-dependencies', '--allow-missing-repository', '--no-rewrite-relative-links', '--skip-license', '--out', out],
  { cwd: root, stdio: 'inherit', env: { ...process.env, VSCE_TELEMETRY: 'off' } },
);
if (r.status !== 0) process.exit(r.status ?? 1);

const ls = spawnSync(process.execPath, [vsce, 'ls', '--no-dependencies'], { cwd: root, encoding: 'utf8' });
const files = ls.stdout.split('\n').map((s) => s.trim()).filter(Boolean);
const bad = files.filter((f) => /^(src|test|node_modules|scratch|bench|webview|scripts|native|\.cache|test-results)\//.test(f) || f === 'dist/cli.js' || f.endsWith('.map'));
const need = ['dist/extension.js', 'dist/worker.js', 'dist/webview/main.js', 'media/piggyback.svg', 'LICENSE'];
const missing = need.filter((f) => !files.includes(f));
if (!files.some((f) => /^readme\.md$/i.test(f))) {
  if (fs.existsSync(path.join(root, 'README.md'))) missing.push('README.md');
  else console.warn('package: warning: README.md is missing from the repository, so the vsix has none');
}
if (!files.some((f) => f.startsWith('dist/wasm/'))) missing.push('dist/wasm/*.wasm');
if (bad.length || missing.length) {
  if (bad.length) console.error(`package: must not ship:\n  ${bad.join('\n  ')}`);
  if (missing.length) console.error(`package: missing from the vsix:\n  ${missing.join('\n  ')}`);
  process.exit(1);
}
console.log(`package: ${path.relative(root, out)} ${(fs.statSync(out).size / 1024 / 1024).toFixed(2)} MB, ${files.length} files`);
