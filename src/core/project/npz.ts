/**
 * NumPy `.npy` arrays and `.npz` archives (a zip of .npy files), written and read without
 * any dependency: node:zlib for deflated entries, our own CRC-32.
 *
 * Writing: .npy format 1.0 (header padded to a multiple of 64 bytes), C order, entries
 * stored (what `numpy.savez` writes) or deflated (what `numpy.savez_compressed` writes). Reading accepts what numpy writes:
 * `savez` and `savez_compressed` (stored or deflated, with the zip64 extra field numpy
 * forces on local headers), .npy 1.0/2.0/3.0, C or Fortran order, bool/int/uint/float
 * little-endian or single-byte dtypes. Every problem throws `bad(what)` so the caller turns
 * it into one line naming the file.
 */
import * as zlib from 'node:zlib';

export type NpyDtype = '|b1' | '|u1' | '|i1' | '<i2' | '<u2' | '<i4' | '<u4' | '<i8' | '<u8' | '<f2' | '<f4' | '<f8' | 'unicode';

export interface NpyArray {
  dtype: NpyDtype;
  shape: number[];
  /** Values in C (row-major) order. Unicode arrays are 0-d here: one string. */
  data: Uint8Array | Int8Array | Int16Array | Uint16Array | Int32Array | Uint32Array | Float32Array | Float64Array | BigInt64Array | BigUint64Array | string;
}

export class NpzFormatError extends Error {}

function bad(what: string): never {
  throw new NpzFormatError(what);
}

// ------------------------------------------------------------------------------------- CRC-32

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32(data: Uint8Array, crc = 0): number {
  let c = ~crc >>> 0;
  for (let i = 0; i < data.length; i++) c = CRC_TABLE[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

// ------------------------------------------------------------------------------------- .npy

const NPY_MAGIC = Uint8Array.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]); // \x93NUMPY

function pyShape(shape: number[]): string {
  return shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
}

