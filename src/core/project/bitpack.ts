/**
 * Bit-packing of Piggyback masks (no TF.js: plain typed arrays only).
 *
 * Binary masks (one 0/1 byte per weight) pack to 1 bit per weight, LSB-first inside
 * little 32-bit words: entry i lives in word i >>> 5, bit i & 31. Padding bits of the
 * last word are always zero, so popcounts over whole words are exact.
 *
 * Ternary masks (-1/0/+1) pack to two bit-planes of the same layout: the "nonzero"
 * plane (kept weights, identical to a binary mask, so analytics use it directly) and
 * the "negative" plane (set only where the entry is -1; always a subset of nonzero).
 */

/** A packed binary mask: `length` entries in ceil(length / 32) words. */
export interface PackedBits {
  words: Uint32Array;
  length: number;
}

/** A packed ternary mask: nonzero plane `words` and negative plane `negWords`. */
export interface PackedTernary {
  words: Uint32Array;
  negWords: Uint32Array;
  length: number;
}

/** Number of 32-bit words needed for `length` mask entries. */
export function wordCount(length: number): number {
  return (length + 31) >>> 5;
}

/** Bits of the last word that hold entries (all ones when length is a multiple of 32). */
export function tailMask(length: number): number {
  const r = length & 31;
  return r === 0 ? 0xffffffff | 0 : ((1 << r) - 1) | 0;
}

/** Packs a 0/1 mask (any nonzero entry counts as 1) into LSB-first 32-bit words. */
export function packBinary(mask: Uint8Array | Int8Array): PackedBits {
  const n = mask.length;
  const words = new Uint32Array(wordCount(n));
  const full = n >>> 5;
  let i = 0;
  for (let w = 0; w < full; w++) {
    let v = 0;
    for (let k = 0; k < 32; k++, i++) {
      const x = mask[i];
      v |= ((x | -x) >>> 31) << k; // 1 iff x != 0, branch-free
    }
    words[w] = v;
  }
  if (i < n) {
    let v = 0;
    for (let k = 0; i < n; k++, i++) {
      const x = mask[i];
      v |= ((x | -x) >>> 31) << k;
    }
    words[full] = v;
  }
  return { words, length: n };
}

/** Unpacks LSB-first words into a fresh 0/1 Uint8Array of `length` entries. */
export function unpackBinary(words: Uint32Array, length: number): Uint8Array {
  if (words.length < wordCount(length)) {
    throw new RangeError(`unpackBinary: ${words.length} words cannot hold ${length} entries`);
  }
  const out = new Uint8Array(length);
  const full = length >>> 5;
  let i = 0;
  for (let w = 0; w < full; w++) {
    const v = words[w];
    for (let k = 0; k < 32; k++, i++) out[i] = (v >>> k) & 1;
  }
  if (i < length) {
    const v = words[full];
    for (let k = 0; i < length; k++, i++) out[i] = (v >>> k) & 1;
  }
  return out;
}

/** Packs a -1/0/+1 mask into a nonzero plane and a negative plane (2 bits per weight). */
export function packTernary(mask: Int8Array | Uint8Array): PackedTernary {
  const n = mask.length;
  const nw = wordCount(n);
  const words = new Uint32Array(nw);
  const negWords = new Uint32Array(nw);
  // Uint8Array input can only hold 0/1 (no negatives): read as signed so 255 would be -1.
  const m = mask instanceof Int8Array ? mask : new Int8Array(mask.buffer, mask.byteOffset, mask.length);
  let i = 0;
  for (let w = 0; w < nw; w++) {
    const end = Math.min(n, i + 32);
    let nz = 0;
    let neg = 0;
    for (let k = 0; i < end; k++, i++) {
      const x = m[i];
      nz |= ((x | -x) >>> 31) << k;
      neg |= (x >>> 31) << k;
    }
    words[w] = nz;
    negWords[w] = neg;
  }
  return { words, negWords, length: n };
}

/** Unpacks the two planes into a fresh Int8Array of -1/0/+1 (a negative bit without its nonzero bit reads as 0). */
export function unpackTernary(words: Uint32Array, negWords: Uint32Array, length: number): Int8Array {
  const nw = wordCount(length);
  if (words.length < nw || negWords.length < nw) {
    throw new RangeError(`unpackTernary: planes of ${words.length}/${negWords.length} words cannot hold ${length} entries`);
  }
  const out = new Int8Array(length);
  let i = 0;
  for (let w = 0; w < nw; w++) {
    const nz = words[w];
    const neg = negWords[w];
    const end = Math.min(length, i + 32);
    for (let k = 0; i < end; k++, i++) {
      const b = (nz >>> k) & 1;
      out[i] = b - ((b & (neg >>> k)) << 1); // 0, +1, or -1
    }
  }
  return out;
}
