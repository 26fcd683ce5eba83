/**
 * Image folders: one subfolder per class of PNG / JPEG files, either directly
 * (`root/<class>/*.png`, split per class into train/test by a seeded test fraction) or
 * pre-split (`root/train/<class>/...` + `root/test/<class>/...`, optional `root/val/...`).
 * Images are decoded lazily (only those selected by the caps) and each is converted to the
 * InputSpec channels and size on its own, so images of different sizes are fine.
 */
import * as fs from 'fs';
import * as path from 'path';
import { PNG } from 'pngjs';
import * as jpeg from 'jpeg-js';
import { PiggybackError } from '../errors';
import type { DataSplits, InputSpec } from '../types';
import { FIXED_SPLIT_SEED, ImageFolderOptions, badDataset, compareNames, isDir, readFileOrThrow, validateLoadOptions } from './common';
import { ImagePool, PoolSet, finishSplits } from './prepare';
import { toInputShape } from './resize';
import { stratifiedSplitIndices } from './split';

export const IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg'];
export const IMAGE_FOLDER_LAYOUT =
  'an image folder with one subfolder per class holding .png/.jpg images (root/<class>/*.png, or root/train/<class>/ + root/test/<class>/)';

export interface DecodedImage {
  /** HWC float32 in [0, 1]. */
  data: Float32Array;
  height: number;
  width: number;
  /** 1 (gray), 3 (RGB) or 4 (RGBA). */
  channels: number;
}

const isImageName = (f: string): boolean => !f.startsWith('.') && IMAGE_EXTENSIONS.includes(path.extname(f).toLowerCase());

function fromRGBA(rgba: Uint8Array, width: number, height: number, channels: number): DecodedImage {
  const n = width * height;
  const data = new Float32Array(n * channels);
  for (let p = 0; p < n; p++) {
    for (let k = 0; k < channels; k++) data[p * channels + k] = rgba[p * 4 + k] / 255;
  }
  return { data, height, width, channels };
}

/**
 * Decode a PNG or JPEG buffer (by signature, not by extension). PNG gray / gray+alpha -> 1
 * channel, RGB / palette -> 3, RGBA or palette with transparency -> 4. JPEG -> 3, or 1 when
 * every pixel is gray.
 */
export function decodeImage(buf: Buffer, file: string): DecodedImage {
  const hint = 'remove the file or re-export it as PNG/JPEG';
  const isPng = buf.length >= 8 && buf[0] === 0x89 && buf[1] === 0x50 && buf[2] === 0x4e && buf[3] === 0x47;
  const isJpeg = buf.length >= 3 && buf[0] === 0xff && buf[1] === 0xd8 && buf[2] === 0xff;
  if (isPng) {
    let png;
    try {
      png = PNG.sync.read(buf);
    } catch (e) {
      throw badDataset(`cannot decode image ${file}: ${(e as Error).message}`, hint);
    }
    const channels = png.color ? (png.alpha ? 4 : 3) : 1;
    return fromRGBA(png.data, png.width, png.height, channels);
  }
  if (isJpeg) {
    let img;
    try {
      img = jpeg.decode(buf, { useTArray: true, formatAsRGBA: true, maxMemoryUsageInMB: 1024 });
    } catch (e) {
      throw badDataset(`cannot decode image ${file}: ${(e as Error).message ?? String(e)}`, hint);
    }
    if (!(img.width > 0 && img.height > 0)) throw badDataset(`cannot decode image ${file}: empty image`, hint);
    let gray = true;
    for (let i = 0; i < img.data.length && gray; i += 4) {
      if (img.data[i] !== img.data[i + 1] || img.data[i] !== img.data[i + 2]) gray = false;
    }
    return fromRGBA(img.data, img.width, img.height, gray ? 1 : 3);
  }
  throw badDataset(`cannot decode image ${file}: not a PNG or JPEG file`, hint);
}

export async function readImage(file: string): Promise<DecodedImage> {
  return decodeImage(await readFileOrThrow(file, 'image'), file);
}

interface ClassListing {
  classNames: string[];
  files: string[];
  labels: number[];
}

