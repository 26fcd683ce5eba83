#!/usr/bin/env node
/**
 * Builds the optional native addon (native/build/Release/piggyback_native.node) with node-gyp.
 *   node native/build.mjs             build; exit 1 on failure  (npm run build:native)
 *   node native/build.mjs --optional  build; on failure print why and exit 0  (postinstall)
 * Needs a C++ compiler, Node's headers and oneDNN (Debian: apt-get install g++ libdnnl-dev).
 * Without it the engine runs on the portable wasm backend and says why.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const optional = process.argv.includes('--optional');

function fail(msg) {
  if (optional) {
    console.warn(`piggyback: native addon not built (${msg}); the engine will use the wasm backend.`);
    process.exit(0);
  }
  console.error(`piggyback: native addon build failed: ${msg}`);
  process.exit(1);
}

if (process.env.PIGGYBACK_SKIP_NATIVE) fail('PIGGYBACK_SKIP_NATIVE is set');
if (process.platform !== 'linux' && optional) fail(`not attempted on ${process.platform}`);

// node-gyp: npm puts its bundled copy on PATH for scripts; else npm's own install; else npx.
function findNodeGyp() {
  const candidates = [];
  if (process.env.npm_config_node_gyp) candidates.push(process.env.npm_config_node_gyp);
  const npmDir = process.env.npm_execpath ? path.resolve(path.dirname(process.env.npm_execpath), '..') : null;
  if (npmDir) candidates.push(path.join(npmDir, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  candidates.push(path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  return candidates.find((c) => fs.existsSync(c)) ?? null;
}

const gyp = findNodeGyp();
if (!gyp) fail('node-gyp not found');

const args = [gyp, 'rebuild'];
// Build against the local Node headers when present (no download: works offline).
const localHeaders = path.join(path.dirname(process.execPath), '..', 'include', 'node', 'node_api.h');
if (!process.env.npm_config_nodedir && fs.existsSync(localHeaders)) {
  args.push(`--nodedir=${path.resolve(path.dirname(process.execPath), '..')}`);
}
const r = spawnSync(process.execPath, args, { cwd: here, stdio: optional ? 'pipe' : 'inherit', encoding: 'utf8' });
if (r.status !== 0) {
  const out = `${r.stdout ?? ''}\n${r.stderr ?? ''}`;
  const hint = /dnnl\.hpp|ldnnl/.test(out) ? 'oneDNN headers/library missing: apt-get install libdnnl-dev' : /not found|ENOENT|make:|g\+\+|c\+\+/.test(out) ? 'no C++ toolchain' : 'node-gyp failed';
  if (optional) {
    const tail = out.trim().split('\n').filter((l) => /error|ERR!/.test(l)).slice(0, 3).join(' | ');
    fail(`${hint}${tail ? `: ${tail}` : ''}`);
  }
  fail(hint);
}
const built = path.join(here, 'build', 'Release', 'piggyback_native.node');
if (!fs.existsSync(built)) fail(`node-gyp succeeded but ${built} is missing`);
// Load it once here so a broken build is reported now rather than as a fallback later.
try {
  const m = (await import('node:module')).createRequire(import.meta.url)(built);
  const info = m.info();
  console.log(`piggyback: native addon built (oneDNN ${info.onednn}, ${info.threads} threads)`);
} catch (e) {
  fs.rmSync(built, { force: true });
  fail(`the built addon does not load: ${String(e?.message ?? e).split('\n')[0]}`);
}
