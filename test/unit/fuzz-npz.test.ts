/**
 * Seeded fuzzing of the .npz mask import: mutated archives (raw bytes, so the CRC check is hit,
 * and mutated .npy entries and __meta__ re-zipped with valid CRCs, so the .npy and metadata
 * parsers are hit) must each import as a valid task or fail with one PiggybackError line, and a
 * failure changes nothing stored. PIGGYBACK_FUZZ_LONG=1 runs 20x more inputs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PiggybackError } from '../../src/core/errors';
import { exportMasksNpz, importMaskNpz } from '../../src/core/project/maskExchange';
import { decodeZip, encodeZip } from '../../src/core/project/npz';
import { deleteTask, loadTask, saveTask } from '../../src/core/project/taskFiles';
import { snapshotDir } from '../helpers/engineFixtures';
import { artifacts, newProject, scratch } from '../helpers/storeFixtures';
import { rng } from '../helpers/xorshift';

const SCALE = process.env.PIGGYBACK_FUZZ_LONG === '1' ? 20 : 1;
const SEED = Number(process.env.PIGGYBACK_FUZZ_SEED ?? 20261201);

function mutate(r: () => number, src: Uint8Array): Buffer {
  let out = Buffer.from(src);
  const n = 1 + Math.floor(r() * 3);
  for (let k = 0; k < n; k++) {
    const op = Math.floor(r() * 5);
    const at = Math.floor(r() * Math.max(1, out.length));
    if (op === 0 && out.length) out[at] ^= 1 << Math.floor(r() * 8);
    else if (op === 1 && out.length) out[at] = [0, 0xff, 0x7f, 0x80, 0x31, 0x2c, 0x27][Math.floor(r() * 7)];
    else if (op === 2) out = out.subarray(0, at);
    else if (op === 3 && out.length > 8) out.writeUInt32LE([0, 1, 0xffffffff, 0x7fffffff, Math.floor(r() * 2 ** 32)][Math.floor(r() * 5)], Math.floor(r() * (out.length - 4)));
    else out = Buffer.concat([out, Buffer.from(Array.from({ length: 1 + Math.floor(r() * 16) }, () => Math.floor(r() * 256)))]);
  }
  return out;
}

test('mutated .npz archives import or fail in one line, changing nothing on failure', () => {
  const dir = newProject();
  saveTask(dir, artifacts('src', 1));
  saveTask(dir, artifacts('ter', 2, 'ternary'));
  const files = [path.join(scratch(), 'src.npz'), path.join(scratch(), 'ter.npz')];
  exportMasksNpz(dir, 'src', files[0]);
  exportMasksNpz(dir, 'ter', files[1]);
  const originals = files.map((f) => fs.readFileSync(f));
  const r = rng(SEED);
  const before = snapshotDir(dir);
  const tally = { imported: 0, failed: 0 };
  const work = path.join(scratch(), 'fuzz.npz');
  for (let k = 0; k < 300 * SCALE; k++) {
    const orig = originals[k % 2];
    let bytes: Uint8Array;
    if (k % 3 === 0) bytes = mutate(r, orig);
    else {
      // Mutate one entry (an .npy header or body, or __meta__) and re-zip with a valid CRC.
      const entries = [...decodeZip(orig, 'x')].map(([name, data]) => ({ name, data: Buffer.from(data) as Uint8Array }));
      const e = entries[Math.floor(r() * entries.length)];
      const headerBias = r() < 0.7;
      e.data = headerBias ? Buffer.concat([mutate(r, e.data.subarray(0, 128)), e.data.subarray(128)]) : mutate(r, e.data);
      bytes = Buffer.concat(encodeZip(entries));
    }
    fs.writeFileSync(work, bytes);
    try {
      importMaskNpz({ projectDir: dir, task: 'fuzzed', npzFile: work, headFrom: 'src' });
      loadTask(dir, 'fuzzed'); // what was stored is a valid task
      deleteTask(dir, 'fuzzed');
      tally.imported++;
    } catch (err) {
      assert.ok(err instanceof PiggybackError, `input ${k}: expected a PiggybackError, got ${(err as Error)?.stack ?? err}`);
      assert.ok(!err.oneLine().includes('\n'), err.oneLine());
      tally.failed++;
    }
    if (tally.failed && k % 50 === 0) assert.deepEqual(snapshotDir(dir), before, `input ${k}: a failed import changed the project`);
  }
  assert.deepEqual(snapshotDir(dir), before);
  assert.ok(tally.failed > 250 * SCALE * 0.5, `most mutations must be refused: ${JSON.stringify(tally)}`);
  console.log(`npz fuzz (seed ${SEED}): ${JSON.stringify(tally)}`);
});
