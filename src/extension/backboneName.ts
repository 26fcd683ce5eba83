/**
 * The name the tree shows for a backbone: its alias ('reference-cnn'), MobileNetV2 for the one
 * extracted from nsfwjs (whose folder is just the project's "backbone/"), else its folder name.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

const cache = new Map<string, string | null>();

/** model.json's generatedBy, read once per file (only its start: the topology may be large). */
function generatedBy(modelPath: string): string | null {
  if (cache.has(modelPath)) return cache.get(modelPath) ?? null;
  let out: string | null = null;
  try {
    const fd = fs.openSync(modelPath, 'r');
    try {
      const buf = Buffer.alloc(4096);
      const n = fs.readSync(fd, buf, 0, buf.length, 0);
      out = /"generatedBy"\s*:\s*"([^"]*)"/.exec(buf.subarray(0, n).toString('utf8'))?.[1] ?? null;
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    out = null;
  }
  cache.set(modelPath, out);
  return out;
}

export function backboneName(b: { alias: string | null; modelPath: string; missing?: boolean }): string {
  if (b.alias) return b.alias;
  if (!b.missing && /^nsfwjs@[^ ]+ mobilenet_v2/.test(generatedBy(b.modelPath) ?? '')) return 'MobileNetV2 (nsfwjs)';
  return path.basename(path.dirname(b.modelPath)) || b.modelPath;
}
