/** Little-endian byte helpers for the task binaries (mask.bin, head.bin, bn.bin). */
import * as fs from 'node:fs';
import { createHash } from 'node:crypto';

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

export function sha256(chunks: Uint8Array[]): string {
  const h = createHash('sha256');
  for (const c of chunks) h.update(c);
  return h.digest('hex');
}

/** Little-endian bytes of a 4-byte typed array (a view when the platform is LE). */
export function leBytes(a: Uint32Array | Float32Array): Uint8Array {
  if (LITTLE_ENDIAN) return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const out = new Uint8Array(a.byteLength);
  const dv = new DataView(out.buffer);
  if (a instanceof Float32Array) a.forEach((v, i) => dv.setFloat32(i * 4, v, true));
  else a.forEach((v, i) => dv.setUint32(i * 4, v, true));
  return out;
}

/** Words at byte `off` of an aligned buffer (a view on LE platforms, a copy otherwise). */
export function wordsAt(buf: Uint8Array, off: number, n: number): Uint32Array {
  if (LITTLE_ENDIAN) return new Uint32Array(buf.buffer, buf.byteOffset + off, n);
  const dv = new DataView(buf.buffer, buf.byteOffset + off, n * 4);
  const out = new Uint32Array(n);
  for (let i = 0; i < n; i++) out[i] = dv.getUint32(i * 4, true);
  return out;
}

/** A fresh Float32Array of `n` little-endian floats at byte `off` of `buf`. */
export function floatsAt(buf: Uint8Array, off: number, n: number): Float32Array {
  if (LITTLE_ENDIAN) return new Float32Array(buf.buffer.slice(buf.byteOffset + off, buf.byteOffset + off + n * 4));
  const out = new Float32Array(n);
  const dv = new DataView(buf.buffer, buf.byteOffset + off, n * 4);
  for (let i = 0; i < n; i++) out[i] = dv.getFloat32(i * 4, true);
  return out;
}

/** Reads a file into a 4-byte-aligned buffer. */
export function readAligned(file: string): Uint8Array {
  const b = fs.readFileSync(file);
  if (b.byteOffset % 4 === 0) return b;
  const c = new Uint8Array(b.byteLength);
  c.set(b);
  return c;
}