/** One .npy file (format 1.0) holding `data` with `shape` in C order. */
export function encodeNpy(dtype: Exclude<NpyDtype, 'unicode'>, shape: number[], data: ArrayBufferView): Uint8Array;
export function encodeNpy(dtype: 'unicode', shape: [], data: string): Uint8Array;
export function encodeNpy(dtype: NpyDtype, shape: number[], data: ArrayBufferView | string): Uint8Array {
  let body: Uint8Array;
  let descr: string = dtype;
  if (dtype === 'unicode') {
    const cps = Array.from(data as string, (ch) => ch.codePointAt(0)!);
    descr = `<U${Math.max(1, cps.length)}`;
    body = new Uint8Array(Math.max(1, cps.length) * 4);
    const dv = new DataView(body.buffer);
    cps.forEach((cp, i) => dv.setUint32(i * 4, cp, true));
  } else {
    const v = data as ArrayBufferView;
    body = new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
    const n = shape.reduce((a, b) => a * b, 1);
    if (body.byteLength !== n * itemSize(dtype)) throw new RangeError(`encodeNpy: ${body.byteLength} bytes for shape ${pyShape(shape)} of ${dtype}`);
  }
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${pyShape(shape)}, }`;
  const unpadded = NPY_MAGIC.length + 4 + header.length + 1;
  header += ' '.repeat((64 - (unpadded % 64)) % 64) + '\n';
  const out = new Uint8Array(NPY_MAGIC.length + 4 + header.length + body.byteLength);
  out.set(NPY_MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  out[8] = header.length & 0xff;
  out[9] = header.length >>> 8;
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  out.set(body, 10 + header.length);
  return out;
}

function itemSize(dtype: Exclude<NpyDtype, 'unicode'>): number {
  return Number(dtype.slice(2));
}

const DTYPE_ALIASES: Record<string, Exclude<NpyDtype, 'unicode'>> = {
  '|b1': '|b1', '<b1': '|b1', '=b1': '|b1', '|u1': '|u1', '<u1': '|u1', '=u1': '|u1', '|i1': '|i1', '<i1': '|i1', '=i1': '|i1',
  '<i2': '<i2', '<u2': '<u2', '<i4': '<i4', '<u4': '<u4', '<i8': '<i8', '<u8': '<u8', '<f2': '<f2', '<f4': '<f4', '<f8': '<f8',
};

/** Parses a .npy file; `what` names it in errors. */
export function decodeNpy(buf: Uint8Array, what: string): NpyArray {
  if (buf.byteLength < 10 || NPY_MAGIC.some((b, i) => buf[i] !== b)) bad(`${what} is not a .npy array (no \\x93NUMPY magic)`);
  const major = buf[6];
  let headerLen: number;
  let start: number;
  if (major === 1) {
    headerLen = buf[8] | (buf[9] << 8);
    start = 10;
  } else if (major === 2 || major === 3) {
    if (buf.byteLength < 12) bad(`${what}: truncated .npy header`);
    headerLen = new DataView(buf.buffer, buf.byteOffset, buf.byteLength).getUint32(8, true);
    start = 12;
  } else {
    bad(`${what}: .npy format version ${major}.${buf[7]} is not supported`);
  }
  if (start + headerLen > buf.byteLength) bad(`${what}: truncated .npy header`);
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(buf.subarray(start, start + headerLen));
  const descrM = /'descr'\s*:\s*'([^']*)'/.exec(header);
  const fortranM = /'fortran_order'\s*:\s*(True|False)/.exec(header);
  const shapeM = /'shape'\s*:\s*\(([^)]*)\)/.exec(header);
  if (!descrM || !fortranM || !shapeM) bad(`${what}: unreadable .npy header ${JSON.stringify(header.trim().slice(0, 80))}`);
  const shapeParts = shapeM[1].split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (!shapeParts.every((s) => /^\d+L?$/.test(s))) bad(`${what}: shape (${shapeM[1]}) is not a tuple of sizes`);
  const shape = shapeParts.map((s) => parseInt(s, 10));
  const n = shape.reduce((a, b) => a * b, 1);
  const body = buf.subarray(start + headerLen);
  const descr = descrM[1];
  const uni = /^[<|=]U(\d+)$/.exec(descr);
  if (uni) {
    const width = Number(uni[1]);
    if (shape.length !== 0) bad(`${what}: only 0-d string arrays are read, got shape ${pyShape(shape)}`);
    if (body.byteLength !== width * 4) bad(`${what}: ${body.byteLength} data bytes, ${descr} needs ${width * 4}`);
    const dv = new DataView(body.buffer, body.byteOffset, body.byteLength);
    let s = '';
    for (let i = 0; i < width; i++) {
      const cp = dv.getUint32(i * 4, true);
      if (cp === 0) break;
      if (cp > 0x10ffff) bad(`${what}: invalid character in string`);
      s += String.fromCodePoint(cp);
    }
    return { dtype: 'unicode', shape, data: s };
  }
  const dtype = DTYPE_ALIASES[descr];
  if (!dtype) bad(`${what}: dtype ${descr} is not supported (use bool, int, uint or float, little-endian)`);
  const size = itemSize(dtype);
  if (body.byteLength !== n * size) bad(`${what}: ${body.byteLength} data bytes, shape ${pyShape(shape)} of ${descr} needs ${n * size}`);
  const copyBytes = new Uint8Array(body.byteLength); // own, aligned buffer (a Buffer's slice is a view)
  copyBytes.set(body);
  const copy = copyBytes.buffer;
  const data = (() => {
    switch (dtype) {
      case '|b1': case '|u1': return new Uint8Array(copy);
      case '|i1': return new Int8Array(copy);
      case '<i2': return new Int16Array(copy);
      case '<u2': case '<f2': return new Uint16Array(copy);
      case '<i4': return new Int32Array(copy);
      case '<u4': return new Uint32Array(copy);
      case '<f4': return new Float32Array(copy);
      case '<f8': return new Float64Array(copy);
      case '<i8': return new BigInt64Array(copy);
      case '<u8': return new BigUint64Array(copy);
    }
  })();
  const arr: NpyArray = { dtype, shape, data };
  return fortranM[1] === 'True' && shape.length > 1 ? { ...arr, data: fortranToC(data, shape) } : arr;
}

/** Reorders column-major values into row-major order. */
function fortranToC<T extends Exclude<NpyArray['data'], string>>(src: T, shape: number[]): T {
  const out = new (src.constructor as new (n: number) => T)(src.length);
  const rank = shape.length;
  const idx = new Array<number>(rank).fill(0);
  const fStride = new Array<number>(rank);
  fStride[0] = 1;
  for (let k = 1; k < rank; k++) fStride[k] = fStride[k - 1] * shape[k - 1];
  for (let c = 0; c < src.length; c++) {
    let f = 0;
    for (let k = 0; k < rank; k++) f += idx[k] * fStride[k];
    (out as any)[c] = (src as any)[f];
    for (let k = rank - 1; k >= 0; k--) {
      if (++idx[k] < shape[k]) break;
      idx[k] = 0;
    }
  }
  return out;
}

// ------------------------------------------------------------------------------------- zip

const LOCAL_SIG = 0x04034b50;
const CENTRAL_SIG = 0x02014b50;
const EOCD_SIG = 0x06054b50;
const ZIP64_EOCD_SIG = 0x06064b50;
const ZIP64_LOCATOR_SIG = 0x07064b50;

/**
 * A zip of `entries` (name -> bytes), below 4 GiB: stored as numpy.savez writes, or with
 * `deflate` each entry deflated when that is smaller, as numpy.savez_compressed writes.
 */
export function encodeZip(entries: Array<{ name: string; data: Uint8Array }>, opts: { deflate?: boolean } = {}): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  // DOS date 1980-01-01 00:00: fixed, so the same masks give the same bytes.
  const time = 0;
  const date = (0 << 9) | (1 << 5) | 1;
  for (const e of entries) {
    const name = Buffer.from(e.name, 'utf8');
    const crc = crc32(e.data);
    const deflated = opts.deflate ? zlib.deflateRawSync(e.data, { level: 6 }) : null;
    const method = deflated && deflated.byteLength < e.data.byteLength ? 8 : 0;
    const body = method === 8 ? deflated! : e.data;
    if (body.byteLength >= 0xffffffff || offset >= 0xffffffff) throw new RangeError('encodeZip: archives of 4 GiB or more are not supported');
    const local = Buffer.alloc(30 + name.length);
    local.writeUInt32LE(LOCAL_SIG, 0);
    local.writeUInt16LE(20, 4); // version needed
    local.writeUInt16LE(0x0800, 6); // UTF-8 names
    local.writeUInt16LE(method, 8); // 0 stored, 8 deflate
    local.writeUInt16LE(time, 10);
    local.writeUInt16LE(date, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(body.byteLength, 18);
    local.writeUInt32LE(e.data.byteLength, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28);
    name.copy(local, 30);
    const cen = Buffer.alloc(46 + name.length);
    cen.writeUInt32LE(CENTRAL_SIG, 0);
    cen.writeUInt16LE(20, 4); // made by
    cen.writeUInt16LE(20, 6);
    cen.writeUInt16LE(0x0800, 8);
    cen.writeUInt16LE(method, 10);
    cen.writeUInt16LE(time, 12);
    cen.writeUInt16LE(date, 14);
    cen.writeUInt32LE(crc, 16);
    cen.writeUInt32LE(body.byteLength, 20);
    cen.writeUInt32LE(e.data.byteLength, 24);
    cen.writeUInt16LE(name.length, 28);
    cen.writeUInt32LE(offset, 42);
    name.copy(cen, 46);
    chunks.push(local, body);
    central.push(cen);
    offset += local.length + body.byteLength;
  }
  const cdSize = central.reduce((s, c) => s + c.length, 0);
  if (entries.length > 0xffff || offset + cdSize >= 0xffffffff) throw new RangeError('encodeZip: too many entries or too large');
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(EOCD_SIG, 0);
  eocd.writeUInt16LE(entries.length, 8);
  eocd.writeUInt16LE(entries.length, 10);
  eocd.writeUInt32LE(cdSize, 12);
  eocd.writeUInt32LE(offset, 16);
  return [...chunks, ...central, eocd];
}

/** The entries of a zip archive (stored or deflated), each CRC-checked. */
export function decodeZip(buf: Uint8Array, what: string): Map<string, Uint8Array> {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  let eocd = -1;
  for (let i = b.length - 22; i >= Math.max(0, b.length - 22 - 0xffff); i--) {
    if (b.readUInt32LE(i) === EOCD_SIG) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) bad(`${what} is not a zip archive (no end of central directory; truncated?)`);
  let count = b.readUInt16LE(eocd + 10);
  let cdSize = b.readUInt32LE(eocd + 12);
  let cdOffset = b.readUInt32LE(eocd + 16);
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    const loc = eocd - 20;
    if (loc < 0 || b.readUInt32LE(loc) !== ZIP64_LOCATOR_SIG) bad(`${what}: zip64 archive without its locator`);
    const z = Number(b.readBigUInt64LE(loc + 8));
    if (z + 56 > b.length || b.readUInt32LE(z) !== ZIP64_EOCD_SIG) bad(`${what}: damaged zip64 end of central directory`);
    count = Number(b.readBigUInt64LE(z + 32));
    cdSize = Number(b.readBigUInt64LE(z + 40));
    cdOffset = Number(b.readBigUInt64LE(z + 48));
  }
  if (cdOffset + cdSize > b.length) bad(`${what}: central directory lies outside the file (truncated?)`);
  const out = new Map<string, Uint8Array>();
  let p = cdOffset;
  for (let k = 0; k < count; k++) {
    if (p + 46 > b.length || b.readUInt32LE(p) !== CENTRAL_SIG) bad(`${what}: damaged central directory entry ${k + 1} of ${count}`);
    const flags = b.readUInt16LE(p + 8);
    const method = b.readUInt16LE(p + 10);
    const crc = b.readUInt32LE(p + 16);
    let compSize = b.readUInt32LE(p + 20);
    let size = b.readUInt32LE(p + 24);
    const nameLen = b.readUInt16LE(p + 28);
    const extraLen = b.readUInt16LE(p + 30);
    const commentLen = b.readUInt16LE(p + 32);
    let localOffset = b.readUInt32LE(p + 42);
    if (p + 46 + nameLen + extraLen > b.length) bad(`${what}: damaged central directory entry ${k + 1} of ${count}`);
    const name = b.toString(flags & 0x0800 ? 'utf8' : 'latin1', p + 46, p + 46 + nameLen);
    // zip64 extra field: the 64-bit values present are those whose 32-bit field is all ones.
    let e = p + 46 + nameLen;
    const eEnd = e + extraLen;
    while (e + 4 <= eEnd) {
      const id = b.readUInt16LE(e);
      const len = b.readUInt16LE(e + 2);
      if (id === 0x0001) {
        let q = e + 4;
        if (size === 0xffffffff) { size = Number(b.readBigUInt64LE(q)); q += 8; }
        if (compSize === 0xffffffff) { compSize = Number(b.readBigUInt64LE(q)); q += 8; }
        if (localOffset === 0xffffffff) { localOffset = Number(b.readBigUInt64LE(q)); q += 8; }
      }
      e += 4 + len;
    }
    p += 46 + nameLen + extraLen + commentLen;
    if (flags & 1) bad(`${what}: entry ${name} is encrypted`);
    if (localOffset + 30 > b.length || b.readUInt32LE(localOffset) !== LOCAL_SIG) bad(`${what}: entry ${name} has no local header where the directory says`);
    const dataStart = localOffset + 30 + b.readUInt16LE(localOffset + 26) + b.readUInt16LE(localOffset + 28);
    if (dataStart + compSize > b.length) bad(`${what}: entry ${name} is truncated`);
    const raw = buf.subarray(dataStart, dataStart + compSize);
    let data: Uint8Array;
    if (method === 0) data = raw;
    else if (method === 8) {
      try {
        data = zlib.inflateRawSync(raw, { maxOutputLength: Math.max(1, size) });
      } catch (err) {
        bad(`${what}: entry ${name} does not inflate (${(err as Error).message.split('\n')[0]})`);
      }
    } else bad(`${what}: entry ${name} uses compression method ${method} (only stored and deflate are read)`);
    if (data.byteLength !== size) bad(`${what}: entry ${name} holds ${data.byteLength} bytes, its directory says ${size}`);
    if (crc32(data) !== crc) bad(`${what}: entry ${name} fails its CRC-32 check (corrupt)`);
    if (out.has(name)) bad(`${what}: entry ${name} appears twice`);
    out.set(name, data);
  }
  return out;
}

/** Writes arrays (key -> .npy bytes) as an .npz; numpy.load(file)[key] reads each. */
export function encodeNpz(arrays: Array<{ key: string; npy: Uint8Array }>, opts: { deflate?: boolean } = {}): Uint8Array[] {
  return encodeZip(arrays.map((a) => ({ name: `${a.key}.npy`, data: a.npy })), opts);
}

/** Reads every array of an .npz (keys without the .npy suffix, as numpy.load names them). */
export function decodeNpz(buf: Uint8Array, what: string): Map<string, NpyArray> {
  const out = new Map<string, NpyArray>();
  for (const [name, data] of decodeZip(buf, what)) {
    if (name.endsWith('/')) continue; // a folder entry
    if (!name.endsWith('.npy')) bad(`${what}: entry ${name} is not a .npy array`);
    const key = name.slice(0, -4);
    out.set(key, decodeNpy(data, `${what}: array ${key}`));
  }
  return out;
}

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

/** The values of a numeric array as plain numbers (float16 decoded, 64-bit integers converted). */
export function npyValues(a: NpyArray): ArrayLike<number> {
  const d = a.data;
  if (typeof d === 'string') bad('a string array has no numeric values');
  if (a.dtype === '<f2') return Float64Array.from(d as Uint16Array, halfToFloat);
  if (d instanceof BigInt64Array || d instanceof BigUint64Array) return Float64Array.from(d, (v) => Number(v));
  return d as ArrayLike<number>;
}
