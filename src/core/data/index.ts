/**
 * Data module entry point: `loadDataset(spec, input, opts)` resolves a built-in id
 * (see listBuiltinDatasets), a 'quickdraw:<cat1>,<cat2>,...' spec or a filesystem path to an
 * IDX folder or an image folder, and returns DataSplits as NHWC float32 in [0, 1] at `input`.
 */
import * as os from 'os';
import * as path from 'path';
import * as fs from 'fs';
import { PiggybackError } from '../errors';
import type { DataSplits, InputSpec } from '../types';
import { BUILTIN_IDS, isBuiltinSpec, loadBuiltinDataset } from './builtin';
import { ImageFolderOptions, badDataset, isDir, validateInputSpec, validateLoadOptions } from './common';
import { loadIdxFolder, looksLikeIdxFolder } from './idx';
import { loadImageFolder, looksLikeImageFolder } from './imageFolder';

export type { LoadOptions, ImageFolderOptions } from './common';
export type { BuiltinDatasetInfo } from './builtin';
export {
  listBuiltinDatasets,
  loadBuiltinDataset,
  clearBuiltinCache,
  BUILTIN_IDS,
  QUICKDRAW_A,
  QUICKDRAW_B,
  QUICKDRAW_BASE,
  quickdrawCategories,
} from './builtin';
export { loadIdxFolder, parseIdx, readIdxImages, readIdxLabels } from './idx';
export { loadImageFolder, decodeImage } from './imageFolder';
export { resizeBilinear, convertChannels, toInputShape, resizeDataset } from './resize';
export {
  mulberry32,
  shuffled,
  shuffleInPlace,
  stratifiedSplit,
  stratifiedSplitIndices,
  limitPerClass,
  limitPerClassIndices,
  limitTotal,
  limitTotalIndices,
  shuffleDataset,
  subsetDataset,
  classCounts,
} from './split';

export interface LoadDatasetOptions extends ImageFolderOptions {
  /** Base for relative paths (default process.cwd()). */
  cwd?: string;
}

export type DatasetSourceKind = 'builtin' | 'idx' | 'imageFolder';

function expandPath(spec: string, cwd: string): string {
  let p = spec.trim();
  if (p === '~' || p.startsWith('~/')) p = path.join(os.homedir(), p.slice(1));
  return path.resolve(cwd, p);
}

/** What a spec refers to, without loading it (undefined = neither a builtin nor an existing path). */
export function classifyDatasetSpec(spec: string, cwd = process.cwd()): { kind: DatasetSourceKind | 'notDataset'; path?: string } | undefined {
  if (isBuiltinSpec(spec)) return { kind: 'builtin' };
  const p = expandPath(spec, cwd);
  if (!fs.existsSync(p)) return undefined;
  if (isDir(p) && looksLikeIdxFolder(p)) return { kind: 'idx', path: p };
  if (isDir(p) && looksLikeImageFolder(p)) return { kind: 'imageFolder', path: p };
  return { kind: 'notDataset', path: p };
}

const IMAGE_EXT = /\.(png|jpe?g)$/i;
const NOT_A_DATASET_HINT = 'an IDX folder holds train-images-idx3-ubyte and the other MNIST files; an image folder holds one subfolder of PNG/JPEG images per class';

/** What is in a path that is not a dataset, in a few words: "3 files (1 PNG/JPEG) and no class subfolders". */
export function describeNonDataset(p: string): string {
  if (!isDir(p)) return 'a file, not a folder';
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(p, { withFileTypes: true }).filter((e) => !e.name.startsWith('.'));
  } catch {
    return 'a folder that cannot be read';
  }
  const files = entries.filter((e) => e.isFile());
  const images = files.filter((e) => IMAGE_EXT.test(e.name)).length;
  const dirs = entries.filter((e) => e.isDirectory());
  const withImages = dirs.filter((d) => {
    try {
      return fs.readdirSync(path.join(p, d.name)).some((f) => IMAGE_EXT.test(f));
    } catch {
      return false;
    }
  }).length;
  if (entries.length === 0) return 'an empty folder';
  const f = `${files.length} file${files.length === 1 ? '' : 's'}${images ? ` (${images} PNG/JPEG)` : ''}`;
  const d = dirs.length === 0 ? 'no class subfolders' : `${dirs.length} subfolder${dirs.length === 1 ? '' : 's'}, ${withImages ? `only ${withImages}` : 'none'} with PNG/JPEG images`;
  return `${f} and ${d}`;
}

function notADataset(p: string): PiggybackError {
  return badDataset(`${p} is not a dataset: found ${describeNonDataset(p)}`, NOT_A_DATASET_HINT);
}

/**
 * Checks that a spec names a dataset (a builtin id, an IDX folder or an image folder) without
 * loading it, throwing the error loading would; commands call it before any other work.
 */
export function checkDatasetSpec(spec: string, cwd?: string): { kind: DatasetSourceKind | 'notDataset'; path?: string } {
  if (typeof spec !== 'string' || spec.trim() === '') {
    throw new PiggybackError('UNKNOWN_DATASET', 'no dataset given', `use one of ${BUILTIN_IDS.join(', ')}, quickdraw:<cat1>,<cat2>,... or a folder path`);
  }
  const what = classifyDatasetSpec(spec, cwd);
  if (!what) {
    throw new PiggybackError(
      'UNKNOWN_DATASET',
      `unknown dataset "${spec}": not a built-in id and no such path`,
      `known ids: ${BUILTIN_IDS.join(', ')}, quickdraw:<cat1>,<cat2>,...; or give an IDX / image folder path`,
    );
  }
  if (what.kind === 'notDataset') throw notADataset(what.path as string);
  return what;
}

/**
 * Load a dataset by builtin id, 'quickdraw:...' spec or path. Options: trainPerClass,
 * testLimit, valFraction (stratified val carved from train; default 0), seed, testFraction
 * (image folders without train/ + test/), cwd.
 */
export async function loadDataset(spec: string, input: InputSpec, opts: LoadDatasetOptions = {}): Promise<DataSplits> {
  validateInputSpec(input);
  validateLoadOptions(opts);
  const what = checkDatasetSpec(spec, opts.cwd);
  switch (what.kind) {
    case 'builtin':
      return loadBuiltinDataset(spec, input, opts);
    case 'idx':
      return loadIdxFolder(what.path as string, input, opts);
    case 'imageFolder':
      return loadImageFolder(what.path as string, input, opts);
    default:
      throw notADataset(what.path as string);
  }
}
