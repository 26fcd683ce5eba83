/**
 * The `piggyback` command line as a user or a script meets it: help, JSON output, and for
 * every kind of bad input a non-zero exit with one line saying what is wrong, nothing lost.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { useWasm, savedReferenceCnn, quadrantDataset, writeIdxDataset, tmpDir, snapshotDir } from '../helpers/engineFixtures';
import { assertOneLineError, cli } from '../helpers/cli';



let modelPath: string;
let data: string;
let project: string;

before(async () => {
  await useWasm();
  modelPath = await savedReferenceCnn(21);
  data = writeIdxDataset(quadrantDataset(96, 4), 64);
  project = path.join(tmpDir('pb-cli-'), 'proj');
});

test('help lists every command', () => {
  const r = cli('--help');
  assert.equal(r.code, 0);
  for (const c of ['pretrain', 'train', 'eval', 'baseline', 'stats', 'bench', 'init', 'datasets', 'delete']) assert.match(r.stdout, new RegExp(`\\b${c}\\b`));
  const t = cli('train', '--help');
  assert.match(t.stdout, /--lr-mask/);
  assert.match(t.stdout, /--bn <mode>/);
});

test('train, eval and stats: human and JSON output from the same project', () => {
  const r = cli('train', project, '--backbone', modelPath, '--task', 'quad', '--dataset', data, '--epochs', '1', '--batch-size', '32', '--lr-mask', '2e-3', '--lr-head', '5e-3', '--backend', 'wasm', '--json');
  assert.equal(r.code, 0, r.stderr);
  const task = JSON.parse(r.stdout);
  assert.equal(task.name, 'quad');
  assert.ok(task.testAccuracy >= 0 && task.testAccuracy <= 1);
  assert.ok(task.rawBitsPerMaskedWeight > 0.99 && task.rawBitsPerMaskedWeight < 1.1, `bit-packed ${task.rawBitsPerMaskedWeight}`);
  assert.ok(task.bitsPerMaskedWeight <= task.rawBitsPerMaskedWeight, `stored ${task.bitsPerMaskedWeight}`);
  const e = cli('eval', project, '--task', 'quad', '--backend', 'wasm', '--json');
  assert.equal(e.code, 0, e.stderr);
  assert.equal(JSON.parse(e.stdout).accuracy, task.testAccuracy);
  const s = cli('stats', project);
  assert.equal(s.code, 0, s.stderr);
  assert.match(s.stdout, /quad/);
  assert.match(s.stdout, /conv1/);
  const sj = JSON.parse(cli('stats', project, '--json').stdout);
  assert.equal(sj.tasks[0].name, 'quad');
});

test('bad input: one clear line, non-zero exit, project untouched', () => {
  const before = snapshotDir(project);
  assertOneLineError(cli('eval', '/nonexistent/project', '--task', 'x'), /nonexistent/);
  assertOneLineError(cli('train', project, '--task', 'y', '--dataset', 'no-such-dataset', '--backend', 'wasm'), /no-such-dataset/);
  assertOneLineError(cli('eval', project, '--task', 'missing'), /missing/);
  assertOneLineError(cli('train', project, '--task', 'quad', '--dataset', data, '--backend', 'wasm'), /already exists/);
  const bad = cli('train', project, '--task', 'z', '--dataset', data, '--epochs', 'many');
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /epochs must be a whole number from 1 to 10000, got 'many'/);
  assert.deepEqual(snapshotDir(project), before);
});

test('a corrupt manifest or a truncated mask file is reported, not a stack trace', () => {
  const copy = path.join(tmpDir('pb-cli-copy-'), 'proj');
  fs.cpSync(project, copy, { recursive: true });
  const mask = path.join(copy, 'tasks', 'quad', 'mask.bin');
  const bytes = fs.readFileSync(mask);
  fs.writeFileSync(mask, bytes.subarray(0, Math.floor(bytes.length / 2)));
  assertOneLineError(cli('eval', copy, '--task', 'quad', '--backend', 'wasm'), /mask/);
  fs.writeFileSync(path.join(copy, 'piggyback.json'), '{ not json');
  assertOneLineError(cli('stats', copy), /piggyback\.json/);
});

test('train into a new project checks the task name and dataset first: no folder is left behind', () => {
  const fresh = path.join(tmpDir('pb-cli-new-'), 'proj');
  assertOneLineError(cli('train', fresh, '--task', '../x', '--dataset', data, '--backend', 'wasm'), /invalid task name "..\/x"/);
  assertOneLineError(cli('train', fresh, '--task', 'ok', '--dataset', 'no-such-dataset', '--backend', 'wasm'), /unknown dataset "no-such-dataset"/);
  assert.equal(fs.existsSync(fresh), false);
  // init under a file: one line naming the path, not a stack trace
  const file = path.join(tmpDir('pb-cli-file-'), 'a-file');
  fs.writeFileSync(file, 'x');
  assertOneLineError(cli('init', path.join(file, 'proj'), '--backbone', modelPath, '--backend', 'wasm'), /a-file.* is a file, not a folder/);
});

test('delete with a "../" name in the manifest touches nothing outside; a damaged task shows in stats', () => {
  const base = tmpDir('pb-cli-trav-');
  const copy = path.join(base, 'a', 'proj');
  fs.cpSync(project, copy, { recursive: true });
  const victim = path.join(base, 'victim');
  fs.mkdirSync(victim);
  fs.writeFileSync(path.join(victim, 'keep'), 'x');
  const manifestFile = path.join(copy, 'piggyback.json');
  const good = fs.readFileSync(manifestFile, 'utf8');
  const j = JSON.parse(good);
  j.tasks.push('../../victim');
  fs.writeFileSync(manifestFile, JSON.stringify(j));
  assertOneLineError(cli('delete', copy, '--task', '../../victim'), /not a valid task name/);
  assert.ok(fs.existsSync(path.join(victim, 'keep')));
  fs.writeFileSync(manifestFile, good);
  const mask = path.join(copy, 'tasks', 'quad', 'mask.bin');
  const b = fs.readFileSync(mask);
  b[b.length - 1] ^= 0x01;
  fs.writeFileSync(mask, b);
  const s = cli('stats', copy);
  assert.equal(s.code, 0, s.stderr);
  assert.match(s.stdout, /quad \(DAMAGED\)/);
  assert.match(s.stdout, /damaged: quad: .*mask\.bin is corrupt/);
  assert.match(s.stdout, /quad \(DAMAGED\)\s+\/\S*pb-idx-/, "a damaged task still shows its dataset");
});

test('a project whose backbone moved says so and is repaired by relink', () => {
  const base = tmpDir('pb-cli-move-');
  const copy = path.join(base, 'deep', 'er', 'proj');
  fs.cpSync(project, copy, { recursive: true });
  const movedModelDir = path.join(base, 'model-moved');
  fs.cpSync(path.dirname(modelPath), movedModelDir, { recursive: true });
  const hidden = `${path.dirname(modelPath)}-hidden`;
  fs.renameSync(path.dirname(modelPath), hidden);
  try {
    const s = cli('stats', copy);
    assert.match(s.stdout, /BACKBONE MISSING/);
    assertOneLineError(cli('eval', copy, '--task', 'quad', '--backend', 'wasm'), /backbone of .* is missing.*piggyback relink/);
    const r = cli('relink', copy, '--backbone', path.join(movedModelDir, 'model.json'), '--backend', 'wasm');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /relinked .* match/);
    const e = cli('eval', copy, '--task', 'quad', '--backend', 'wasm', '--json');
    assert.equal(e.code, 0, e.stderr);
    // another backbone is refused
    const other = cli('relink', copy, '--backbone', 'reference-cnn', '--backend', 'wasm');
    assert.equal(other.code, 1);
    assert.match(other.stderr, /error: (backbone weights changed|.*shape mismatch|masked layer)/);
  } finally {
    fs.renameSync(hidden, path.dirname(modelPath));
  }
});

test('bench --quick --no-matrix --json: the reference CNN row, measured in its own process, with no tensor leaked', () => {
  const r = cli('bench', '--quick', '--no-matrix', '--json');
  assert.equal(r.code, 0, r.stderr);
  const b = JSON.parse(r.stdout);
  assert.equal(b.rows.length, 1, 'no architecture matrix');
  const row = b.rows[0];
  assert.equal(row.arch, 'reference-cnn');
  assert.equal(row.maskImgPerSec, b.maskImgPerSec);
  for (const v of [b.maskImgPerSec, b.finetuneImgPerSec, b.evalImgPerSec, row.peakRssMb, b.gemmPeakGflops]) assert.ok(Number.isFinite(v) && v > 0, `positive figure: ${v}`);
  assert.equal(b.tensorsLeakedPerStep, 0);
  assert.equal(b.peakRssMb, row.peakRssMb, "the top-level peak RSS is the reference row's own process's");
  if (b.torchMaskImgPerSec !== null) {
    assert.equal(b.ratioVsTorch, b.maskImgPerSec / b.torchMaskImgPerSec);
    assert.equal(row.torchRuns.length, 2, 'PyTorch runs before and after the row');
    assert.ok(Math.abs(b.torchMaskImgPerSec - (row.torchRuns[0] + row.torchRuns[1]) / 2) < 1e-9);
  }
  else assert.equal(typeof b.torchNote, 'string');
});
