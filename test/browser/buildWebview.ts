/**
 * Bundles the webview (webview/main.ts -> one IIFE) and copies its stylesheet. Used by the
 * browser tests and callable from the main build, which produces dist/webview/main.js and
 * dist/webview/webview.css the same way.
 */
import { build } from 'esbuild';
import { copyFile, mkdir, readFile } from 'fs/promises';
import * as path from 'path';

export const WEBVIEW_ENTRY = path.resolve(__dirname, '../../webview/main.ts');
export const WEBVIEW_CSS = path.resolve(__dirname, '../../media/webview.css');

export interface BuiltWebview {
  js: string;
  css: string;
  jsBytes: number;
}

export async function buildWebview(outFile: string, opts: { minify?: boolean; sourcemap?: boolean } = {}): Promise<BuiltWebview> {
  const outDir = path.dirname(outFile);
  await mkdir(outDir, { recursive: true });
  await build({
    entryPoints: [WEBVIEW_ENTRY],
    outfile: outFile,
    bundle: true,
    platform: 'browser',
    format: 'iife',
    target: 'es2020',
    minify: opts.minify ?? true,
    sourcemap: opts.sourcemap ?? false,
    legalComments: 'none',
    logLevel: 'silent',
  });
  const css = path.join(outDir, 'webview.css');
  await copyFile(WEBVIEW_CSS, css);
  const text = await readFile(outFile, 'utf8');
  return { js: outFile, css, jsBytes: Buffer.byteLength(text) };
}

// `tsx test/browser/buildWebview.ts <out.js>` for scripts that prefer a CLI.
if (require.main === module) {
  const out = process.argv[2] ?? path.resolve(__dirname, '../../dist/webview/main.js');
  buildWebview(out).then(
    (r) => console.log(`${r.js} (${r.jsBytes} bytes), ${r.css}`),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
