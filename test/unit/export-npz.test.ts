/**
 * Masks as NumPy .npz: Debian's numpy reads what we write (names, Keras shapes, dtypes, values,
 * counts equal to the stats); what numpy writes (savez, savez_compressed, Fortran order, float
 * masks, masks converted from PyTorch's layout with the README's recipe) imports back as a task
 * with exactly those masks; and every bad archive fails in one line with nothing stored changed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { exportMasksNpz, importMaskNpz } from '../../src/core/project/maskExchange';
import { crc32, decodeNpz, encodeNpy, encodeNpz } from '../../src/core/project/npz';
import { readProjectStats } from '../../src/core/project/stats';
import { loadTask, saveTask } from '../../src/core/project/taskFiles';
import { snapshotDir } from '../helpers/engineFixtures';
import { LAYERS, artifacts, code, newProject, scratch } from '../helpers/storeFixtures';

const PYTHON = '/usr/bin/python3';
const numpyMissing = (() => {
  const r = spawnSync(PYTHON, ['-c', 'import numpy'], { encoding: 'utf8' });
  return r.status === 0 ? false : `Debian's python3-numpy is not installed (${PYTHON} -c 'import numpy' failed: ${(r.stderr || String(r.error)).trim().split('\n').pop()}); apt-get install -y python3-numpy`;
})();

function python(script: string, ...args: string[]): string {
  const r = spawnSync(PYTHON, ['-c', script, ...args], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, `python failed: ${r.stderr}`);
  return r.stdout;
}

function project(): string {
  const dir = newProject();
  saveTask(dir, artifacts('bin', 1));
  saveTask(dir, artifacts('ter', 2, 'ternary'));
  saveTask(dir, artifacts('bn', 3, 'binary', true));
  return dir;
}

test('crc32 and the .npy header follow their specs', () => {
  assert.equal(crc32(Buffer.from('123456789')), 0xcbf43926); // the CRC-32 check value
  const npy = encodeNpy('<f4', [2, 3], new Float32Array(6));
  assert.deepEqual([...npy.subarray(0, 8)], [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  const headerLen = npy[8] | (npy[9] << 8);
  assert.equal((10 + headerLen) % 64, 0, 'data starts on a 64-byte boundary');
  assert.equal(npy.length, 10 + headerLen + 24);
});

test('numpy.load reads the export: layer names, Keras shapes, dtypes, values, counts equal the stats', { skip: numpyMissing }, () => {
  const dir = project();
  const stats = readProjectStats(dir);
  for (const task of ['bin', 'ter']) {
    const out = path.join(scratch(), `${task}.npz`);
    const r = exportMasksNpz(dir, task, out);
    assert.equal(r.scores.included, false);
    assert.equal(r.bytes, fs.statSync(out).size);
    assert.ok(r.bytes < LAYERS.reduce((s, l) => s + l.size, 0), `deflated below a byte per weight: ${r.bytes}`);
    assert.match(r.scores.reason!, /no stored scores/);
    const got = JSON.parse(python(`
import json, sys, numpy as np
z = np.load(sys.argv[1])
meta = json.loads(str(z['__meta__']))
print(json.dumps({'keys': sorted(z.files), 'meta': meta, 'layers': {k: {'shape': list(z[k].shape), 'dtype': str(z[k].dtype), 'nonzero': int(np.count_nonzero(z[k])), 'neg': int((z[k] < 0).sum()), 'values': z[k].flatten().tolist()} for k in z.files if k != '__meta__'}}))
`, out));
    assert.deepEqual(got.keys, [...LAYERS.map((l) => l.name), '__meta__'].sort());
    assert.equal(got.meta.task, task);
    assert.equal(got.meta.maskKind, task === 'bin' ? 'binary' : 'ternary');
    const ts = stats.tasks.find((t) => t.name === task)!;
    const stored = loadTask(dir, task);
    LAYERS.forEach((l, i) => {
      const a = got.layers[l.name];
      assert.deepEqual(a.shape, l.shape, `${l.name} shape`);
      assert.equal(a.dtype, task === 'bin' ? 'uint8' : 'int8');
      assert.equal(a.nonzero, Math.round(l.size * (1 - ts.layerSparsity[i])), `${l.name}: kept count equals the stats`);
      assert.equal(a.nonzero, r.layers[i].kept);
      assert.deepEqual(a.values, Array.from(stored.masks[i]), `${l.name} values in C order`);
      if (task === 'ter') assert.ok(a.neg > 0);
    });
  }
});

test('an export imports back as an identical task; PyTorch-layout masks via the README recipe too', { skip: numpyMissing }, () => {
  const dir = project();
  const out = path.join(scratch(), 'bn.npz');
  exportMasksNpz(dir, 'bn', out);
  const r = importMaskNpz({ projectDir: dir, task: 'copy', npzFile: out, headFrom: 'bn' });
  const a = loadTask(dir, 'bn');
  const b = loadTask(dir, 'copy');
  assert.deepEqual(b.masks, a.masks);
  assert.deepEqual(b.head, a.head);
  assert.deepEqual(b.bn, a.bn, 'per-task BN comes with the head');
  assert.equal(b.options.maskKind, 'binary');
  assert.ok(Number.isNaN(b.testAccuracy), 'accuracy unknown until evaluated');
  assert.deepEqual(r.layers.map((l) => l.kept), a.masks.map((m) => Array.from(m).filter((x) => x !== 0).length));

  // Masks "from PyTorch": float32, [cout, cin, kh, kw] / [cin*mult, 1, kh, kw] / [out, in],
  // saved compressed; then converted with the README's transposes (non-C-contiguous, so numpy
  // writes some in Fortran order).
  const torch = path.join(scratch(), 'torch.npz');
  const keras = path.join(scratch(), 'keras.npz');
  python(`
import sys, numpy as np
z = np.load(sys.argv[1])
t = {}
for k in z.files:
    if k == '__meta__': continue
    m = z[k].astype(np.float32)
    if m.ndim == 4 and k == 'dw':
        kh, kw, cin, mult = m.shape
        t[k] = np.ascontiguousarray(m.transpose(2, 3, 0, 1).reshape(cin * mult, 1, kh, kw))
    elif m.ndim == 4:
        t[k] = np.ascontiguousarray(m.transpose(3, 2, 0, 1))
    else:
        t[k] = np.ascontiguousarray(m.T)
np.savez_compressed(sys.argv[2], **t)
# README recipe back to Keras' layout:
back = {}
for k, w in t.items():
    if k == 'dw':
        cm, _, kh, kw = w.shape
        back[k] = w.reshape(8, cm // 8, kh, kw).transpose(2, 3, 0, 1)
    elif w.ndim == 4:
        back[k] = w.transpose(2, 3, 1, 0)
    else:
        back[k] = w.T
assert not all(v.flags['C_CONTIGUOUS'] for v in back.values())
np.savez(sys.argv[3], **back)
`, out, torch, keras);
  assert.match(code(() => importMaskNpz({ projectDir: dir, task: 'torch', npzFile: torch, headFrom: 'bn' })),
    /SHAPE_MISMATCH: .*array conv1 has shape \(8, 3, 3, 3\), layer conv1 \(conv2d\) needs the Keras layout \(3, 3, 3, 8\)/);
  try {
    importMaskNpz({ projectDir: dir, task: 'torch', npzFile: torch, headFrom: 'bn' });
  } catch (e) {
    assert.match((e as { hint: string }).hint, /PyTorch's layout: save m\.transpose\(2, 3, 1, 0\)/);
  }
  importMaskNpz({ projectDir: dir, task: 'from-torch', npzFile: keras, headFrom: 'bn' });
  assert.deepEqual(loadTask(dir, 'from-torch').masks, a.masks);
});

test('bad archives: one line each, nothing stored changes', { skip: numpyMissing }, () => {
  const dir = project();
  const good = path.join(scratch(), 'good.npz');
  exportMasksNpz(dir, 'ter', good);
  const bytes = fs.readFileSync(good);
  const before = snapshotDir(dir);
  const arrays = decodeNpz(bytes, good);
  const variant = (name: string, edit: (m: Map<string, Uint8Array>) => void): string => {
    const m = new Map<string, Uint8Array>();
    for (const l of LAYERS) m.set(l.name, encodeNpy('|i1', l.shape, arrays.get(l.name)!.data as Int8Array));
    edit(m);
    const f = path.join(scratch(), name);
    fs.writeFileSync(f, Buffer.concat(encodeNpz([...m].map(([key, npy]) => ({ key, npy })))));
    return f;
  };
  const flipped = Buffer.from(bytes);
  flipped[200] ^= 0x10;
  const cases: Array<[string, RegExp]> = [
    [path.join(scratch(), 'missing.npz'), /FILE_NOT_FOUND: mask archive .*missing\.npz does not exist/],
    [(() => { const f = path.join(scratch(), 't.npz'); fs.writeFileSync(f, bytes.subarray(0, bytes.length - 30)); return f; })(), /BAD_MASK_FILE: .*t\.npz is not a zip archive/],
    [(() => { const f = path.join(scratch(), 'f.npz'); fs.writeFileSync(f, flipped); return f; })(), /BAD_MASK_FILE: .*fails its CRC-32 check/],
    [variant('nolayer.npz', (m) => m.delete('conv2')), /BAD_MASK_FILE: .*no array for masked layer conv2 \(3, 3, 8, 16\)/],
    [variant('shape.npz', (m) => m.set('fc', encodeNpy('|u1', [640], new Uint8Array(640)))), /SHAPE_MISMATCH: .*array fc has shape \(640,\)/],
    [variant('value.npz', (m) => m.set('odd', encodeNpy('|u1', [37, 1], new Uint8Array(37).fill(2)))), /BAD_MASK_FILE: .*array odd holds 2 at flat index 0/],
    [variant('half.npz', (m) => m.set('odd', encodeNpy('<f4', [37, 1], new Float32Array(37).fill(0.5)))), /BAD_MASK_FILE: .*array odd holds 0\.5/],
    [variant('extra.npz', (m) => m.set('conv9', encodeNpy('|u1', [1], new Uint8Array(1)))), /BAD_MASK_FILE: .*array "conv9" is not a masked layer/],
    [variant('meta.npz', (m) => m.set('__meta__', encodeNpy('unicode', [], JSON.stringify({ format: 'piggyback-masks', backboneSha256: 'cd'.repeat(32) })))), /BACKBONE_MISMATCH: .*another backbone/],
  ];
  for (const [file, want] of cases) {
    const msg = code(() => importMaskNpz({ projectDir: dir, task: 'new', npzFile: file, headFrom: 'bin' }));
    assert.match(msg, want);
    assert.ok(!msg.includes('\n'), msg);
  }
  assert.match(code(() => importMaskNpz({ projectDir: dir, task: 'bin', npzFile: good, headFrom: 'bin' })), /TASK_EXISTS/);
  assert.match(code(() => importMaskNpz({ projectDir: dir, task: 'new', npzFile: good, headFrom: 'nope' })), /UNKNOWN_TASK/);
  assert.match(code(() => exportMasksNpz(dir, 'ter', good)), /BAD_ARGUMENT: .*already exists/);
  assert.deepEqual(snapshotDir(dir), before, 'nothing stored changed');
  // The good one, for contrast, imports (ternary kept as ternary).
  assert.equal(importMaskNpz({ projectDir: dir, task: 'new', npzFile: good, headFrom: 'bin' }).maskKind, 'ternary');
});
