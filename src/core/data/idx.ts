/**
 * IDX files (the MNIST / Fashion-MNIST format): big-endian header, magic 0x0000 TT ND
 * (TT = element type, only 0x08 unsigned byte supported; ND = number of dims), then ND
 * uint32 dims, then the raw bytes. Gzipped files (1f 8b) are gunzipped transparently.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';
import type { DataSplits, InputSpec } from '../types';
import { PiggybackError } from '../errors';
import { LoadOptions, badDataset, isDir, isFile, readFileOrThrow } from './common';
import { PoolSet, arrayPool, finishSplits } from './prepare';

export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

export interface IdxImages {
  file: string;
  pixels: Uint8Array;
  count: number;
  height: number;
  width: number;
  channels: number;
}

export interface IdxLabels {
  file: string;
  labels: Int32Array;
}

const REWRITE_HINT = 're-download or re-export the file; IDX files are big-endian with magic 0x00000803 (images) / 0x00000801 (labels)';

/** Parse an IDX buffer (gzipped or raw). `file` is only used in error messages. */
export function parseIdx(buf: Uint8Array, file: string): IdxArray {
  let bytes = buf;
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = zlib.gunzipSync(bytes);
    } catch (e) {
      throw badDataset(`${file} is a corrupt gzip file (${(e as Error).message})`, 're-download the file or gunzip it to check it');
    }
  }
  if (bytes.length < 4) throw badDataset(`${file} is not an IDX file: only ${bytes.length} bytes`, REWRITE_HINT);
  const magic = ((bytes[0] << 24) | (bytes[1] << 16) | (bytes[2] << 8) | bytes[3]) >>> 0;
  const magicHex = `0x${magic.toString(16).padStart(8, '0')}`;
  if (bytes[0] !== 0 || bytes[1] !== 0 || bytes[3] < 1 || bytes[3] > 4) {
    throw badDataset(`${file} is not an IDX file: bad magic ${magicHex}`, REWRITE_HINT);
  }
  if (bytes[2] !== 0x08) {
    throw badDataset(`${file} has IDX element type 0x${bytes[2].toString(16).padStart(2, '0')} (magic ${magicHex}); only unsigned bytes (0x08) are supported`, 'convert the data to uint8 IDX files');
  }
  const ndim = bytes[3];
  const header = 4 + 4 * ndim;
  if (bytes.length < header) {
    throw badDataset(`${file} is truncated: header needs ${header} bytes, file has ${bytes.length}`, REWRITE_HINT);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  for (let i = 0; i < ndim; i++) dims.push(view.getUint32(4 + 4 * i, false));
  const expected = dims.reduce((a, b) => a * b, 1);
  const actual = bytes.length - header;
  if (actual < expected) {
    throw badDataset(`${file} is truncated: dims [${dims.join(', ')}] need ${expected} data bytes, found ${actual}`, 're-download the file (the copy is incomplete)');
  }
  if (actual > expected) {
    throw badDataset(`${file} is corrupt: dims [${dims.join(', ')}] need ${expected} data bytes, found ${actual} (${actual - expected} extra)`, REWRITE_HINT);
  }
  return { dims, data: bytes.subarray(header) };
}

export async function readIdxImages(file: string): Promise<IdxImages> {
  const arr = parseIdx(await readFileOrThrow(file, 'IDX image file'), file);
  if (arr.dims.length !== 3 && arr.dims.length !== 4) {
    throw badDataset(`${file} is not an IDX image file: it has ${arr.dims.length} dims [${arr.dims.join(', ')}], expected 3 (count, height, width; magic 0x00000803)`, 'check that images and labels files are not swapped');
  }
  const [count, height, width] = arr.dims;
  const channels = arr.dims.length === 4 ? arr.dims[3] : 1;
  if (height === 0 || width === 0 || channels === 0 || channels > 4) {
    throw badDataset(`${file} has unusable image dims [${arr.dims.join(', ')}]`, 'images need height, width >= 1 and 1-4 channels');
  }
  return { file, pixels: arr.data, count, height, width, channels };
}

