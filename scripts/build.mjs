#!/usr/bin/env node
/**
 * Bundles everything the extension and CLI ship (esbuild):
 *   src/extension/extension.ts -> dist/extension.js   (node, cjs; no TF.js inside, checked below)
 *   src/extension/worker.ts    -> dist/worker.js      (node, cjs; TF.js bundled, tfjs-node optional)
 *   src/cli/main.ts            -> dist/cli.js         (node, cjs, #! banner; skipped if absent)
 *   webview/main.ts            -> dist/webview/main.js (browser iife) + media/*.css
 *   tfjs-backend-wasm *.wasm   -> dist/wasm/
 * Usage: node scripts/build.mjs [--dev] [--watch is not supported; rerun instead]
 */
import * as esbuild from 'esbuild';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(root, 'dist');
const dev = process.argv.includes('--dev');
const rel = (p) => path.relative(root, p);

fs.rmSync(dist, { recursive: true, force: true });
fs.mkdirSync(path.join(dist, 'webview'), { recursive: true });
fs.mkdirSync(path.join(dist, 'wasm'), { recursive: true });

const nodeCommon = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  sourcemap: dev ? 'inline' : false,
  minify: false,
  keepNames: true,
  logLevel: 'warning',
  // tfjs-node is an optional native addon: resolved at run time if the user has it.
  external: ['vscode', '@tensorflow/tfjs-node'],
  metafile: true,
  logOverride: { 'empty-import-meta': 'silent' },
};

const jobs = [];
jobs.push(['extension', esbuild.build({ ...nodeCommon, entryPoints: [path.join(root, 'src/extension/extension.ts')], outfile: path.join(dist, 'extension.js') })]);
jobs.push(['worker', esbuild.build({ ...nodeCommon, entryPoints: [path.join(root, 'src/extension/worker.ts')], outfile: path.join(dist, 'worker.js') })]);

const cliEntry = path.join(root, 'src/cli/main.ts');
if (fs.existsSync(cliEntry)) {
  jobs.push([
    'cli',
    // The CLI runs from an npm install with node_modules beside it: keep TF.js external so a
    // user's @tensorflow/tfjs-node registers its backend with the same TF.js the engine uses.
    esbuild.build({ ...nodeCommon, external: ['@tensorflow/*'], entryPoints: [cliEntry], outfile: path.join(dist, 'cli.js'), banner: { js: '#!/usr/bin/env node' } }),
  ]);
} else {
  console.warn(`build: ${rel(cliEntry)} not found, skipping dist/cli.js`);
}

const webEntry = path.join(root, 'webview/main.ts');
if (fs.existsSync(webEntry)) {
  jobs.push([
    'webview',
    esbuild.build({
      entryPoints: [webEntry],
      outfile: path.join(dist, 'webview', 'main.js'),
      bundle: true,
      platform: 'browser',
      format: 'iife',
      target: 'es2020',
      sourcemap: dev ? 'inline' : false,
      minify: !dev,
      logLevel: 'warning',
      metafile: true,
    }),
  ]);
} else {
  console.warn(`build: ${rel(webEntry)} not found, skipping dist/webview/main.js`);
}

const results = {};
let failed = false;
for (const [name, p] of jobs) {
  try {
    results[name] = await p;
  } catch (e) {
    failed = true;
    console.error(`build: ${name} failed`);
  }
}
if (failed) process.exit(1);

// The extension host must stay light: no TF.js in dist/extension.js.
const hostInputs = Object.keys(results.extension.metafile.inputs);
const heavy = hostInputs.filter((f) => f.includes('@tensorflow') || f.includes('src/core/engine'));
if (heavy.length) {
  console.error(`build: dist/extension.js must not contain TF.js or the engine, but includes:\n  ${heavy.slice(0, 10).join('\n  ')}`);
  process.exit(1);
}

for (const f of fs.existsSync(path.join(root, 'media')) ? fs.readdirSync(path.join(root, 'media')) : []) {
  if (f.endsWith('.css')) fs.copyFileSync(path.join(root, 'media', f), path.join(dist, 'webview', f));
}
const wasmDir = path.join(root, 'node_modules/@tensorflow/tfjs-backend-wasm/dist');
for (const f of fs.readdirSync(wasmDir)) {
  if (f.endsWith('.wasm')) fs.copyFileSync(path.join(wasmDir, f), path.join(dist, 'wasm', f));
}
// nsfwjs' MobileNetV2 (3.5 MB, MIT) ships in dist/ so Create Mask Project can offer it from a .vsix.
const mnv2 = path.join(root, 'node_modules/nsfwjs/dist/models/mobilenet_v2');
if (fs.existsSync(path.join(mnv2, 'model.min.js'))) {
  const to = path.join(dist, 'models', 'nsfwjs-mobilenet_v2');
  fs.mkdirSync(to, { recursive: true });
  for (const f of fs.readdirSync(mnv2)) fs.copyFileSync(path.join(mnv2, f), path.join(to, f));
  const lic = path.join(root, 'node_modules/nsfwjs/LICENSE');
  if (fs.existsSync(lic)) fs.copyFileSync(lic, path.join(to, 'LICENSE'));
} else console.warn('build: nsfwjs is not installed; the MobileNetV2 backbone will not be offered');
if (results.cli) fs.chmodSync(path.join(dist, 'cli.js'), 0o755);

const size = (p) => `${(fs.statSync(p).size / 1024).toFixed(0)} KB`;
for (const f of ['extension.js', 'worker.js', 'cli.js', 'webview/main.js']) {
  const p = path.join(dist, f);
  if (fs.existsSync(p)) console.log(`build: dist/${f} ${size(p)}`);
}
console.log(`build: dist/wasm ${fs.readdirSync(path.join(dist, 'wasm')).length} files, dist/webview css ${fs.readdirSync(path.join(dist, 'webview')).filter((f) => f.endsWith('.css')).join(', ')}`);
