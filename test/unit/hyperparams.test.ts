/**
 * One hyperparameter spec (issue #9.4): package.json's settings, the CLI flags, the quick-pick
 * editor and the engine all follow src/core/hyperparams.ts, and out-of-range values are
 * refused by it wherever they come from.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { HYPERPARAMS, hyperProblem, resolveTrainOptions, settingSchema } from '../../src/core/hyperparams';
import { DEFAULT_TRAIN_OPTIONS } from '../../src/core/types';
import { PiggybackError } from '../../src/core/errors';
import { buildProgram } from '../../src/cli/main';
import { hyperRows, parseHyperInput } from '../../src/extension/hyperModel';
import * as engine from '../../src/core/engine';
import { newProject } from '../helpers/storeFixtures';

const root = path.resolve(__dirname, '../..');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const props: Record<string, Record<string, unknown>> = pkg.contributes.configuration.properties;

test("package.json's piggyback.* settings are exactly the table's (run scripts/sync-settings.ts after changing it)", () => {
  for (const s of HYPERPARAMS) {
    const key = `piggyback.${s.key}`;
    if (s.setting) assert.deepEqual(props[key], settingSchema(s), `${key} differs from the table`);
    else assert.equal(props[key], undefined, `${key} must not be a setting (the project owns it)`);
  }
  const known = new Set([...HYPERPARAMS.filter((s) => s.setting).map((s) => `piggyback.${s.key}`), 'piggyback.backend', 'piggyback.projectPath', 'piggyback.showDebugCommands']);
  assert.deepEqual(Object.keys(props).filter((k) => !known.has(k)), [], 'settings the table does not know');
  assert.equal(props['piggyback.threshold'], undefined, 'the threshold has one owner: the project');
});

test('the engine defaults are the table defaults, which are the paper\'s', () => {
  for (const s of HYPERPARAMS) if (s.key in DEFAULT_TRAIN_OPTIONS) assert.equal(DEFAULT_TRAIN_OPTIONS[s.key as keyof typeof DEFAULT_TRAIN_OPTIONS], s.default, s.key);
  assert.deepEqual(
    { epochs: 30, batchSize: 32, lrMask: 1e-4, lrHead: 1e-4, lrDecayEvery: 15, lrDecayFactor: 0.1, maskKind: 'binary', bnMode: 'frozen', threshold: 5e-3, maskScale: 1e-2, seed: 1, augment: 'none' },
    DEFAULT_TRAIN_OPTIONS,
  );
});

test('the CLI has one flag per table entry, its help and default from the table; the threshold only on init', () => {
  const program = buildProgram();
  const cmd = (n: string) => program.commands.find((c) => c.name() === n)!;
  const train = cmd('train');
  for (const s of HYPERPARAMS) {
    const opt = train.options.find((o) => o.long === `--${s.flag}`);
    if (s.key === 'threshold') {
      assert.equal(opt, undefined, 'no --threshold on train');
      assert.ok(cmd('init').options.find((o) => o.long === '--threshold')?.description.startsWith(s.doc.replace(/\.$/, '')));
      continue;
    }
    assert.ok(opt, `train --${s.flag}`);
    assert.ok(opt.description.startsWith(s.doc.replace(/\.$/, '')), `--${s.flag} help is the doc line`);
    if (s.default !== null) assert.match(opt.description, new RegExp(`\\(default ${String(s.default).replace('.', '\\.')}\\)`));
    if (s.choices) assert.deepEqual(opt.argChoices, s.choices);
  }
});

test('one range check: 1e308 epochs, zero or negative decay, thresholds outside [0, mask scale) are refused', () => {
  assert.match(hyperProblem('epochs', 1e308) ?? '', /^epochs must be a whole number from 1 to 10000, got 1e\+308$/);
  assert.match(hyperProblem('lrDecayFactor', 0) ?? '', /lrDecayFactor must be a number in \(0, 1\]/);
  assert.ok(hyperProblem('lrDecayFactor', -0.5));
  assert.ok(hyperProblem('lrDecayFactor', 2));
  assert.ok(hyperProblem('threshold', -1e-3));
  assert.ok(hyperProblem('seed', 1.5));
  assert.ok(hyperProblem('trainPerClass', 0));
  assert.equal(hyperProblem('trainPerClass', undefined), null, 'caps are optional');
  assert.ok(hyperProblem('maskKind', 'quaternary'));
  const bad = (partial: object, threshold = 5e-3) => {
    try {
      resolveTrainOptions(partial, threshold);
    } catch (e) {
      assert.ok(e instanceof PiggybackError && e.code === 'BAD_ARGUMENT', String(e));
      assert.ok(!e.oneLine().includes('\n'), 'one line');
      return e.message;
    }
    assert.fail(`accepted ${JSON.stringify(partial)}`);
  };
  assert.match(bad({ epochs: 1e308 }), /epochs/);
  assert.match(bad({ lrDecayFactor: 0 }), /lrDecayFactor/);
  assert.match(bad({ lrDecayFactor: -0.1 }), /lrDecayFactor/);
  assert.match(bad({ maskScale: 5e-3 }), /mask scale 0\.005 must be above the threshold 0\.005/);
  assert.match(bad({}, -1e-3), /threshold must be a number in \[0, 1\)/, "a project's negative threshold would not restore");
  assert.match(bad({ threshold: 1e-3 }), /differs from the project's/);
  assert.deepEqual(resolveTrainOptions({ threshold: 5e-3, epochs: 3 }, 5e-3), { ...DEFAULT_TRAIN_OPTIONS, epochs: 3 });
  assert.equal(resolveTrainOptions({}, 2e-3).threshold, 2e-3, "the project's threshold is used");
});

test('trainTask and createProject refuse out-of-range values before any work', async () => {
  const dir = newProject();
  const rejects = (p: Promise<unknown>, re: RegExp) => assert.rejects(p, (e: unknown) => e instanceof PiggybackError && e.code === 'BAD_ARGUMENT' && re.test(e.message));
  await rejects(engine.trainTask({ projectDir: dir, task: 'a', dataset: 'mnist', options: { epochs: 1e308 } }), /epochs/);
  await rejects(engine.trainTask({ projectDir: dir, task: 'a', dataset: 'mnist', options: { lrDecayFactor: 0 } }), /lrDecayFactor/);
  await rejects(engine.trainTask({ projectDir: dir, task: 'a', dataset: 'mnist', trainPerClass: 0 }), /trainPerClass/);
  await rejects(engine.trainTask({ projectDir: dir, task: 'a', dataset: 'mnist', valFraction: 0.9 }), /valFraction/);
  await rejects(engine.createProject({ projectDir: path.join(dir, '..', 'p2'), threshold: -0.001 }), /threshold/);
  assert.deepEqual(fs.readdirSync(path.join(dir, 'tasks')), [], 'nothing written');
});

test('the CLI says so in one line: train --epochs 1e308, init --threshold -0.001', () => {
  const cli = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', path.join(root, 'src/cli/main.ts'), ...args], { encoding: 'utf8', cwd: root, timeout: 60_000 });
  const dir = newProject();
  const r = cli('train', dir, '--task', 'a', '--dataset', 'mnist', '--epochs', '1e308');
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /epochs must be a whole number from 1 to 10000, got 1e\+308/);
  const r2 = cli('init', path.join(dir, '..', 'p3'), '--threshold', '-0.001');
  assert.notEqual(r2.status, 0);
  assert.match(r2.stderr, /threshold must be a number in \[0, 1\), got -0\.001/);
  assert.equal(fs.existsSync(path.join(dir, '..', 'p3')), false);
});

test('the quick-pick editor checks typed values with the table and shows the project\'s threshold read-only', () => {
  assert.deepEqual(parseHyperInput('epochs', ' 12 '), { value: 12 });
  assert.match((parseHyperInput('epochs', '1e308') as { error: string }).error, /from 1 to 10000/);
  assert.match((parseHyperInput('lrDecayFactor', '0') as { error: string }).error, /\(0, 1\]/);
  assert.deepEqual(parseHyperInput('trainPerClass', ''), { value: undefined });
  assert.ok('error' in parseHyperInput('epochs', ''));
  const { threshold: _t, ...options } = DEFAULT_TRAIN_OPTIONS;
  const rows = hyperRows({ options, valFraction: 0.1, trainPerClass: 50 }, 2e-3);
  assert.deepEqual(rows.map((r) => r.key), HYPERPARAMS.map((s) => s.key));
  const th = rows.find((r) => r.key === 'threshold')!;
  assert.equal(th.editable, false);
  assert.equal(th.label, 'threshold = 0.002');
  assert.equal(rows.find((r) => r.key === 'trainPerClass')!.label, 'trainPerClass = 50');
  assert.equal(rows.find((r) => r.key === 'testLimit')!.label, 'testLimit = all');
  assert.equal(rows.find((r) => r.key === 'lrHead')!.description, HYPERPARAMS.find((s) => s.key === 'lrHead')!.doc);
});
