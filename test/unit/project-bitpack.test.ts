import { test } from 'node:test';
import assert from 'node:assert/strict';
import { packBinary, packTernary, unpackBinary, unpackTernary, wordCount } from '../../src/core/project/bitpack';
import { rng } from '../helpers/xorshift';

const LENGTHS = [0, 1, 2, 7, 31, 32, 33, 63, 64, 65, 95, 96, 97, 100, 1000, 1023, 1024, 1025, 4097, 65_537];

test('binary pack/unpack round-trips exactly at many lengths', () => {
  const r = rng(1);
  for (const n of LENGTHS) {
    for (const p of [0, 0.3, 1]) {
      const m = new Uint8Array(n);
      for (let i = 0; i < n; i++) m[i] = r() < p ? 1 : 0;
      const packed = packBinary(m);
      assert.equal(packed.length, n);
      assert.equal(packed.words.length, wordCount(n));
      assert.deepEqual(unpackBinary(packed.words, n), m, `length ${n} p ${p}`);
    }
  }
});

test('binary layout is LSB-first in 32-bit words with zero padding', () => {
  const m = new Uint8Array(40);
  m[0] = 1;
  m[31] = 1;
  m[32] = 1;
  m[39] = 1;
  const { words } = packBinary(m);
  assert.equal(words.length, 2);
  assert.equal(words[0], 0x80000001);
  assert.equal(words[1], 0b10000001);
  // any nonzero byte counts as kept
  assert.deepEqual([...packBinary(new Uint8Array([0, 2, 255])).words], [0b110]);
  assert.deepEqual([...packBinary(new Int8Array([-1, 0, 1])).words], [0b101]);
});

test('ternary pack/unpack round-trips exactly at many lengths, planes as documented', () => {
  const r = rng(7);
  for (const n of LENGTHS) {
    const m = new Int8Array(n);
    for (let i = 0; i < n; i++) m[i] = Math.floor(r() * 3) - 1;
    const p = packTernary(m);
    assert.equal(p.words.length, wordCount(n));
    assert.equal(p.negWords.length, wordCount(n));
    assert.deepEqual(unpackTernary(p.words, p.negWords, n), m, `length ${n}`);
    // nonzero plane equals the binary packing of (m != 0); negative plane is a subset of it
    const nz = new Uint8Array(n);
    for (let i = 0; i < n; i++) nz[i] = m[i] !== 0 ? 1 : 0;
    assert.deepEqual(p.words, packBinary(nz).words);
    for (let w = 0; w < p.words.length; w++) assert.equal((p.negWords[w] & ~p.words[w]) >>> 0, 0);
  }
  const t = packTernary(new Int8Array([-1, 1, 0, -1]));
  assert.equal(t.words[0], 0b1011);
  assert.equal(t.negWords[0], 0b1001);
});

test('ternary packs a 0/1 Uint8Array as all-positive', () => {
  const p = packTernary(new Uint8Array([1, 0, 1]));
  assert.deepEqual([...unpackTernary(p.words, p.negWords, 3)], [1, 0, 1]);
});

test('unpack rejects too few words', () => {
  assert.throws(() => unpackBinary(new Uint32Array(1), 33), RangeError);
  assert.throws(() => unpackTernary(new Uint32Array(2), new Uint32Array(1), 33), RangeError);
});