export async function readIdxLabels(file: string): Promise<IdxLabels> {
  const arr = parseIdx(await readFileOrThrow(file, 'IDX label file'), file);
  if (arr.dims.length !== 1) {
    throw badDataset(`${file} is not an IDX label file: it has ${arr.dims.length} dims [${arr.dims.join(', ')}], expected 1 (magic 0x00000801)`, 'check that images and labels files are not swapped');
  }
  return { file, labels: Int32Array.from(arr.data) };
}

export interface IdxFiles {
  trainImages: string;
  trainLabels: string;
  testImages: string;
  testLabels: string;
}

const strip = (f: string): string => f.toLowerCase().replace(/\.gz$/, '');

function pick(files: string[], exact: string[], re: RegExp): string | undefined {
  for (const e of exact) {
    for (const suffix of ['', '.gz']) {
      const hit = files.find((f) => f === e + suffix);
      if (hit) return hit;
    }
  }
  return files.find((f) => re.test(strip(f)));
}

/** Locate the 4 IDX files of a folder, or undefined when it does not look like an IDX folder. */
export function findIdxFiles(dir: string): { found: Partial<IdxFiles>; complete?: IdxFiles } {
  let files: string[];
  try {
    files = fs.readdirSync(dir).filter((f) => isFile(path.join(dir, f))).sort();
  } catch {
    return { found: {} };
  }
  const found: Partial<IdxFiles> = {
    trainImages: pick(files, ['train-images-idx3-ubyte', 'train-images.idx3-ubyte'], /(^|[-_.])train[-_.].*images.*idx3/),
    trainLabels: pick(files, ['train-labels-idx1-ubyte', 'train-labels.idx1-ubyte'], /(^|[-_.])train[-_.].*labels.*idx1/),
    testImages: pick(files, ['t10k-images-idx3-ubyte', 't10k-images.idx3-ubyte', 'test-images-idx3-ubyte', 'test-images.idx3-ubyte'], /(^|[-_.])(t10k|test)[-_.].*images.*idx3/),
    testLabels: pick(files, ['t10k-labels-idx1-ubyte', 't10k-labels.idx1-ubyte', 'test-labels-idx1-ubyte', 'test-labels.idx1-ubyte'], /(^|[-_.])(t10k|test)[-_.].*labels.*idx1/),
  };
  for (const k of Object.keys(found) as (keyof IdxFiles)[]) {
    const f = found[k];
    if (f) found[k] = path.join(dir, f);
    else delete found[k];
  }
  const complete = found.trainImages && found.trainLabels && found.testImages && found.testLabels ? (found as IdxFiles) : undefined;
  return { found, complete };
}

/** True when the folder holds at least one IDX images file (complete or not). */
export function looksLikeIdxFolder(dir: string): boolean {
  const { found } = findIdxFiles(dir);
  return Object.keys(found).length > 0;
}

export const IDX_LAYOUT =
  'an IDX folder with train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte (each optionally .gz)';

export interface IdxRaw {
  dir: string;
  train: IdxImages;
  trainLabels: Int32Array;
  test: IdxImages;
  testLabels: Int32Array;
  classNames: string[];
}

function readClassesTxt(dir: string): string[] | undefined {
  for (const name of ['classes.txt', 'labels.txt', 'class_names.txt']) {
    const p = path.join(dir, name);
    if (isFile(p)) {
      const lines = fs.readFileSync(p, 'utf8').split(/\r?\n/).map((l) => l.trim()).filter((l) => l.length > 0);
      if (lines.length > 0) return lines;
    }
  }
  return undefined;
}

function checkPair(img: IdxImages, lab: IdxLabels): void {
  if (img.count !== lab.labels.length) {
    throw badDataset(
      `${lab.file} has ${lab.labels.length} labels but ${img.file} has ${img.count} images`,
      'the images and labels files must come from the same set',
    );
  }
}

function checkRange(lab: IdxLabels, k: number, source: string): void {
  for (let i = 0; i < lab.labels.length; i++) {
    if (lab.labels[i] >= k) {
      throw badDataset(`${lab.file} has label ${lab.labels[i]} at index ${i}, out of range for ${k} classes (${source})`, 'fix the labels file or the class list');
    }
  }
}

