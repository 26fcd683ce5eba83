/**
 * Filter-level analytics: kept fraction per output filter and task, dead filters, the
 * filter-level diff of two tasks and kept counts per kernel position, against a small case
 * computed by hand and against a naive 4-D loop over a real project's masks.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { packBinary, packTernary } from '../../src/core/project/bitpack';
import { analyzeLayerFilters, filterDiff, filterGeometry, keptPerFilter, keptPerPosition, summarizeFilters } from '../../src/core/project/filters';
import { saveTask } from '../../src/core/project/taskFiles';
import type { MaskedLayerInfo } from '../../src/core/types';
import { LAYERS, artifacts, code, newProject } from '../helpers/storeFixtures';
import { rng } from '../helpers/xorshift';

function maskOf(size: number, kept: number[]): Uint8Array {
  const m = new Uint8Array(size);
  for (const i of kept) m[i] = 1;
  return m;
}

// conv [kh=2, kw=2, cin=2, cout=3]: entry (y, x, c, f) is at y*12 + x*6 + c*3 + f.
const CONV: MaskedLayerInfo = { name: 'c', kind: 'conv2d', shape: [2, 2, 2, 3], size: 24 };
// A keeps all of filter 0 (0,3,...,21) and filter 1 at position (0,0) in both channels (1, 4).
const A = packBinary(maskOf(24, [0, 3, 6, 9, 12, 15, 18, 21, 1, 4]));
// B keeps filter 0 in channel 0 at every position (0,6,12,18), filter 1 at (1,1) (19, 22),
// filter 2 at (0,1) channel 1 (11).
const B = packBinary(maskOf(24, [0, 6, 12, 18, 19, 22, 11]));

test('conv layer by hand: kept per filter, dead filter, diff, kernel positions', () => {
  assert.deepEqual(filterGeometry(CONV), { filters: 3, weightsPerFilter: 8, kernel: [2, 2], perPosition: 2 });
  assert.deepEqual(keptPerFilter(CONV, A), [8, 2, 0]);
  assert.deepEqual(keptPerFilter(CONV, B), [4, 2, 1]);
  assert.deepEqual(filterDiff(CONV, A, B), { both: [4, 0, 0], aOnly: [4, 2, 0], bOnly: [0, 2, 1], neither: [0, 4, 7] });
  // positions[f][y * kw + x], out of cin = 2
  assert.deepEqual(keptPerPosition(CONV, A), [[2, 2, 2, 2], [2, 0, 0, 0], [0, 0, 0, 0]]);
  assert.deepEqual(keptPerPosition(CONV, B), [[1, 1, 1, 1], [0, 0, 0, 2], [0, 1, 0, 0]]);
});

test('depthwise and dense layers by hand', () => {
  // depthwise [2, 2, cin=2, mult=2]: output channel c*2+m, entry (y, x, c, m) at y*8 + x*4 + c*2 + m.
  const dw: MaskedLayerInfo = { name: 'dw', kind: 'depthwise', shape: [2, 2, 2, 2], size: 16 };
  const m = packBinary(maskOf(16, [6, 3, 7, 11, 15])); // (0,1,c=1,m=0) and all of channel 3
  assert.deepEqual(filterGeometry(dw), { filters: 4, weightsPerFilter: 4, kernel: [2, 2], perPosition: 1 });
  assert.deepEqual(keptPerFilter(dw, m), [0, 0, 1, 4]);
  assert.deepEqual(keptPerPosition(dw, m), [[0, 0, 0, 0], [0, 0, 0, 0], [0, 1, 0, 0], [1, 1, 1, 1]]);
  // dense [in=3, out=2]: entry (i, o) at i*2 + o.
  const fc: MaskedLayerInfo = { name: 'fc', kind: 'dense', shape: [3, 2], size: 6 };
  assert.deepEqual(keptPerFilter(fc, packBinary(Uint8Array.from([1, 0, 1, 0, 0, 1]))), [2, 1]);
  assert.match(code(() => keptPerPosition(fc, packBinary(new Uint8Array(6)))), /BAD_ARGUMENT: layer fc is a dense layer/);
  // Ternary: -1 and +1 both count as kept.
  assert.deepEqual(keptPerFilter(fc, packTernary(Int8Array.from([-1, 0, 1, 0, 0, -1]))), [2, 1]);
});

/** Naive counts by (y, x, c, f) loops over unpacked masks. */
function naive(l: MaskedLayerInfo, a: Uint8Array | Int8Array, b: Uint8Array | Int8Array) {
  const [kh, kw, cin, cout] = l.kind === 'dense' ? [1, 1, l.shape[0], l.shape[1]] : l.shape;
  const F = l.kind === 'depthwise' ? cin * cout : cout;
  const kept = new Array(F).fill(0), both = new Array(F).fill(0), aOnly = new Array(F).fill(0), bOnly = new Array(F).fill(0);
  const pos = Array.from({ length: F }, () => new Array(kh * kw).fill(0));
  for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) for (let c = 0; c < cin; c++) for (let o = 0; o < cout; o++) {
    const i = ((y * kw + x) * cin + c) * cout + o;
    const f = l.kind === 'depthwise' ? c * cout + o : o;
    const ka = a[i] !== 0, kb = b[i] !== 0;
    if (ka) { kept[f]++; pos[f][y * kw + x]++; }
    if (ka && kb) both[f]++;
    if (ka && !kb) aOnly[f]++;
    if (!ka && kb) bOnly[f]++;
  }
  return { kept, both, aOnly, bOnly, pos };
}

