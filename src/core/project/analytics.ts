/**
 * Mask analytics on packed masks (no TF.js, no unpacking): sparsity via popcount, and for
 * every pair of tasks the Jaccard overlap of kept weights and the Hamming distance, per
 * layer and overall.
 *
 * Speed: all pairs are computed block by block (4096 words of every task at a time, so the
 * block of all tasks stays in L2), with a SWAR popcount that reduces two words to byte
 * counts before accumulating (the horizontal sum runs once per 30 words), and each word of
 * task i is loaded once for three pairs. Binary pairs need only |A∩B| (|A∪B| and Hamming
 * follow from |A| and |B|); ternary pairs need one extra pass for the Hamming distance of
 * the full -1/0/+1 values.
 */
/** Overlap of fully known masks: every entry a number (the stats pass adds null rows for damaged tasks). */
export interface DenseOverlap {
  jaccard: number[][];
  hamming: number[][];
}
import { tailMask, wordCount } from './bitpack';

/** One layer of one task's packed mask: nonzero plane, optional negative plane (ternary). */
export interface PackedMask {
  /** Nonzero ("kept") plane, LSB-first, padding bits zero. */
  words: Uint32Array;
  /** Negative plane of a ternary mask (subset of `words`); absent for binary masks. */
  negWords?: Uint32Array;
  /** Number of mask entries. */
  length: number;
}

/** Result of overlap analysis over T tasks and L layers. */
export interface OverlapResult {
  overall: DenseOverlap;
  /** perLayer[l] for layer l. */
  perLayer: DenseOverlap[];
  /** kept[t][l]: number of nonzero entries of task t in layer l. */
  kept: number[][];
}

/** Words per block: 10 tasks x 4096 words x 4 B = 160 KB, fits L2 with room. */
const BLOCK = 4096;

