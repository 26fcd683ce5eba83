/**
 * Picks and initialises the TF.js backend the engine runs on.
 *
 *  - 'tensorflow': @tensorflow/tfjs-node (native libtensorflow). Optional dependency: absent on
 *    machines where its install could not download libtensorflow, or present but unable to load
 *    its native library. Fastest when it works.
 *  - 'native': the pure-JS cpu backend with its hot kernels (convolutions, matmuls, pooling, batch
 *    norm, common element-wise ops) in our own N-API addon (native/, oneDNN, every core). Present
 *    only where `npm run build:native` could compile it (C++ compiler + libdnnl-dev); see
 *    ./native/nativeBackend.
 *  - 'wasm': @tensorflow/tfjs-backend-wasm (XNNPACK, SIMD; 1 thread under Node). Its missing
 *    conv gradient kernels are supplied by ./kernels/wasmConvGrads, and its slow transposed
 *    matmuls (dense layers' backward) are routed through explicit transposes (./kernels/wasmMatMul),
 *    and its slow MaxPoolGrad is replaced (./kernels/wasmMaxPoolGrad).
 *  - 'cpu': pure JS, ~20x slower than wasm: last resort.
 *
 * 'auto' tries them in that order (tensorflow, native, wasm, cpu) and records why a faster one was skipped.
 */