test('a project: every layer against naive loops, multi-word masks, damaged task skipped', () => {
  const dir = newProject();
  const ta = artifacts('a', 1);
  const tb = artifacts('b', 2, 'ternary');
  // Switch one conv2 filter off entirely in task a: it must be reported dead.
  const conv2 = LAYERS.findIndex((l) => l.name === 'conv2');
  for (let i = 5; i < LAYERS[conv2].size; i += 16) ta.masks[conv2][i] = 0;
  saveTask(dir, ta);
  saveTask(dir, tb);
  saveTask(dir, artifacts('broken', 3));
  fs.writeFileSync(path.join(dir, 'tasks', 'broken', 'mask.bin'), 'garbage');
  for (const [li, l] of LAYERS.entries()) {
    const conv = l.kind !== 'dense';
    const r = analyzeLayerFilters(dir, l.name, { diff: ['a', 'b'], ...(conv ? { positionsOf: 'a' } : {}) });
    const want = naive(l, ta.masks[li], tb.masks[li]);
    assert.deepEqual(r.tasks.map((t) => t.task), ['a', 'b']);
    assert.deepEqual(r.skipped.map((s) => s.task), ['broken']);
    assert.match(r.skipped[0].reason, /mask file .* is corrupt/);
    assert.deepEqual(r.tasks[0].kept, want.kept, `${l.name} kept`);
    assert.deepEqual(r.tasks[0].fraction, want.kept.map((k) => k / r.weightsPerFilter));
    assert.deepEqual(r.tasks[0].dead, want.kept.flatMap((k, f) => (k === 0 ? [f] : [])));
    assert.deepEqual(r.diff!.both, want.both, `${l.name} both`);
    assert.deepEqual(r.diff!.aOnly, want.aOnly, `${l.name} a only`);
    assert.deepEqual(r.diff!.bOnly, want.bOnly, `${l.name} b only`);
    if (conv) assert.deepEqual(r.positions!.kept, want.pos, `${l.name} positions`);
    else assert.equal(r.positions, undefined);
  }
  assert.ok(analyzeLayerFilters(dir, 'conv2').tasks[0].dead.includes(5), 'filter 5 of conv2 is off in task a');
  // The summary: dead filters per layer and task, the same as the per-layer view.
  const sum = summarizeFilters(dir);
  assert.deepEqual(sum.tasks, ['a', 'b']);
  assert.deepEqual(sum.skipped.map((x) => x.task), ['broken']);
  assert.deepEqual(sum.layers.map((l) => l.dead), LAYERS.map((l) => analyzeLayerFilters(dir, l.name).tasks.map((t) => t.dead.length)));
  assert.ok(sum.layers.find((l) => l.layer === 'conv2')!.dead[0] >= 1);
  // Naming a damaged task, an unknown layer or task, or a dense layer for positions fails in one line.
  assert.match(code(() => analyzeLayerFilters(dir, 'conv1', { diff: ['a', 'broken'] })), /BAD_MASK_FILE/);
  assert.match(code(() => analyzeLayerFilters(dir, 'nope')), /BAD_ARGUMENT: no masked layer named "nope".*/);
  assert.match(code(() => analyzeLayerFilters(dir, 'conv1', { diff: ['a', 'zz'] })), /UNKNOWN_TASK: no task "zz"/);
  assert.match(code(() => analyzeLayerFilters(dir, 'conv1', { diff: ['a', 'a'] })), /BAD_ARGUMENT: cannot diff/);
  assert.match(code(() => analyzeLayerFilters(dir, 'fc', { positionsOf: 'a' })), /BAD_ARGUMENT: layer fc is a dense layer/);
});

test('random masks larger than a word agree with the naive count', () => {
  const r = rng(9);
  const l: MaskedLayerInfo = { name: 'big', kind: 'conv2d', shape: [3, 3, 7, 13], size: 819 };
  const a = Uint8Array.from({ length: l.size }, () => (r() < 0.4 ? 1 : 0));
  const b = Uint8Array.from({ length: l.size }, () => (r() < 0.6 ? 1 : 0));
  const want = naive(l, a, b);
  assert.deepEqual(keptPerFilter(l, packBinary(a)), want.kept);
  assert.deepEqual(keptPerPosition(l, packBinary(a)), want.pos);
  const d = filterDiff(l, packBinary(a), packBinary(b));
  assert.deepEqual([d.both, d.aOnly, d.bOnly], [want.both, want.aOnly, want.bOnly]);
  assert.deepEqual(d.neither, want.kept.map((_, f) => 63 - want.both[f] - want.aOnly[f] - want.bOnly[f]));
});
