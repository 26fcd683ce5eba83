/**
 * Seeded fuzzing of every parser that reads user files: the manifest, task.json, mask.bin,
 * head.bin, bn.bin, scores.bin, IDX files and images. Each mutated input must end in a valid load or a
 * PiggybackError (one line), never another exception, and no write may land outside the
 * project. PIGGYBACK_FUZZ_LONG=1 (or `npm run fuzz`) runs 20x more inputs.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PiggybackError } from '../../src/core/errors';
import { openProject } from '../../src/core/project/projectDir';
import { readProjectStats } from '../../src/core/project/stats';
import { deleteTask, loadTask, loadTaskScores, saveBaseline } from '../../src/core/project/taskFiles';
import { parseIdx, loadIdxFolder } from '../../src/core/data/idx';
import { decodeImage, loadImageFolder } from '../../src/core/data/imageFolder';
import { LAYERS, artifacts, newProject, scratch } from '../helpers/storeFixtures';
import { saveTask } from '../../src/core/project/taskFiles';
import { rng } from '../helpers/xorshift';
import { jpegBytes, pngBytes, writeIdxFolder } from '../fixtures/data/gen';

const LONG = process.env.PIGGYBACK_FUZZ_LONG === '1';
const SCALE = LONG ? 20 : 1;
const SEED = Number(process.env.PIGGYBACK_FUZZ_SEED ?? 20261201);

/** What the fuzzer saw, printed at the end (and quoted in the issue note). */
const tally = new Map<string, number>();
function count(key: string): void {
  tally.set(key, (tally.get(key) ?? 0) + 1);
}
after(() => {
  const lines = [...tally.entries()].sort().map(([k, v]) => `${k}: ${v}`);
  console.log(`fuzz (seed ${SEED}, ${LONG ? 'long' : 'short'}):\n  ${lines.join('\n  ')}`);
});

type Rand = () => number;
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];

/** Byte-level mutations: flips, overwrites, truncation, extension, splices. */
function mutateBytes(r: Rand, src: Uint8Array): Buffer {
  const b = Buffer.from(src);
  const n = 1 + Math.floor(r() * 4);
  let out: Buffer = b;
  for (let k = 0; k < n; k++) {
    const op = Math.floor(r() * 6);
    const at = Math.floor(r() * Math.max(1, out.length));
    if (op === 0 && out.length) out[at] ^= 1 << Math.floor(r() * 8);
    else if (op === 1 && out.length) out[at] = pick(r, [0, 0xff, 0x7f, 0x80, Math.floor(r() * 256)]);
    else if (op === 2) out = out.subarray(0, at);
    else if (op === 3) out = Buffer.concat([out, Buffer.from(Array.from({ length: 1 + Math.floor(r() * 64) }, () => Math.floor(r() * 256)))]);
    else if (op === 4 && out.length > 8) {
      // a 4-byte little-endian field set to an extreme value (counts, versions, sizes)
      const off = Math.floor(r() * (out.length - 4));
      out.writeUInt32LE(pick(r, [0, 1, 0xffffffff, 0x7fffffff, 1 << 30, Math.floor(r() * 2 ** 32)]), off);
    } else if (out.length) {
      const from = Math.floor(r() * out.length);
      out = Buffer.concat([out.subarray(0, at), out.subarray(from, from + Math.floor(r() * 32)), out.subarray(at)]);
    }
  }
  return out;
}

const NASTY: unknown[] = [
  null, true, 0, -1, 1e308, -1e-308, 2 ** 53, 0.5, '', '..', '../../victim', '/etc', 'a/b', '\u0000', 'x'.repeat(300),
  [], [1, 2], {}, { a: 1 }, 'NaN', 'binary', 'ternary', 'trainable', [null], [[0]],
];

/** A fresh copy of a nasty value (the shared ones must never be mutated in place). */
const nasty = (r: Rand): unknown => structuredClone(pick(r, NASTY));

