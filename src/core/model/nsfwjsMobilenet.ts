/**
 * The only real third-party backbone available offline: the MobileNetV2 (ImageNet-initialised
 * lower blocks) that npm nsfwjs@4.3.0 ships as a TF.js LayersModel with its weights as base64
 * inside .min.js files. This writes it out as a normal model.json + weight file.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PiggybackError } from '../errors';
import { writeFileAtomic } from '../project/atomic';
import { packageRoot } from '../paths';

export const MOBILENET_ALIAS = 'nsfwjs-mobilenetv2';
/** Cut used by default: the last ImageNet-initialised block (the top was fine-tuned by nsfwjs' authors). */
export const MOBILENET_DEFAULT_CUT = 'block_10_project_BN';

function findNsfwjsModelDir(): string | null {
  // A build copies the model into dist/models (so a .vsix has it); in a checkout it is in node_modules.
  const shipped = path.join(packageRoot(), 'dist', 'models', 'nsfwjs-mobilenet_v2');
  if (fs.existsSync(path.join(shipped, 'model.min.js'))) return shipped;
  // nsfwjs' "exports" map hides package.json and dist/, so look in node_modules directly.
  const roots = [...(require.resolve.paths('nsfwjs') ?? []), path.join(process.cwd(), 'node_modules')];
  for (const r of roots) {
    const dir = path.join(r, 'nsfwjs', 'dist', 'models', 'mobilenet_v2');
    if (fs.existsSync(path.join(dir, 'model.min.js'))) return dir;
  }
  return null;
}

/** Whether the MobileNetV2 backbone can be extracted here (Create Mask Project offers it only then). */
export function mobilenetAvailable(): boolean {
  return findNsfwjsModelDir() !== null;
}

function nsfwjsModelDir(): string {
  const dir = findNsfwjsModelDir();
  if (dir) return dir;
  throw new PiggybackError('FILE_NOT_FOUND', 'npm package nsfwjs (with its MobileNetV2 model) is not installed', 'run `npm install nsfwjs@4.3.0`');
}

/** Writes model.json + weights.bin under outDir (once) and returns the model.json path. */
export function extractNsfwjsMobilenet(outDir: string): string {
  const modelPath = path.join(outDir, 'model.json');
  if (fs.existsSync(modelPath)) return modelPath;
  const src = nsfwjsModelDir();
  // The .min.js files are UMD bundles whose module.exports is the JSON / base64 string.
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const model = require(path.join(src, 'model.min.js')) as { modelTopology: unknown; weightsManifest: Array<{ paths: string[]; weights: unknown[] }> };
  const weights = model.weightsManifest.flatMap((g) => g.paths.map((p) => Buffer.from(require(path.join(src, `${p}.min.js`)) as string, 'base64')));
  fs.mkdirSync(outDir, { recursive: true });
  writeFileAtomic(path.join(outDir, 'weights.bin'), Buffer.concat(weights));
  writeFileAtomic(
    modelPath,
    JSON.stringify({
      format: 'layers-model',
      generatedBy: 'nsfwjs@4.3.0 mobilenet_v2, extracted by piggyback-mask-explorer',
      modelTopology: model.modelTopology,
      weightsManifest: [{ paths: ['weights.bin'], weights: model.weightsManifest.flatMap((g) => g.weights) }],
    }),
  );
  return modelPath;
}