/**
 * Read and validate an IDX folder. Class names: `classNames` if given, else classes.txt /
 * labels.txt (one name per line) if present, else "0".."K-1" with K = max train label + 1.
 */
export async function readIdxFolder(dir: string, classNames?: string[]): Promise<IdxRaw> {
  if (!isDir(dir)) throw new PiggybackError('FILE_NOT_FOUND', `IDX folder not found: ${dir}`, 'check the path');
  const { found, complete } = findIdxFiles(dir);
  if (!complete) {
    const missing = (['trainImages', 'trainLabels', 'testImages', 'testLabels'] as const).filter((k) => !found[k]);
    throw badDataset(`${dir} is not a complete IDX folder: missing ${missing.join(', ')}`, `expected ${IDX_LAYOUT}`);
  }
  const [train, trainLab, test, testLab] = await Promise.all([
    readIdxImages(complete.trainImages),
    readIdxLabels(complete.trainLabels),
    readIdxImages(complete.testImages),
    readIdxLabels(complete.testLabels),
  ]);
  checkPair(train, trainLab);
  checkPair(test, testLab);
  if (train.height !== test.height || train.width !== test.width || train.channels !== test.channels) {
    throw badDataset(
      `${test.file} images are ${test.height}x${test.width}x${test.channels} but ${train.file} images are ${train.height}x${train.width}x${train.channels}`,
      'train and test images must have the same size',
    );
  }
  if (train.count === 0) throw badDataset(`${train.file} holds 0 training images`, 'an IDX training set needs images of at least 2 classes');
  if (test.count === 0) throw badDataset(`${test.file} holds 0 test images`, 'the test set needs images to evaluate on');
  let names = classNames ?? readClassesTxt(dir);
  let source = classNames ? 'given class list' : names ? 'classes.txt' : '';
  if (!names) {
    // Without a class list, classes are the labels present: a gap (e.g. one stray label 200)
    // would silently make empty classes and a head with outputs nothing trains.
    const present = new Set<number>(trainLab.labels);
    let max = 0;
    for (const l of present) if (l > max) max = l;
    const empty: number[] = [];
    for (let c = 0; c <= max && empty.length < 6; c++) if (!present.has(c)) empty.push(c);
    if (empty.length) {
      throw badDataset(
        `${trainLab.file} uses labels up to ${max} but no training image has label ${empty.slice(0, 5).join(', ')}${empty.length > 5 ? ', ...' : ''}: those classes would be empty`,
        'fix the labels, or name every class in classes.txt (one name per line) if the gaps are meant',
      );
    }
    names = Array.from({ length: max + 1 }, (_, i) => String(i));
    source = `train labels use 0..${max}`;
  }
  checkRange(trainLab, names.length, source);
  checkRange(testLab, names.length, source);
  if (names.length < 2) throw badDataset(`${dir} has only ${names.length} class`, 'a classification dataset needs at least 2 classes');
  return { dir, train, trainLabels: trainLab.labels, test, testLabels: testLab.labels, classNames: names };
}

export function idxPools(raw: IdxRaw, name: string): PoolSet {
  const pool = (img: IdxImages, labels: Int32Array) =>
    arrayPool({ pixels: img.pixels, scale: 1 / 255, labels, count: img.count, height: img.height, width: img.width, channels: img.channels });
  return {
    name,
    classNames: raw.classNames,
    train: pool(raw.train, raw.trainLabels),
    test: pool(raw.test, raw.testLabels),
    where: raw.dir,
  };
}

export interface IdxFolderOptions extends LoadOptions {
  /** Class names (length = number of classes); default classes.txt or "0".."K-1". */
  classNames?: string[];
  /** Dataset.name; default the folder's base name. */
  name?: string;
}

/** Load an IDX folder (official train/test files), pixels / 255, resized to `input`. */
export async function loadIdxFolder(dir: string, input: InputSpec, opts: IdxFolderOptions = {}): Promise<DataSplits> {
  const raw = await readIdxFolder(dir, opts.classNames);
  return finishSplits(idxPools(raw, opts.name ?? path.basename(path.resolve(dir))), input, opts);
}
