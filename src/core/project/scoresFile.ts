/**
 * scores.bin: a task's real-valued mask scores, kept beside the 1-bit mask so the mask can be
 * re-thresholded without retraining. 8 bits per weight, companded around the training
 * threshold τ0 (μ-law on s − τ0, per-layer range), so resolution is finest where a threshold
 * decision is made; then Brotli when smaller. Re-binarising at τ0 reproduces the stored mask
 * exactly: a score above τ0 never quantises to 0 or below.
 *
 * Layout (little-endian): "PGBS", u32 version 1, u32 layer count L, f32 τ0, then per layer
 * u32 entry count and f32 range R; then u32 codec (0 raw, 1 Brotli), u32 raw body bytes, and
 * the body: per layer its int8 codes.
 */
import * as zlib from 'node:zlib';
import type { MaskedLayerInfo, MaskKind } from '../types';
import { PiggybackError } from '../errors';

const MAGIC = 0x53424750; // "PGBS"
const VERSION = 1;
const MU = 255;
const LOG1P_MU = Math.log1p(MU);

function bad(file: string, what: string): never {
  throw new PiggybackError('BAD_MASK_FILE', `scores file ${file} is corrupt: ${what}`, 'the mask itself is unaffected; retrain the task to store its scores again');
}

/** Encodes one task's scores (one Float32Array per masked layer) around threshold `tau`. */
export function encodeScores(scores: Float32Array[], tau: number): Uint8Array {
  const L = scores.length;
  const header = Buffer.alloc(16 + 8 * L + 8);
  header.writeUInt32LE(MAGIC, 0);
  header.writeUInt32LE(VERSION, 4);
  header.writeUInt32LE(L, 8);
  header.writeFloatLE(tau, 12);
  const total = scores.reduce((a, s) => a + s.length, 0);
  const body = Buffer.alloc(total);
  let off = 0;
  scores.forEach((s, l) => {
    let range = 0;
    for (let i = 0; i < s.length; i++) range = Math.max(range, Math.abs(s[i] - tau));
    if (!Number.isFinite(range)) throw new PiggybackError('NAN_LOSS', `scores of masked layer #${l + 1} are not finite`, 'lower the learning rates; nothing was saved');
    header.writeUInt32LE(s.length, 16 + 8 * l);
    header.writeFloatLE(range, 20 + 8 * l);
    for (let i = 0; i < s.length; i++) {
      const d = s[i] - tau;
      let q = range > 0 ? Math.round((127 * Math.log1p((MU * Math.abs(d)) / range)) / LOG1P_MU) : 0;
      // Keep the side of τ0: kept stays kept, dropped stays dropped when re-read at τ0.
      if (d > 0) q = Math.max(1, q);
      else if (d < 0) q = -Math.max(1, q);
      body.writeInt8(q, off++);
    }
  });
  const coded = zlib.brotliCompressSync(body, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: body.length > 1 << 20 ? 9 : 11 } });
  const useCoded = coded.length < body.length;
  header.writeUInt32LE(useCoded ? 1 : 0, 16 + 8 * L);
  header.writeUInt32LE(body.length, 20 + 8 * L);
  return Buffer.concat([header, useCoded ? coded : body]);
}

/** Decodes scores.bin against the project's layers; BAD_MASK_FILE naming `file` on any problem. */
export function decodeScores(buf: Uint8Array, file: string, layers: MaskedLayerInfo[]): { tau: number; scores: Float32Array[] } {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (b.length < 16) bad(file, `truncated to ${b.length} bytes`);
  if (b.readUInt32LE(0) !== MAGIC) bad(file, 'missing the PGBS magic header');
  if (b.readUInt32LE(4) !== VERSION) bad(file, `format version ${b.readUInt32LE(4)}, expected ${VERSION}`);
  const L = b.readUInt32LE(8);
  if (L !== layers.length) bad(file, `has ${L} layers, the project has ${layers.length} masked layers`);
  const tau = b.readFloatLE(12);
  const headerBytes = 16 + 8 * L + 8;
  if (b.length < headerBytes) bad(file, `truncated inside its header (${b.length} bytes)`);
  const ranges: number[] = [];
  let total = 0;
  for (let l = 0; l < L; l++) {
    const n = b.readUInt32LE(16 + 8 * l);
    if (n !== layers[l].size) bad(file, `layer ${layers[l].name} has ${n} entries, expected ${layers[l].size}`);
    const r = b.readFloatLE(20 + 8 * l);
    if (!Number.isFinite(r) || r < 0) bad(file, `layer ${layers[l].name} has range ${r}`);
    ranges.push(r);
    total += n;
  }
  if (!Number.isFinite(tau)) bad(file, `threshold ${tau}`);
  const codec = b.readUInt32LE(16 + 8 * L);
  const rawBytes = b.readUInt32LE(20 + 8 * L);
  if (rawBytes !== total) bad(file, `declares ${rawBytes} codes, the layers need ${total}`);
  let body: Buffer;
  if (codec === 0) {
    body = b.subarray(headerBytes);
    if (body.length !== total) bad(file, `${body.length < total ? 'truncated' : 'too long'}: ${body.length} codes, expected ${total}`);
  } else if (codec === 1) {
    try {
      body = zlib.brotliDecompressSync(b.subarray(headerBytes), { maxOutputLength: total });
    } catch (e) {
      bad(file, `compressed scores do not decode (${(e as Error).message.split('\n')[0]})`);
    }
    if (body.length !== total) bad(file, `decodes to ${body.length} codes, expected ${total}`);
  } else bad(file, `unknown codec ${codec}`);
  let off = 0;
  const scores = layers.map((l, li) => {
    const out = new Float32Array(l.size);
    const R = ranges[li];
    for (let i = 0; i < l.size; i++) {
      const q = body.readInt8(off++);
      const mag = (R * Math.expm1((Math.abs(q) / 127) * LOG1P_MU)) / MU;
      out[i] = tau + (q < 0 ? -mag : mag);
    }
    return out;
  });
  return { tau, scores };
}

/**
 * Masks at threshold `tau` from scores (binary: s > τ; ternary: +1 above τ, and the stored
 * mask's −1 entries kept, since s < 0 does not depend on τ).
 */
export function masksAtThreshold(scores: Float32Array[], tau: number, kind: MaskKind, stored?: Array<Uint8Array | Int8Array>): Array<Uint8Array | Int8Array> {
  // Plain loops: this runs on every move of the what-if slider.
  return scores.map((s, l) => {
    const n = s.length;
    if (kind === 'binary') {
      const m = new Uint8Array(n);
      for (let i = 0; i < n; i++) m[i] = s[i] > tau ? 1 : 0;
      return m;
    }
    const neg = stored?.[l];
    const m = new Int8Array(n);
    for (let i = 0; i < n; i++) m[i] = neg && neg[i] === -1 ? -1 : s[i] > tau ? 1 : s[i] < 0 ? -1 : 0;
    return m;
  });
}
