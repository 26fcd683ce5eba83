/** Export Report writes the tables behind every chart (issue #9.8), the same the webview exports. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { HYPERPARAMS } from '../../src/core/hyperparams';
import { writeReportCsvs } from '../../src/extension/reportFiles';
import { markdownReport } from '../../src/extension/reportFiles';
import { makeStats } from '../browser/fixture';

const rows = (file: string) => fs.readFileSync(file, 'utf8').trimEnd().split('\r\n').map((l) => l.split(','));

test('beside report.md: runs, sparsity, overlap and curves CSVs with exact values', () => {
  const s = makeStats();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pb-report-'));
  try {
    const files = writeReportCsvs(s, path.join(dir, 'piggyback-report.md'));
    assert.deepEqual(files.map((f) => path.basename(f)), ['piggyback-report-runs.csv', 'piggyback-report-sparsity.csv', 'piggyback-report-overlap-jaccard.csv', 'piggyback-report-overlap-hamming.csv', 'piggyback-report-curves.csv']);
    const runs = rows(files[0]);
    for (const h of HYPERPARAMS) assert.ok(runs[0].includes(h.key), h.key);
    assert.equal(runs.length, 1 + 3 + 1, 'three tasks and one baseline');
    assert.equal(runs[1][runs[0].indexOf('seed')], '1');
    assert.equal(runs[2][runs[0].indexOf('method')], 'finetune');
    const sp = rows(files[1]);
    assert.equal(sp.length, 1 + 3 * s.layers.length);
    assert.equal(Number(sp[1 + s.layers.length + 1][6]), s.tasks[1].layerSparsity[1]);
    assert.deepEqual(rows(files[2])[2].slice(1).map(Number), s.overlap.overall.jaccard[1]);
    const curves = rows(files[4]);
    const loss = curves.filter((r) => r[0] === 'loss' && r[2] === 'mnist').map((r) => [Number(r[3]), Number(r[4])]);
    assert.deepEqual(loss, s.tasks[0].stepLoss!.step.map((x, i) => [x, s.tasks[0].stepLoss!.loss[i]]), 'the loss is in the report too');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('the Markdown report lists the options that differ between tasks', () => {
  const md = markdownReport(makeStats());
  assert.match(md, /## Options that differ between tasks\n\n\| task \| seed \|\n\|---\|---\|\n\| mnist \| 1 \|\n\| fashion \| 2 \|\n\| quickdraw \| 3 \|/);
});