import * as fs from 'fs';
import * as path from 'path';
import { setThreadsCount, getThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { tf } from './tf';
import { PiggybackError } from './errors';
import { registerWasmConvGradKernels } from './kernels/wasmConvGrads';
import { registerWasmMatMulFix } from './kernels/wasmMatMul';
import { registerWasmMaxPoolGrad } from './kernels/wasmMaxPoolGrad';
import * as os from 'node:os';
import { loadNativeAddon } from './native/addon';
import { NATIVE_BACKEND, registerNativeBackend } from './native/nativeBackend';

export type BackendName = 'tensorflow' | 'native' | 'wasm' | 'cpu';
export type BackendPreference = 'auto' | BackendName;

export interface BackendInfo {
  name: BackendName;
  /** Human-readable, e.g. 'wasm (SIMD, 1 thread)'. */
  detail: string;
  /** Set when 'auto' skipped a faster backend: why (e.g. tfjs-node not installed). */
  fallbackReason?: string;
}

export interface BackendOptions {
  /** Folder holding the tfjs-backend-wasm*.wasm files (default: see resolveWasmDir). */
  wasmDir?: string;
  /** wasm threads (tfjs forces 1 under Node; honoured where threads work); native: OpenMP threads. */
  threads?: number;
  /** Path of the native addon (default: native/build/Release/piggyback_native.node in the package). */
  nativeAddon?: string;
}

const TFJS_NODE = '@tensorflow/tfjs-node';
const TFJS_NODE_BACKEND = 'tensorflow';
const WASM_FILES = ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-threaded-simd.wasm'];

let active: BackendInfo | null = null;
let pending: Promise<unknown> = Promise.resolve();

/** First line of an error, without Node's "Require stack:" tail. */
function why(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split('\n')[0].trim();
}

class Unavailable extends Error {}

// ---------------------------------------------------------------------------------------------
// tensorflow (tfjs-node)

async function tryTensorflow(): Promise<BackendInfo> {
  let mod: { version?: Record<string, string> };
  try {
    // A computed name: bundlers leave this require alone (tfjs-node is a native addon that must
    // stay in node_modules), and its absence is an ordinary, recorded outcome.
    const name = TFJS_NODE;
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    mod = require(name);
  } catch (e) {
    const m = why(e);
    throw new Unavailable(
      /Cannot find module/.test(m) ? `${TFJS_NODE} is not installed` : `${TFJS_NODE} failed to load: ${m}`,
    );
  }
  if (!(TFJS_NODE_BACKEND in tf.engine().registryFactory)) {
    // tfjs-node registered its backend on another copy of @tensorflow/tfjs (e.g. ours was bundled).
    throw new Unavailable(
      `${TFJS_NODE} loaded but registered its backend with a different copy of @tensorflow/tfjs (keep @tensorflow/tfjs external when bundling)`,
    );
  }
  let ok = false;
  try {
    ok = await tf.setBackend(TFJS_NODE_BACKEND);
  } catch (e) {
    throw new Unavailable(`${TFJS_NODE} backend failed to initialise: ${why(e)}`);
  }
  if (!ok) throw new Unavailable(`${TFJS_NODE} backend failed to initialise`);
  await tf.ready();
  const v = mod.version?.['tfjs-node'];
  return { name: 'tensorflow', detail: `tensorflow (tfjs-node${v ? ' ' + v : ''}, native)` };
}

// ---------------------------------------------------------------------------------------------
// native (our N-API addon over the cpu backend)

/**
 * OpenMP threads for the native kernels. A fixed count by default (every core), used by the
 * convolutions of at least 64 MFLOP and the element-wise kernels of at least 1M elements (smaller
 * ones run on one thread: the choice depends on the shape only): reductions then run in the same
 * order every time, so the same seed gives the same mask. Adaptive (per conv shape, 1 or all,
 * whichever measures faster: better on a busy machine, not reproducible) only when
 * PIGGYBACK_NATIVE_THREADS=adaptive; a number there fixes the count.
 */
function nativeThreads(opts: BackendOptions): number {
  if (opts.threads && opts.threads > 0) return opts.threads;
  const env = process.env.PIGGYBACK_NATIVE_THREADS;
  if (env === 'adaptive') return 0;
  const n = Number(env);
  return Number.isInteger(n) && n > 0 ? n : os.cpus().length;
}

async function tryNative(opts: BackendOptions): Promise<BackendInfo> {
  let addon;
  try {
    addon = loadNativeAddon(opts.nativeAddon);
  } catch (e) {
    throw new Unavailable(why(e));
  }
  try {
    registerNativeBackend(addon);
    addon.setThreads(nativeThreads(opts));
  } catch (e) {
    throw new Unavailable(`native backend failed to register: ${why(e)}`);
  }
  let ok = false;
  try {
    ok = await tf.setBackend(NATIVE_BACKEND);
  } catch (e) {
    throw new Unavailable(`native backend failed to initialise: ${why(e)}`);
  }
  if (!ok) throw new Unavailable('native backend failed to initialise');
  await tf.ready();
  const { threads, adaptive, onednn } = addon.info();
  return {
    name: 'native',
    detail: `native (oneDNN ${onednn}, ${adaptive ? 'up to ' : ''}${threads} thread${threads === 1 ? '' : 's'})`,
  };
}

// ---------------------------------------------------------------------------------------------
// wasm

function hasWasmFiles(dir: string): boolean {
  return WASM_FILES.some((f) => fs.existsSync(path.join(dir, f)));
}

/**
 * Where the .wasm binaries are: opts.wasmDir; else a `wasm/` folder next to the running code
 * (the esbuild bundle ships them there); else tfjs-backend-wasm's own dist folder.
 */
export function resolveWasmDir(wasmDir?: string): string {
  if (wasmDir) return path.resolve(wasmDir);
  const beside = path.join(__dirname, 'wasm');
  if (hasWasmFiles(beside)) return beside;
  try {
    return path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm'));
  } catch {
    return beside;
  }
}

let wasmPathSet: string | null = null;

async function tryWasm(opts: BackendOptions): Promise<BackendInfo> {
  const initialised = 'wasm' in tf.engine().registry;
  if (!initialised) {
    const dir = resolveWasmDir(opts.wasmDir);
    if (!hasWasmFiles(dir)) {
      throw new Unavailable(`no tfjs-backend-wasm .wasm files in ${dir}`);
    }
    if (wasmPathSet !== dir) {
      setWasmPaths(dir.endsWith(path.sep) || dir.endsWith('/') ? dir : dir + '/');
      wasmPathSet = dir;
    }
    if (opts.threads && opts.threads > 0) setThreadsCount(opts.threads);
  }
  registerWasmConvGradKernels();
  registerWasmMatMulFix();
  registerWasmMaxPoolGrad();
  let ok = false;
  try {
    ok = await tf.setBackend('wasm');
  } catch (e) {
    throw new Unavailable(`wasm backend failed to initialise: ${why(e)}`);
  }
  if (!ok) throw new Unavailable('wasm backend failed to initialise (see the warning above)');
  await tf.ready();
  let simd = false;
  try {
    simd = Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'));
  } catch {
    /* flag unknown: report no SIMD */
  }
  let threads = 1;
  try {
    threads = getThreadsCount();
  } catch {
    /* older builds: assume 1 */
  }
  return { name: 'wasm', detail: `wasm (${simd ? 'SIMD' : 'no SIMD'}, ${threads} thread${threads === 1 ? '' : 's'})` };
}

// ---------------------------------------------------------------------------------------------
// cpu

async function tryCpu(): Promise<BackendInfo> {
  const ok = await tf.setBackend('cpu');
  if (!ok) throw new Unavailable('cpu backend failed to initialise');
  await tf.ready();
  // Silence the cpu backend's one-time "install tfjs-node" banner: we report the choice ourselves.
  const be = tf.backend() as unknown as { firstUse?: boolean };
  if (be && 'firstUse' in be) be.firstUse = false;
  return { name: 'cpu', detail: 'cpu (pure JavaScript, slow)' };
}

// ---------------------------------------------------------------------------------------------
// public API

const HINTS: Record<BackendName, string> = {
  tensorflow: `run \`npm install ${TFJS_NODE}\`, which downloads libtensorflow and so needs network access; or choose backend 'wasm'`,
  native: "build the addon with `npm run build:native` (needs a C++ compiler and oneDNN: apt-get install g++ libdnnl-dev); or choose backend 'wasm'",
  wasm: "check that the tfjs-backend-wasm .wasm files are shipped next to the bundle in wasm/ or pass wasmDir; or choose backend 'cpu'",
  cpu: 'this is a bug: the cpu backend ships with @tensorflow/tfjs',
};

async function init(pref: BackendPreference, opts: BackendOptions): Promise<BackendInfo> {
  const attempt = (name: BackendName): Promise<BackendInfo> =>
    name === 'tensorflow' ? tryTensorflow() : name === 'native' ? tryNative(opts) : name === 'wasm' ? tryWasm(opts) : tryCpu();

  if (pref !== 'auto') {
    try {
      return await attempt(pref);
    } catch (e) {
      const m = e instanceof Unavailable ? e.message : why(e);
      throw new PiggybackError('BACKEND_UNAVAILABLE', `backend '${pref}' is not available: ${m}`, HINTS[pref]);
    }
  }
  const skipped: string[] = [];
  for (const name of ['tensorflow', 'native', 'wasm', 'cpu'] as const) {
    try {
      const info = await attempt(name);
      if (skipped.length) info.fallbackReason = skipped.join('; ');
      return info;
    } catch (e) {
      skipped.push(e instanceof Unavailable ? e.message : `${name}: ${why(e)}`);
    }
  }
  throw new PiggybackError('BACKEND_UNAVAILABLE', `no TensorFlow.js backend could start: ${skipped.join('; ')}`, HINTS.wasm);
}

/**
 * Initialises (or switches to) a backend and returns what was chosen. Calls are serialised.
 * Forcing an unavailable backend throws PiggybackError('BACKEND_UNAVAILABLE').
 */
export function initBackend(pref: BackendPreference = 'auto', opts: BackendOptions = {}): Promise<BackendInfo> {
  const run = pending.then(() => init(pref, opts));
  pending = run.catch(() => undefined);
  return run.then((info) => {
    active = info;
    return info;
  });
}

/** The backend chosen by the last initBackend, or null (none yet, or switched away since). */
export function activeBackend(): BackendInfo | null {
  if (!active) return null;
  return tf.engine().backendName === active.name ? active : null;
}

/** One line for logs and the UI, e.g. 'wasm (SIMD, 1 thread); fell back because: ...'. */
export function describeBackend(): string {
  const a = activeBackend();
  if (!a) return 'no backend initialised';
  return a.fallbackReason ? `${a.detail}; fell back because ${a.fallbackReason}` : a.detail;
}
