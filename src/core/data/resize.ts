/**
 * Pure image-batch helpers on NHWC float32 arrays: spatial resize and channel conversion.
 *
 * Resize is separable. Along an axis that grows (or keeps its size) it is bilinear with
 * half-pixel centres (TF `resizeBilinear(halfPixelCenters=true)`, PIL/OpenCV convention);
 * along an axis that shrinks it is area averaging, which equals bilinear for an exact 2x
 * reduction and avoids aliasing for larger reductions (e.g. photos down to 32 px).
 */
import { PiggybackError } from '../errors';
import type { Dataset, InputSpec } from '../types';
import { lazyDataset } from './dataset';

/** ITU-R BT.601 luma weights (same as PIL's "L" mode). */
export const LUMA = [0.299, 0.587, 0.114] as const;

interface AxisWeights {
  /** For each output index: start offset into idx/w. */
  start: Int32Array;
  len: Int32Array;
  idx: Int32Array;
  w: Float32Array;
}

/** 1-D resampling weights from `inSize` to `outSize` samples. Exported for tests. */
export function axisWeights(inSize: number, outSize: number): { index: number[]; weight: number[] }[] {
  const out: { index: number[]; weight: number[] }[] = [];
  const scale = inSize / outSize;
  for (let o = 0; o < outSize; o++) {
    if (outSize >= inSize) {
      let x = (o + 0.5) * scale - 0.5;
      if (x < 0) x = 0;
      if (x > inSize - 1) x = inSize - 1;
      const x0 = Math.floor(x);
      const x1 = Math.min(x0 + 1, inSize - 1);
      const f = x - x0;
      if (x1 === x0 || f === 0) out.push({ index: [x0], weight: [1] });
      else out.push({ index: [x0, x1], weight: [1 - f, f] });
    } else {
      const a = o * scale;
      const b = (o + 1) * scale;
      const index: number[] = [];
      const weight: number[] = [];
      for (let i = Math.floor(a); i < Math.min(Math.ceil(b), inSize); i++) {
        const overlap = Math.min(b, i + 1) - Math.max(a, i);
        if (overlap > 1e-9) {
          index.push(i);
          weight.push(overlap / scale);
        }
      }
      out.push({ index, weight });
    }
  }
  return out;
}

function packWeights(inSize: number, outSize: number): AxisWeights {
  const list = axisWeights(inSize, outSize);
  const total = list.reduce((s, e) => s + e.index.length, 0);
  const start = new Int32Array(outSize);
  const len = new Int32Array(outSize);
  const idx = new Int32Array(total);
  const w = new Float32Array(total);
  let k = 0;
  list.forEach((e, o) => {
    start[o] = k;
    len[o] = e.index.length;
    for (let j = 0; j < e.index.length; j++) {
      idx[k] = e.index[j];
      w[k] = e.weight[j];
      k++;
    }
  });
  return { start, len, idx, w };
}

function checkBatch(images: Float32Array, n: number, h: number, w: number, c: number, what: string): void {
  if (images.length !== n * h * w * c) {
    throw new PiggybackError(
      'SHAPE_MISMATCH',
      `${what}: array has ${images.length} values but ${n}x${h}x${w}x${c} needs ${n * h * w * c}`,
      'pass the NHWC batch with its real count, height, width and channels',
    );
  }
}

/**
 * Resize an NHWC float batch to outH x outW. Returns the input array itself when the size
 * is unchanged (treat results as read-only or copy them).
 */
export function resizeBilinear(
  images: Float32Array,
  n: number,
  h: number,
  w: number,
  c: number,
  outH: number,
  outW: number,
): Float32Array {
  checkBatch(images, n, h, w, c, 'resize');
  if (!(outH > 0 && outW > 0 && Number.isInteger(outH) && Number.isInteger(outW))) {
    throw new PiggybackError('BAD_ARGUMENT', `cannot resize to ${outH}x${outW}`, 'target height and width must be positive integers');
  }
  if (outH === h && outW === w) return images;
  let src = images;
  let curH = h;
  // Along H.
  if (outH !== h) {
    const wt = packWeights(h, outH);
    const rowLen = w * c;
    const dst = new Float32Array(n * outH * rowLen);
    for (let b = 0; b < n; b++) {
      const sb = b * h * rowLen;
      const db = b * outH * rowLen;
      for (let o = 0; o < outH; o++) {
        const d0 = db + o * rowLen;
        const s = wt.start[o];
        for (let j = 0; j < wt.len[o]; j++) {
          const s0 = sb + wt.idx[s + j] * rowLen;
          const f = wt.w[s + j];
          for (let k = 0; k < rowLen; k++) dst[d0 + k] += f * src[s0 + k];
        }
      }
    }
    src = dst;
    curH = outH;
  }
  // Along W.
  if (outW !== w) {
    const wt = packWeights(w, outW);
    const rows = n * curH;
    const dst = new Float32Array(rows * outW * c);
    for (let r = 0; r < rows; r++) {
      const sr = r * w * c;
      const dr = r * outW * c;
      for (let o = 0; o < outW; o++) {
        const d0 = dr + o * c;
        const s = wt.start[o];
        for (let j = 0; j < wt.len[o]; j++) {
          const s0 = sr + wt.idx[s + j] * c;
          const f = wt.w[s + j];
          for (let k = 0; k < c; k++) dst[d0 + k] += f * src[s0 + k];
        }
      }
    }
    src = dst;
  }
  return src;
}