/** Population count of one 32-bit value (SWAR, no Math.clz32). */
export function popcount32(v: number): number {
  v = v - ((v >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24;
}

/** Number of set bits in words[s..e). */
export function popcountRange(a: Uint32Array, s = 0, e = a.length): number {
  let c = 0;
  let w = s;
  const e2 = s + ((e - s) & ~1);
  while (w < e2) {
    const stop = Math.min(e2, w + 30); // 15 word pairs: byte lanes <= 15 * 16 = 240
    let acc = 0;
    for (; w < stop; w += 2) {
      let v = a[w];
      let u = a[w + 1];
      v = v - ((v >>> 1) & 0x55555555);
      u = u - ((u >>> 1) & 0x55555555);
      v = (v & 0x33333333) + ((v >>> 2) & 0x33333333) + (u & 0x33333333) + ((u >>> 2) & 0x33333333);
      acc = (acc + (v & 0x0f0f0f0f) + ((v >>> 4) & 0x0f0f0f0f)) | 0;
    }
    acc = (acc & 0x00ff00ff) + ((acc >>> 8) & 0x00ff00ff);
    c += (acc + (acc >>> 16)) & 0xffff;
  }
  if (w < e) c += popcount32(a[w]);
  return c;
}

/** popcount(a & b) over words [s, e). */
export function andPopcount(a: Uint32Array, b: Uint32Array, s = 0, e = a.length): number {
  let c = 0;
  let w = s;
  const e2 = s + ((e - s) & ~1);
  while (w < e2) {
    const stop = Math.min(e2, w + 30);
    let acc = 0;
    for (; w < stop; w += 2) {
      let v = a[w] & b[w];
      let u = a[w + 1] & b[w + 1];
      v = v - ((v >>> 1) & 0x55555555);
      u = u - ((u >>> 1) & 0x55555555);
      v = (v & 0x33333333) + ((v >>> 2) & 0x33333333) + (u & 0x33333333) + ((u >>> 2) & 0x33333333);
      acc = (acc + (v & 0x0f0f0f0f) + ((v >>> 4) & 0x0f0f0f0f)) | 0;
    }
    acc = (acc & 0x00ff00ff) + ((acc >>> 8) & 0x00ff00ff);
    c += (acc + (acc >>> 16)) & 0xffff;
  }
  if (w < e) c += popcount32(a[w] & b[w]);
  return c;
}

/**
 * popcount(a & b), popcount(a & c), popcount(a & d) over [s, e), added to out[o], out[o+1],
 * out[o+2]: one pass loads each word of `a` once for three pairs (about 20% faster than three
 * andPopcount calls).
 */
export function andPopcount3(
  a: Uint32Array, b: Uint32Array, c: Uint32Array, d: Uint32Array, s: number, e: number, out: Float64Array, o: number,
): void {
  let cb = 0;
  let cc = 0;
  let cd = 0;
  let w = s;
  const e2 = s + ((e - s) & ~1);
  while (w < e2) {
    const stop = Math.min(e2, w + 30);
    let ab = 0;
    let ac = 0;
    let ad = 0;
    for (; w < stop; w += 2) {
      const x0 = a[w];
      const x1 = a[w + 1];
      let v = x0 & b[w];
      let u = x1 & b[w + 1];
      v = v - ((v >>> 1) & 0x55555555);
      u = u - ((u >>> 1) & 0x55555555);
      v = (v & 0x33333333) + ((v >>> 2) & 0x33333333) + (u & 0x33333333) + ((u >>> 2) & 0x33333333);
      ab = (ab + (v & 0x0f0f0f0f) + ((v >>> 4) & 0x0f0f0f0f)) | 0;
      v = x0 & c[w];
      u = x1 & c[w + 1];
      v = v - ((v >>> 1) & 0x55555555);
      u = u - ((u >>> 1) & 0x55555555);
      v = (v & 0x33333333) + ((v >>> 2) & 0x33333333) + (u & 0x33333333) + ((u >>> 2) & 0x33333333);
      ac = (ac + (v & 0x0f0f0f0f) + ((v >>> 4) & 0x0f0f0f0f)) | 0;
      v = x0 & d[w];
      u = x1 & d[w + 1];
      v = v - ((v >>> 1) & 0x55555555);
      u = u - ((u >>> 1) & 0x55555555);
      v = (v & 0x33333333) + ((v >>> 2) & 0x33333333) + (u & 0x33333333) + ((u >>> 2) & 0x33333333);
      ad = (ad + (v & 0x0f0f0f0f) + ((v >>> 4) & 0x0f0f0f0f)) | 0;
    }
    ab = (ab & 0x00ff00ff) + ((ab >>> 8) & 0x00ff00ff);
    cb += (ab + (ab >>> 16)) & 0xffff;
    ac = (ac & 0x00ff00ff) + ((ac >>> 8) & 0x00ff00ff);
    cc += (ac + (ac >>> 16)) & 0xffff;
    ad = (ad & 0x00ff00ff) + ((ad >>> 8) & 0x00ff00ff);
    cd += (ad + (ad >>> 16)) & 0xffff;
  }
  if (w < e) {
    cb += popcount32(a[w] & b[w]);
    cc += popcount32(a[w] & c[w]);
    cd += popcount32(a[w] & d[w]);
  }
  out[o] += cb;
  out[o + 1] += cc;
  out[o + 2] += cd;
}

/** popcount((a ^ b) | (na ^ nb)) over [s, e): entries whose -1/0/+1 value differs (neg planes subsets of nonzero). */
export function ternaryDiffPopcount(
  a: Uint32Array, na: Uint32Array, b: Uint32Array, nb: Uint32Array, s = 0, e = a.length,
): number {
  let c = 0;
  let w = s;
  const e2 = s + ((e - s) & ~1);
  while (w < e2) {
    const stop = Math.min(e2, w + 30);
    let acc = 0;
    for (; w < stop; w += 2) {
      let v = (a[w] ^ b[w]) | (na[w] ^ nb[w]);
      let u = (a[w + 1] ^ b[w + 1]) | (na[w + 1] ^ nb[w + 1]);
      v = v - ((v >>> 1) & 0x55555555);
      u = u - ((u >>> 1) & 0x55555555);
      v = (v & 0x33333333) + ((v >>> 2) & 0x33333333) + (u & 0x33333333) + ((u >>> 2) & 0x33333333);
      acc = (acc + (v & 0x0f0f0f0f) + ((v >>> 4) & 0x0f0f0f0f)) | 0;
    }
    acc = (acc & 0x00ff00ff) + ((acc >>> 8) & 0x00ff00ff);
    c += (acc + (acc >>> 16)) & 0xffff;
  }
  if (w < e) c += popcount32((a[w] ^ b[w]) | (na[w] ^ nb[w]));
  return c;
}

/** Clears padding bits past `length` and negative bits outside the nonzero plane (in place); returns the mask. */
export function normalizePacked(m: PackedMask): PackedMask {
  const nw = wordCount(m.length);
  if (nw > 0) {
    const t = tailMask(m.length);
    m.words[nw - 1] &= t;
    if (m.negWords) m.negWords[nw - 1] &= t;
  }
  const neg = m.negWords;
  if (neg) {
    const nz = m.words;
    for (let w = 0; w < nw; w++) neg[w] &= nz[w];
  }
  return m;
}

/** Per-layer and overall sparsity (fraction of entries that are 0 = switched off) of one task. */
export function maskSparsity(layers: PackedMask[]): { layerSparsity: number[]; sparsity: number; kept: number[] } {
  let off = 0;
  let total = 0;
  const kept: number[] = [];
  const layerSparsity = layers.map((m) => {
    const k = popcountRange(m.words, 0, wordCount(m.length));
    kept.push(k);
    off += m.length - k;
    total += m.length;
    return m.length === 0 ? 0 : (m.length - k) / m.length;
  });
  return { layerSparsity, sparsity: total === 0 ? 0 : off / total, kept };
}

function square(n: number, diag: number): number[][] {
  return Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (i === j ? diag : 0)));
}