function listDir(dir: string): fs.Dirent[] {
  try {
    return fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
}

function isDirEntry(dir: string, e: fs.Dirent): boolean {
  return e.isDirectory() || (e.isSymbolicLink() && isDir(path.join(dir, e.name)));
}

/** Class subfolders (non-hidden) that contain at least one image file, sorted. */
function classDirs(dir: string): string[] {
  return listDir(dir)
    .filter((e) => isDirEntry(dir, e) && !e.name.startsWith('.'))
    .map((e) => e.name)
    .filter((name) => listDir(path.join(dir, name)).some((f) => !f.isDirectory() && isImageName(f.name)))
    .sort(compareNames);
}

function listClasses(dir: string, classNames: string[]): ClassListing {
  const files: string[] = [];
  const labels: number[] = [];
  classNames.forEach((name, label) => {
    const sub = path.join(dir, name);
    const imgs = listDir(sub)
      .filter((f) => !f.isDirectory() && isImageName(f.name))
      .map((f) => f.name)
      .sort(compareNames);
    for (const f of imgs) {
      files.push(path.join(sub, f));
      labels.push(label);
    }
  });
  return { classNames, files, labels };
}

export type ImageFolderLayout =
  | { kind: 'split'; train: string; test: string; val?: string; classNames: string[] }
  | { kind: 'flat'; root: string; classNames: string[] };

/** Work out the layout of an image folder, or undefined when it is not one. */
export function detectImageFolder(dir: string): ImageFolderLayout | undefined {
  if (!isDir(dir)) return undefined;
  const train = path.join(dir, 'train');
  const test = ['test', 'testing'].map((t) => path.join(dir, t)).find((t) => classDirs(t).length > 0);
  const trainClasses = classDirs(train);
  if (trainClasses.length > 0 && test) {
    const val = ['val', 'valid', 'validation'].map((v) => path.join(dir, v)).find((v) => classDirs(v).length > 0);
    return { kind: 'split', train, test, val, classNames: trainClasses };
  }
  const classes = classDirs(dir);
  if (classes.length > 0) return { kind: 'flat', root: dir, classNames: classes };
  return undefined;
}

export function looksLikeImageFolder(dir: string): boolean {
  return detectImageFolder(dir) !== undefined;
}

const DECODE_CONCURRENCY = 16;

function filePool(files: string[], labels: number[]): ImagePool {
  return {
    labels: Int32Array.from(labels),
    readSync(indices, input) {
      const per = input.height * input.width * input.channels;
      const out = new Float32Array(indices.length * per);
      for (let i = 0; i < indices.length; i++) {
        const file = files[indices[i]];
        let buf: Buffer;
        try {
          buf = fs.readFileSync(file);
        } catch (e) {
          throw badDataset(`cannot read ${file}: ${(e as Error).message}`, 'the image folder changed while training: restore the file or start again');
        }
        const img = decodeImage(buf, file);
        out.set(toInputShape(img.data, 1, img.height, img.width, img.channels, input), i * per);
      }
      return out;
    },
    async gather(indices, input) {
      const per = input.height * input.width * input.channels;
      const out = new Float32Array(indices.length * per);
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < indices.length) {
          const i = next++;
          const img = await readImage(files[indices[i]]);
          out.set(toInputShape(img.data, 1, img.height, img.width, img.channels, input), i * per);
        }
      };
      await Promise.all(Array.from({ length: Math.min(DECODE_CONCURRENCY, indices.length) }, worker));
      return out;
    },
  };
}

function subsetListing(l: ClassListing, idx: number[]): { files: string[]; labels: number[] } {
  return { files: idx.map((i) => l.files[i]), labels: idx.map((i) => l.labels[i]) };
}

function checkSubset(where: string, names: string[], classNames: string[]): void {
  const extra = names.filter((n) => !classNames.includes(n));
  if (extra.length > 0) {
    throw badDataset(
      `${where} has class folder(s) ${extra.map((e) => `"${e}"`).join(', ')} that train/ does not have`,
      'train/, test/ (and val/) must use the same class subfolder names',
    );
  }
}

export function imageFolderPools(dir: string, opts: ImageFolderOptions = {}, name?: string): PoolSet {
  validateLoadOptions(opts);
  if (!fs.existsSync(dir)) throw new PiggybackError('FILE_NOT_FOUND', `image folder not found: ${dir}`, 'check the path');
  if (!isDir(dir)) throw badDataset(`${dir} is not a folder`, `expected ${IMAGE_FOLDER_LAYOUT}`);
  const layout = detectImageFolder(dir);
  if (!layout) {
    throw badDataset(`${dir} is not an image dataset: no class subfolders with .png/.jpg images`, `expected ${IMAGE_FOLDER_LAYOUT}`);
  }
  const dsName = name ?? path.basename(path.resolve(dir));
  if (layout.classNames.length < 2) {
    throw badDataset(`${dir} has only one class folder ("${layout.classNames[0]}")`, 'a classification dataset needs at least 2 class subfolders');
  }
  if (layout.kind === 'split') {
    const trainL = listClasses(layout.train, layout.classNames);
    checkSubset(layout.test, classDirs(layout.test), layout.classNames);
    const testL = listClasses(layout.test, layout.classNames);
    const pools: PoolSet = {
      name: dsName,
      classNames: layout.classNames,
      train: filePool(trainL.files, trainL.labels),
      test: filePool(testL.files, testL.labels),
      where: dir,
    };
    if (layout.val) {
      checkSubset(layout.val, classDirs(layout.val), layout.classNames);
      const valL = listClasses(layout.val, layout.classNames);
      pools.val = filePool(valL.files, valL.labels);
    }
    return pools;
  }
  const all = listClasses(layout.root, layout.classNames);
  const { a, b } = stratifiedSplitIndices(all.labels, opts.testFraction ?? 0.2, FIXED_SPLIT_SEED);
  const tr = subsetListing(all, a);
  const te = subsetListing(all, b);
  return {
    name: dsName,
    classNames: layout.classNames,
    train: filePool(tr.files, tr.labels),
    test: filePool(te.files, te.labels),
    where: dir,
  };
}

/** Load an image folder, converted to `input` (channels and size). */
export async function loadImageFolder(dir: string, input: InputSpec, opts: ImageFolderOptions & { name?: string } = {}): Promise<DataSplits> {
  return finishSplits(imageFolderPools(dir, opts, opts.name), input, opts);
}