/**
 * Convert the channel count of `pixels` interleaved pixels (any N*H*W).
 * 1->3/4 replicate gray (alpha 1), 3/4->1 BT.601 luminance (alpha ignored), 4->3 drop alpha,
 * 3->4 add opaque alpha, 2 (gray+alpha)->1/3 drop alpha. Returns the input when cIn === cOut.
 */
export function convertChannels(images: Float32Array, pixels: number, cIn: number, cOut: number): Float32Array {
  if (images.length !== pixels * cIn) {
    throw new PiggybackError(
      'SHAPE_MISMATCH',
      `channel conversion: array has ${images.length} values but ${pixels} pixels x ${cIn} channels needs ${pixels * cIn}`,
      'pass the real pixel count and channel count',
    );
  }
  if (cIn === cOut) return images;
  const unsupported = (): PiggybackError =>
    new PiggybackError('SHAPE_MISMATCH', `cannot convert ${cIn}-channel images to ${cOut} channels`, 'supported: 1, 2 (gray+alpha), 3 and 4 channels in; 1, 3 or 4 out');
  if (![1, 2, 3, 4].includes(cIn) || ![1, 3, 4].includes(cOut)) throw unsupported();
  const out = new Float32Array(pixels * cOut);
  for (let p = 0; p < pixels; p++) {
    const i = p * cIn;
    const o = p * cOut;
    if (cIn <= 2) {
      const g = images[i];
      if (cOut === 1) out[o] = g;
      else {
        out[o] = g;
        out[o + 1] = g;
        out[o + 2] = g;
        if (cOut === 4) out[o + 3] = cIn === 2 ? images[i + 1] : 1;
      }
    } else if (cOut === 1) {
      const y = LUMA[0] * images[i] + LUMA[1] * images[i + 1] + LUMA[2] * images[i + 2];
      out[o] = y > 1 ? 1 : y < 0 ? 0 : y;
    } else {
      out[o] = images[i];
      out[o + 1] = images[i + 1];
      out[o + 2] = images[i + 2];
      if (cOut === 4) out[o + 3] = cIn === 4 ? images[i + 3] : 1;
    }
  }
  return out;
}

/**
 * Convert an NHWC batch to an InputSpec: channels first when reducing them, resize on the
 * fewer channels, then replicate. May return the input array when nothing changes.
 */
export function toInputShape(
  images: Float32Array,
  n: number,
  h: number,
  w: number,
  c: number,
  input: InputSpec,
): Float32Array {
  checkBatch(images, n, h, w, c, 'resize');
  if (input.channels <= c) {
    const conv = convertChannels(images, n * h * w, c, input.channels);
    return resizeBilinear(conv, n, h, w, input.channels, input.height, input.width);
  }
  const resized = resizeBilinear(images, n, h, w, c, input.height, input.width);
  return convertChannels(resized, n * input.height * input.width, c, input.channels);
}

/** A Dataset converted to the InputSpec (new object; images may be shared when unchanged). */
export function resizeDataset(ds: Dataset, input: InputSpec): Dataset {
  const fields = { name: ds.name, labels: ds.labels, count: ds.count, classNames: ds.classNames, height: input.height, width: input.width, channels: input.channels };
  if (ds.read) {
    const read = ds.read;
    return lazyDataset(fields, (positions) => toInputShape(read(positions), positions.length, ds.height, ds.width, ds.channels, input));
  }
  return { ...fields, images: toInputShape(ds.images, ds.count, ds.height, ds.width, ds.channels, input) };
}
