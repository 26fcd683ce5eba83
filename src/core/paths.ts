/** Where the package's own files are, whether run from sources (tsx) or from the esbuild bundle. */
import * as fs from 'node:fs';
import * as path from 'node:path';

let root: string | undefined;

/** The folder holding this package's package.json (src/core/.. /.. or dist/..). */
export function packageRoot(): string {
  if (root) return root;
  let dir = __dirname;
  for (let i = 0; i < 6; i++) {
    const pj = path.join(dir, 'package.json');
    if (fs.existsSync(pj)) {
      try {
        if (JSON.parse(fs.readFileSync(pj, 'utf8')).name === 'piggyback-mask-explorer') return (root = dir);
      } catch {
        /* keep walking */
      }
    }
    dir = path.dirname(dir);
  }
  return (root = path.resolve(__dirname, '..'));
}

/** The embedded default backbone: the reference CNN pretrained by `piggyback pretrain`. */
export function defaultBackbonePath(): string {
  return path.join(packageRoot(), 'models', 'reference-cnn', 'model.json');
}

/**
 * Embedded backbones a project can name by alias instead of by path: the reference CNN, and
 * the two GAP backbones `piggyback reproduce` uses (pretrained on QuickDraw's base categories).
 */
export const BUILTIN_BACKBONES = ['reference-cnn', 'vgg6', 'resnet8'] as const;

/** model.json of an embedded backbone, or null for an unknown alias. */
export function builtinBackbonePath(alias: string): string | null {
  return (BUILTIN_BACKBONES as readonly string[]).includes(alias) ? path.join(packageRoot(), 'models', alias, 'model.json') : null;
}

/** The alias of an embedded backbone's model.json path, or null. */
export function builtinAliasOf(modelPath: string): string | null {
  const abs = path.resolve(modelPath);
  return BUILTIN_BACKBONES.find((a) => path.resolve(builtinBackbonePath(a) as string) === abs) ?? null;
}
