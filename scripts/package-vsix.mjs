#!/usr/bin/env node
/**
 * Packages the already-built extension (run scripts/build.mjs first) with @vscode/vsce,
 * offline, without node_modules (everything the extension needs is bundled into dist/), then
 * checks the contents: dist/ (without the CLI bundle), models/, media/, README, LICENSE in;
 * src/, test/, node_modules/, scratch/ out.
 *
 *   node scripts/package-vsix.mjs                      piggyback-mask-explorer.vsix: every platform, wasm backend
 *   node scripts/package-vsix.mjs --target linux-x64   piggyback-mask-explorer-linux-x64.vsix: also the native
 *       addon (oneDNN) with the shared libraries it needs in dist/native/, found through its
 *       $ORIGIN rpath, so the user's machine needs no apt package.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ti = process.argv.indexOf('--target');
const target = ti > 0 ? process.argv[ti + 1] : null;
if (target && target !== 'linux-x64') {
  console.error(`package: --target ${target}: only linux-x64 carries the native addon; other platforms use the generic vsix`);
  process.exit(1);
}
const out = path.join(root, target ? `piggyback-mask-explorer-${target}.vsix` : 'piggyback-mask-explorer.vsix');
const vsce = path.join(root, 'node_modules', '@vscode', 'vsce', 'vsce');
const nativeDir = path.join(root, 'dist', 'native');
// Libraries every Linux desktop has (glibc, the C++ runtime): never bundled.
const SYSTEM_LIBS = /^(linux-vdso|ld-linux|libc|libm|libdl|libpthread|librt|libstdc\+\+|libgcc_s)\./;

/** Copies the built addon and the non-system shared libraries it links (by ldd) into dist/native/. */
function stageNative() {
  const addon = path.join(root, 'native', 'build', 'Release', 'piggyback_native.node');
  if (!fs.existsSync(addon)) {
    console.error('package: --target linux-x64 needs the native addon: run "npm run build:native" (g++ and libdnnl-dev)');
    process.exit(1);
  }
  const dyn = spawnSync('readelf', ['-d', addon], { encoding: 'utf8' }).stdout ?? '';
  if (!/\(RPATH\)\s+Library rpath: \[\$ORIGIN\]/.test(dyn)) {
    console.error('package: the addon has no DT_RPATH $ORIGIN (rebuild it: npm run build:native)');
    process.exit(1);
  }
  fs.rmSync(nativeDir, { recursive: true, force: true });
  fs.mkdirSync(nativeDir, { recursive: true });
  fs.copyFileSync(addon, path.join(nativeDir, 'piggyback_native.node'));
  const ldd = spawnSync('ldd', [addon], { encoding: 'utf8' }).stdout ?? '';
  const libs = [];
  for (const line of ldd.split('\n')) {
    const m = /^\s*(\S+) => (\/\S+)/.exec(line);
    if (!m || SYSTEM_LIBS.test(m[1])) continue;
    fs.copyFileSync(fs.realpathSync(m[2]), path.join(nativeDir, m[1]));
    libs.push(m[1]);
  }
  if (!libs.some((l) => l.startsWith('libdnnl'))) {
    console.error(`package: ldd found no libdnnl for ${addon}`);
    process.exit(1);
  }
  console.log(`package: native addon + ${libs.join(', ')} -> dist/native/`);
}

if (target) {
  stageNative();
  // A checkout keeps using native/build (a stale copy in dist/native would shadow rebuilds).
  process.on('exit', () => fs.rmSync(nativeDir, { recursive: true, force: true }));
}
else fs.rmSync(nativeDir, { recursive: true, force: true }); // the generic vsix is wasm-only

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
  [vsce, 'package', '--no-dependencies', '--allow-missing-repository', '--no-rewrite-relative-links', '--skip-license', ...(target ? ['--target', target] : []), '--out', out],
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
if (target && !files.includes('dist/native/piggyback_native.node')) missing.push('dist/native/piggyback_native.node');
if (!target && files.some((f) => f.startsWith('dist/native/'))) bad.push('dist/native/ (the generic vsix is wasm-only)');
if (bad.length || missing.length) {
  if (bad.length) console.error(`package: must not ship:\n  ${bad.join('\n  ')}`);
  if (missing.length) console.error(`package: missing from the vsix:\n  ${missing.join('\n  ')}`);
  process.exit(1);
}
console.log(`package: ${path.relative(root, out)} ${(fs.statSync(out).size / 1024 / 1024).toFixed(2)} MB, ${files.length} files`);