/**
 * All-pairs overlap of T tasks' packed masks (tasks[t][l] = layer l of task t; every task
 * must have the same layer lengths). Jaccard of kept weights |A∩B|/|A∪B| (1 when both are
 * empty) and Hamming distance (entries whose value differs; ternary compares -1/0/+1),
 * per layer and overall, in one blocked pass over the words of each layer.
 */
export function computeOverlap(tasks: PackedMask[][]): OverlapResult {
  const T = tasks.length;
  const L = T === 0 ? 0 : tasks[0].length;
  for (let t = 0; t < T; t++) {
    if (tasks[t].length !== L) throw new RangeError(`computeOverlap: task ${t} has ${tasks[t].length} layers, task 0 has ${L}`);
    for (let l = 0; l < L; l++) {
      if (tasks[t][l].length !== tasks[0][l].length) {
        throw new RangeError(`computeOverlap: layer ${l} has ${tasks[t][l].length} entries in task ${t} but ${tasks[0][l].length} in task 0`);
      }
    }
  }
  const kept: number[][] = Array.from({ length: T }, () => new Array<number>(L).fill(0));
  const perLayer: DenseOverlap[] = [];
  const interAll = new Float64Array(T * T);
  const hamAll = new Float64Array(T * T);
  const inter = new Float64Array(T * T);
  const diff = new Float64Array(T * T);
  const anyTernary = tasks.some((layers) => layers.some((m) => m.negWords !== undefined));
  let zeros = new Uint32Array(0);

  for (let l = 0; l < L; l++) {
    const n = tasks[0][l].length;
    const nw = wordCount(n);
    const W: Uint32Array[] = [];
    const N: Uint32Array[] = [];
    const tern: boolean[] = [];
    if (anyTernary && zeros.length < nw) zeros = new Uint32Array(nw);
    for (let t = 0; t < T; t++) {
      const m = tasks[t][l];
      if (m.words.length < nw || (m.negWords && m.negWords.length < nw)) {
        throw new RangeError(`computeOverlap: layer ${l} of task ${t} has too few words for ${n} entries`);
      }
      W.push(m.words);
      N.push(m.negWords ?? zeros);
      tern.push(m.negWords !== undefined);
    }
    const k = new Float64Array(T);
    inter.fill(0);
    diff.fill(0);
    for (let s = 0; s < nw; s += BLOCK) {
      const e = Math.min(nw, s + BLOCK);
      for (let i = 0; i < T; i++) {
        const a = W[i];
        // j starts at i: the diagonal slot inter[i][i] = popcount(a & a) is |A|, computed in
        // the same pass that loads a for the pairs.
        let j = i;
        for (; j + 3 <= T; j += 3) andPopcount3(a, W[j], W[j + 1], W[j + 2], s, e, inter, i * T + j);
        for (; j < T; j++) inter[i * T + j] += andPopcount(a, W[j], s, e);
        if (anyTernary) {
          for (j = i + 1; j < T; j++) {
            if (tern[i] || tern[j]) diff[i * T + j] += ternaryDiffPopcount(a, N[i], W[j], N[j], s, e);
          }
        }
      }
    }
    for (let i = 0; i < T; i++) k[i] = inter[i * T + i];
    const jac = square(T, 1);
    const ham = square(T, 0);
    for (let i = 0; i < T; i++) {
      kept[i][l] = k[i];
      for (let j = i + 1; j < T; j++) {
        const x = inter[i * T + j];
        const union = k[i] + k[j] - x;
        const h = tern[i] || tern[j] ? diff[i * T + j] : k[i] + k[j] - 2 * x;
        jac[i][j] = jac[j][i] = union === 0 ? 1 : x / union;
        ham[i][j] = ham[j][i] = h;
        interAll[i * T + j] += x;
        hamAll[i * T + j] += h;
      }
    }
    perLayer.push({ jaccard: jac, hamming: ham });
  }

  const jaccard = square(T, 1);
  const hamming = square(T, 0);
  const keptTotal = kept.map((row) => row.reduce((s, v) => s + v, 0));
  for (let i = 0; i < T; i++) {
    for (let j = i + 1; j < T; j++) {
      const x = interAll[i * T + j];
      const union = keptTotal[i] + keptTotal[j] - x;
      jaccard[i][j] = jaccard[j][i] = union === 0 ? 1 : x / union;
      hamming[i][j] = hamming[j][i] = hamAll[i * T + j];
    }
  }
  return { overall: { jaccard, hamming }, perLayer, kept };
}
