/**
 * `piggyback reproduce --quick` as CI runs it: the committed vgg6 backbone and nsfwjs'
 * MobileNetV2, every stage on tiny subsets; a progress line names backbone, task, method and
 * epoch with an ETA; the no-forgetting check passes; the committed docs/ are not touched.
 * Also: an unknown --arch is one clear line, and --render redraws from the JSON alone.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { assertOneLineError, cli } from '../helpers/cli';

const docs = path.resolve(__dirname, '..', '..', 'docs');
const snapshot = () => (fs.existsSync(docs) ? fs.readdirSync(docs).map((f) => [f, fs.statSync(path.join(docs, f)).mtimeMs]) : []);

test('reproduce --quick: both backbones, progress with ETA, no forgetting, docs/ untouched; --render from the JSON', async () => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'pb-repro-cli-'));
  const before = snapshot();
  const r = cli('reproduce', '--quick', '--work', work, '--json');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /\[vgg6\] \S+ · piggyback · epoch 1\/2.* · ETA /);
  assert.match(r.stderr, /\[mobilenetv2\] quickdraw-a · finetune · epoch/);
  const rs = JSON.parse(r.stdout) as Array<{ arch: string; forgetting: { passed: boolean } }>;
  assert.deepEqual(rs.map((x) => x.arch), ['vgg6', 'mobilenetv2']);
  assert.ok(rs.every((x) => x.forgetting.passed));
  for (const f of ['results/vgg6.json', 'results/mobilenetv2.json', 'results.md', 'results.csv']) assert.ok(fs.existsSync(path.join(work, f)), f);
  assert.deepEqual(snapshot(), before, 'a quick run must not replace the committed results');

  const csv = fs.readFileSync(path.join(work, 'results.csv'), 'utf8');
  fs.rmSync(path.join(work, 'results.csv'));
  const again = cli('reproduce', '--render', '--out', work);
  assert.equal(again.code, 0, again.stderr);
  assert.equal(fs.readFileSync(path.join(work, 'results.csv'), 'utf8'), csv);
});

test('reproduce --arch with an unknown backbone: one line naming the choices, nothing run', () => {
  assertOneLineError(cli('reproduce', '--quick', '--arch', 'vgg16', '--work', fs.mkdtempSync(path.join(os.tmpdir(), 'pb-repro-bad-'))), /unknown --arch vgg16.*choose from vgg6, mobilenetv2/);
});
