import { test } from 'node:test';
import assert from 'node:assert/strict';
import { packBinary, packTernary } from '../../src/core/project/bitpack';
import {
  andPopcount, computeOverlap, maskSparsity, popcount32, popcountRange, ternaryDiffPopcount, type PackedMask,
} from '../../src/core/project/analytics';
import { rng } from '../helpers/xorshift';

function naivePop(v: number): number {
  let c = 0;
  for (let k = 0; k < 32; k++) c += (v >>> k) & 1;
  return c;
}

test('popcount32 and range popcounts match a per-bit count', () => {
  const r = rng(3);
  for (const v of [0, 1, 0xffffffff, 0x80000000, 0x55555555, 0xaaaaaaaa, 0x0f0f0f0f]) assert.equal(popcount32(v), naivePop(v));
  for (let i = 0; i < 2000; i++) {
    const v = Math.floor(r() * 2 ** 32);
    assert.equal(popcount32(v), naivePop(v));
  }
  for (const n of [0, 1, 2, 3, 29, 30, 31, 60, 61, 1000]) {
    const a = new Uint32Array(n).map(() => Math.floor(r() * 2 ** 32));
    const b = new Uint32Array(n).map(() => Math.floor(r() * 2 ** 32));
    const na = new Uint32Array(n).map((_, i) => a[i] & Math.floor(r() * 2 ** 32));
    const nb = new Uint32Array(n).map((_, i) => b[i] & Math.floor(r() * 2 ** 32));
    let p = 0, x = 0, d = 0;
    for (let i = 0; i < n; i++) {
      p += naivePop(a[i]);
      x += naivePop(a[i] & b[i]);
      d += naivePop((a[i] ^ b[i]) | (na[i] ^ nb[i]));
    }
    assert.equal(popcountRange(a), p, `n=${n}`);
    assert.equal(andPopcount(a, b), x, `n=${n}`);
    assert.equal(ternaryDiffPopcount(a, na, b, nb), d, `n=${n}`);
    if (n > 5) assert.equal(popcountRange(a, 2, n - 1), p - naivePop(a[0]) - naivePop(a[1]) - naivePop(a[n - 1]));
  }
});

type Raw = Uint8Array | Int8Array;

function naive(tasks: Raw[][]) {
  const T = tasks.length;
  const L = T ? tasks[0].length : 0;
  const layer = (l: number) => {
    const jac: number[][] = [];
    const ham: number[][] = [];
    for (let i = 0; i < T; i++) {
      jac.push([]);
      ham.push([]);
      for (let j = 0; j < T; j++) {
        const a = tasks[i][l];
        const b = tasks[j][l];
        let inter = 0, union = 0, h = 0;
        for (let k = 0; k < a.length; k++) {
          const ka = a[k] !== 0, kb = b[k] !== 0;
          if (ka && kb) inter++;
          if (ka || kb) union++;
          if (a[k] !== b[k]) h++;
        }
        jac[i].push(union === 0 ? 1 : inter / union);
        ham[i].push(h);
      }
    }
    return { jac, ham };
  };
  const perLayer = Array.from({ length: L }, (_, l) => layer(l));
  const overallJac: number[][] = [];
  const overallHam: number[][] = [];
  for (let i = 0; i < T; i++) {
    overallJac.push([]);
    overallHam.push([]);
    for (let j = 0; j < T; j++) {
      let inter = 0, union = 0, h = 0;
      for (let l = 0; l < L; l++) {
        const a = tasks[i][l], b = tasks[j][l];
        for (let k = 0; k < a.length; k++) {
          const ka = a[k] !== 0, kb = b[k] !== 0;
          if (ka && kb) inter++;
          if (ka || kb) union++;
          if (a[k] !== b[k]) h++;
        }
      }
      overallJac[i].push(union === 0 ? 1 : inter / union);
      overallHam[i].push(h);
    }
  }
  const sparsity = tasks.map((layers) => {
    let off = 0, tot = 0;
    const ls = layers.map((m) => {
      let z = 0;
      for (const v of m) if (v === 0) z++;
      off += z;
      tot += m.length;
      return m.length ? z / m.length : 0;
    });
    return { ls, s: tot ? off / tot : 0 };
  });
  return { perLayer, overallJac, overallHam, sparsity };
}