/** JSON-aware mutations: replace, delete or add a value at a random path. */
function mutateJson(r: Rand, text: string): string {
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch {
    return text;
  }
  const n = 1 + Math.floor(r() * 3);
  for (let k = 0; k < n; k++) {
    // walk to a random container
    let parent: Record<string, unknown> | unknown[] | null = null;
    let key: string | number = '';
    let cur: unknown = j;
    for (let depth = 0; depth < 6 && cur && typeof cur === 'object'; depth++) {
      const keys = Array.isArray(cur) ? cur.map((_, i) => i) : Object.keys(cur);
      if (!keys.length || (depth > 0 && r() < 0.3)) break;
      parent = cur as Record<string, unknown>;
      key = pick(r, keys as Array<string | number>);
      cur = (cur as Record<string | number, unknown>)[key];
    }
    if (!parent) continue;
    const op = Math.floor(r() * 3);
    const p = parent as Record<string | number, unknown>;
    if (op === 0) p[key] = nasty(r);
    else if (op === 1) {
      if (Array.isArray(parent)) parent.splice(Number(key), 1);
      else delete p[key];
    } else if (Array.isArray(parent)) parent.push(nasty(r));
    else p[`${String(key)}_x`] = nasty(r);
  }
  return JSON.stringify(j);
}

/** Runs `fn`; anything but a clean return or a one-line PiggybackError fails the test with the input that caused it. */
function expectClean(what: string, input: () => string, fn: () => unknown): void {
  try {
    fn();
    count(`${what}: loaded`);
  } catch (e) {
    if (e instanceof PiggybackError) {
      assert.ok(!e.oneLine().includes('\n'), `${what}: multi-line error ${e.oneLine()}`);
      count(`${what}: ${e.code}`);
      return;
    }
    assert.fail(`${what}: ${(e as Error)?.stack ?? e}\ninput: ${input()}`);
  }
}

async function expectCleanAsync(what: string, fn: () => Promise<unknown>): Promise<void> {
  try {
    await fn();
    count(`${what}: loaded`);
  } catch (e) {
    if (e instanceof PiggybackError) {
      count(`${what}: ${e.code}`);
      return;
    }
    assert.fail(`${what}: ${(e as Error)?.stack ?? e}`);
  }
}

/** Relative path and size of every file under `dir`. */
function listing(dir: string): string {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(`${path.relative(dir, p)}:${fs.statSync(p).size}`);
    }
  };
  walk(dir);
  return out.sort().join('\n');
}

test('project files: mutated manifest, task.json, mask.bin, head.bin and bn.bin load or fail with one PiggybackError, and nothing outside the project is written', () => {
  const r = rng(SEED);
  const dir = newProject();
  // With scores, so scores.bin is fuzzed too.
  saveTask(dir, { ...artifacts('bin', 1), scores: LAYERS.map((l, i) => Float32Array.from({ length: l.size }, (_, k) => ((k * 7 + i) % 11) * 2e-3)) });
  saveTask(dir, artifacts('tern', 2, 'ternary', true));
  const sandbox = path.dirname(dir);
  const sentinel = path.join(sandbox, 'victim');
  fs.mkdirSync(sentinel);
  fs.writeFileSync(path.join(sentinel, 'keep'), 'x');
  const pristine = path.join(scratch(), 'pristine');
  fs.cpSync(dir, pristine, { recursive: true });
  const pristineListing = listing(dir);
  const outside = () => `${fs.readdirSync(sandbox).sort().join(',')}|${listing(sentinel)}|${fs.readdirSync(path.dirname(sandbox)).includes('victim')}`;
  const outsideBefore = outside();
  const targets = ['piggyback.json', 'tasks/bin/task.json', 'tasks/tern/task.json', 'tasks/bin/mask.bin', 'tasks/tern/mask.bin', 'tasks/bin/head.bin', 'tasks/tern/bn.bin', 'tasks/bin/scores.bin'];
  const originals = new Map(targets.map((t) => [t, fs.readFileSync(path.join(dir, t))]));
  const N = 1500 * SCALE;
  for (let i = 0; i < N; i++) {
    const target = pick(r, targets);
    const orig = originals.get(target)!;
    const mutated = target.endsWith('.json') && r() < 0.7 ? Buffer.from(mutateJson(r, orig.toString('utf8'))) : mutateBytes(r, orig);
    const file = path.join(dir, target);
    fs.writeFileSync(file, mutated);
    const input = () => `${target} <- ${mutated.length} bytes: ${target.endsWith('.json') ? mutated.toString('utf8').slice(0, 400) : mutated.subarray(0, 64).toString('hex')}`;
    expectClean('open', input, () => openProject(dir));
    expectClean('stats', input, () => {
      const s = readProjectStats(dir);
      JSON.stringify(s);
    });
    expectClean('loadTask', input, () => loadTask(dir, pick(r, ['bin', 'tern'])));
    expectClean('loadTaskScores', input, () => loadTaskScores(dir, 'bin'));
    if (i % 10 === 0) expectClean('saveBaseline', input, () => saveBaseline(dir, 'bin', { method: 'classifier', testAccuracy: 0.5, trainSeconds: 1, history: [], bytesIfStored: 8 }));
    if (i % 25 === 0) expectClean('delete', input, () => deleteTask(dir, pick(r, ['bin', 'tern', '../victim', '..'])));
    assert.equal(outside(), outsideBefore, `a write outside the project after ${input()}`);
    // Put the project back (a delete or an adoption may have changed more than the one file).
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, orig);
    if (listing(dir) !== pristineListing || !fs.readFileSync(path.join(dir, 'piggyback.json')).equals(originals.get('piggyback.json')!)) {
      fs.rmSync(dir, { recursive: true, force: true });
      fs.cpSync(pristine, dir, { recursive: true });
    }
    count('project inputs');
  }
});

