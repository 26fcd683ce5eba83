/**
 * The addon's oneDNN calls survive signals. oneDNN 2.x's JIT sgemm kernels (the "nocopy" path)
 * point rsp into a heap workspace when K is large; a signal arriving then had its frame pushed
 * over malloc's chunk headers, and a later free aborted the process ("corrupted size vs.
 * prev_size while consolidating"): every `node --cpu-prof` training run on the native backend
 * crashed (V8's profiler sends SIGPROF every sampling interval). The addon now holds signals while
 * oneDNN runs (HoldSignals in native/src). A child process runs the GEMMs of the reference CNN's
 * dense layer under a fast-sampling CPU profiler: without that it aborted within a few calls.
 * Skipped where the addon is not built.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { defaultAddonPath } from '../../src/core/native/addon';
import { nativeSkip } from '../helpers/nativeSkip';

const skip = nativeSkip();

// [M, N, K, transA, transB] of the reference CNN's dense layer (batch 64, 3136 -> 128): forward,
// dx (the shape that took the heap-workspace kernel on AVX-512 and AVX2) and dW.
const CHILD = `
const addon = require(process.env.PB_ADDON);
const shapes = [[64, 128, 3136, 0, 0], [64, 3136, 128, 0, 1], [3136, 128, 64, 1, 0]];
for (let it = 0; it < 30; it++) {
  for (const [M, N, K, ta, tb] of shapes) {
    const a = new Float32Array(M * K).fill(1), b = new Float32Array(K * N).fill(0.5), c = new Float32Array(M * N);
    addon.gemm(a, b, c, Int32Array.from([1, 1, M, N, K, ta, tb]));
    if (c[0] !== K / 2 || c[M * N - 1] !== K / 2) throw new Error('wrong gemm result ' + c[0]);
  }
}
console.log('ok');
`;

test('gemm under node --cpu-prof (SIGPROF while oneDNN runs) does not corrupt the heap', { skip }, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pb-sig-'));
  try {
    const r = spawnSync(process.execPath, ['--cpu-prof', '--cpu-prof-interval=50', `--cpu-prof-dir=${dir}`, '-e', CHILD], {
      env: { ...process.env, PB_ADDON: path.resolve(defaultAddonPath()), OMP_WAIT_POLICY: process.env.OMP_WAIT_POLICY ?? 'passive' },
      encoding: 'utf8',
      timeout: 120_000,
    });
    assert.equal(r.signal, null, `child killed by ${r.signal}: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
    assert.equal(r.status, 0, `child exited ${r.status}: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
    assert.equal(r.stdout.trim(), 'ok');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