function close(a: number[][], b: number[][], what: string) {
  assert.equal(a.length, b.length, what);
  for (let i = 0; i < a.length; i++) for (let j = 0; j < a.length; j++) {
    assert.ok(Math.abs(a[i][j] - b[i][j]) < 1e-12, `${what}[${i}][${j}]: ${a[i][j]} vs ${b[i][j]}`);
  }
}

function check(tasks: Raw[][], ternary: boolean[]) {
  const packed: PackedMask[][] = tasks.map((layers, t) => layers.map((m) => (ternary[t] ? packTernary(m) : packBinary(m))));
  const got = computeOverlap(packed);
  const want = naive(tasks);
  close(got.overall.jaccard, want.overallJac, 'overall jaccard');
  close(got.overall.hamming, want.overallHam, 'overall hamming');
  want.perLayer.forEach((w, l) => {
    close(got.perLayer[l].jaccard, w.jac, `layer ${l} jaccard`);
    close(got.perLayer[l].hamming, w.ham, `layer ${l} hamming`);
  });
  packed.forEach((layers, t) => {
    const s = maskSparsity(layers);
    assert.deepEqual(s.layerSparsity, want.sparsity[t].ls);
    assert.ok(Math.abs(s.sparsity - want.sparsity[t].s) < 1e-12);
  });
}

const SIZES = [0, 1, 31, 32, 33, 64, 95, 1000, 4096 * 32 + 7, 1234];

test('binary overlap and sparsity equal a naive per-element computation', () => {
  const r = rng(11);
  const T = 5;
  const tasks: Raw[][] = [];
  for (let t = 0; t < T; t++) {
    tasks.push(SIZES.map((n, l) => {
      const m = new Uint8Array(n);
      const p = t === 0 && l === 2 ? 0 : t === 1 && l === 2 ? 0 : t === 4 ? 1 : r(); // some empty, some full layers
      for (let i = 0; i < n; i++) m[i] = r() < p ? 1 : 0;
      return m;
    }));
  }
  check(tasks, tasks.map(() => false));
});

test('ternary and mixed binary/ternary overlap compares full -1/0/+1 values', () => {
  const r = rng(5);
  const tasks: Raw[][] = [];
  const tern = [true, true, false, true];
  for (let t = 0; t < tern.length; t++) {
    tasks.push(SIZES.map((n) => {
      if (!tern[t]) {
        const m = new Uint8Array(n);
        for (let i = 0; i < n; i++) m[i] = r() < 0.6 ? 1 : 0;
        return m;
      }
      const m = new Int8Array(n);
      for (let i = 0; i < n; i++) m[i] = Math.floor(r() * 3) - 1;
      return m;
    }));
  }
  check(tasks, tern);
  // two ternary masks with the same kept set but opposite signs: Jaccard 1, Hamming = kept count
  const a = packTernary(new Int8Array([1, -1, 0, 1]));
  const b = packTernary(new Int8Array([-1, -1, 0, 1]));
  const o = computeOverlap([[a], [b]]);
  assert.equal(o.overall.jaccard[0][1], 1);
  assert.equal(o.overall.hamming[0][1], 1);
});

test('edge cases: no tasks, one task, all-empty masks, zero-length layers', () => {
  assert.deepEqual(computeOverlap([]).overall, { jaccard: [], hamming: [] });
  const one = computeOverlap([[packBinary(new Uint8Array([1, 0]))]]);
  assert.deepEqual(one.overall, { jaccard: [[1]], hamming: [[0]] });
  const e = computeOverlap([[packBinary(new Uint8Array(70))], [packBinary(new Uint8Array(70))]]);
  assert.deepEqual(e.overall.jaccard, [[1, 1], [1, 1]]);
  assert.deepEqual(e.overall.hamming, [[0, 0], [0, 0]]);
  const z = computeOverlap([[packBinary(new Uint8Array(0))], [packBinary(new Uint8Array(0))]]);
  assert.deepEqual(z.perLayer[0].jaccard, [[1, 1], [1, 1]]);
  assert.deepEqual(maskSparsity([]), { layerSparsity: [], sparsity: 0, kept: [] });
  assert.throws(() => computeOverlap([[packBinary(new Uint8Array(3))], [packBinary(new Uint8Array(4))]]), RangeError);
});