test('IDX files: mutated image and label files parse or fail with one PiggybackError', async () => {
  const r = rng(SEED + 1);
  const dir = scratch();
  writeIdxFolder(dir, { n: 12, m: 6, h: 4, w: 4, k: 3, gz: false });
  const names = ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'];
  const originals = new Map(names.map((n) => [n, fs.readFileSync(path.join(dir, n))]));
  const N = 600 * SCALE;
  for (let i = 0; i < N; i++) {
    const name = pick(r, names);
    const mutated = mutateBytes(r, originals.get(name)!);
    expectClean('parseIdx', () => mutated.subarray(0, 64).toString('hex'), () => parseIdx(mutated, name));
    if (i % 4 === 0) {
      fs.writeFileSync(path.join(dir, name), mutated);
      await expectCleanAsync('loadIdxFolder', () => loadIdxFolder(dir, { height: 4, width: 4, channels: 1 }));
      fs.writeFileSync(path.join(dir, name), originals.get(name)!);
    }
    count('idx inputs');
  }
});

test('images: mutated PNG and JPEG files decode or fail with one PiggybackError', async () => {
  const r = rng(SEED + 2);
  const sources = [pngBytes(6, 5, [10, 200, 30, 255]), pngBytes(4, 4, [90, 90, 90, 128], 4), jpegBytes(8, 8, [200, 20, 20])];
  const N = 600 * SCALE;
  for (let i = 0; i < N; i++) {
    const mutated = mutateBytes(r, pick(r, sources));
    expectClean('decodeImage', () => mutated.subarray(0, 64).toString('hex'), () => decodeImage(Buffer.from(mutated), 'fuzz.png'));
    count('image inputs');
  }
  // A whole folder with one broken image: a clear error naming it.
  const dir = scratch();
  for (const c of ['a', 'b']) {
    fs.mkdirSync(path.join(dir, c));
    for (let k = 0; k < 3; k++) fs.writeFileSync(path.join(dir, c, `${k}.png`), pngBytes(6, 6, [k * 40, 0, 0, 255]));
  }
  for (let i = 0; i < 40 * SCALE; i++) {
    const f = path.join(dir, pick(r, ['a', 'b']), `${Math.floor(r() * 3)}.png`);
    const orig = fs.readFileSync(f);
    fs.writeFileSync(f, mutateBytes(r, orig));
    await expectCleanAsync('loadImageFolder', () => loadImageFolder(dir, { height: 6, width: 6, channels: 3 }, { testFraction: 0.34 }));
    fs.writeFileSync(f, orig);
  }
});
