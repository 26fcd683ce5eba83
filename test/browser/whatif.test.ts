/**
 * Threshold what-if (issue #10.1): the slider sends one debounced 'rethreshold' request, the
 * reply is drawn (probe accuracy, sparsity, bits per weight, per layer), a reply to an older
 * move is dropped, a sweep draws the accuracy-vs-sparsity curve, the engine's missing-scores
 * line is shown as is, "Save as task…" hands the threshold to the host, CSV export.
 */
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import type { RethresholdPoint, RethresholdResult } from '../../src/core/engine';
import { parseHostMessage, parseWebviewMessage, type AnalyzeMessage, type WhatIfRequest } from '../../src/shared/protocol';
import { LAYERS, makeStats } from './fixture';
import { clearPosted, openPage, posted, send, waitPosted, type Harness } from './harness';
import { shot } from './screenshot';

const stats = makeStats();
const { threshold: TRAINED, maskScale: SCALE } = stats.tasks[0].options;

/** Sparsity grows with the threshold, accuracy falls a little. */
function point(t: number): RethresholdPoint {
  const f = t / SCALE;
  return { threshold: t, layerSparsity: LAYERS.map((_, i) => Number((f * (0.5 + 0.05 * i)).toFixed(4))), sparsity: Number((0.6 * f).toFixed(4)), bitsPerMaskedWeight: Number((1 - 0.3 * f).toFixed(4)), probeAccuracy: Number((0.95 - 0.2 * f * f).toFixed(4)) };
}
/** The slider's threshold at position i of 200 (webview/whatIf.ts thresholdAt). */
const thresholdAt = (scale: number, i: number) => Number(((scale * i) / 200).toPrecision(6));
const result = (ts: number[]): RethresholdResult => ({ task: 'mnist', trainedThreshold: TRAINED, probe: { split: 'val', count: 512 }, scoresBytes: 70123, points: ts.map(point), savedAs: null });

let hx: Harness;
let page: Page;

async function analyzeMessages(): Promise<AnalyzeMessage[]> {
  return (await posted(page)).filter((m): m is AnalyzeMessage => m.type === 'analyze');
}

async function reply(m: AnalyzeMessage, r: RethresholdResult): Promise<void> {
  const msg = { type: 'analysisResult' as const, id: m.id, result: { kind: 'rethreshold' as const, result: r } };
  assert.deepEqual(parseHostMessage(msg), msg);
  await send(page, msg);
}

const stat = (k: string) => page.textContent(`.whatif-summary [data-stat="${k}"] strong`);

for (const theme of ['dark', 'light'] as const) {
  describe(`threshold what-if, ${theme} (Chromium)`, { timeout: 60_000 }, () => {
    before(async () => {
      hx = await openPage({ theme, stats, view: 'whatif' });
      page = hx.page;
      await page.waitForSelector('#whatif-threshold');
    });
    after(async () => {
      await hx?.close();
    });

    it('starts at the trained threshold; three key presses send one debounced request', async () => {
      assert.equal(await page.inputValue('#whatif-threshold'), String(Math.round((TRAINED / SCALE) * 200)));
      assert.match((await page.textContent('.whatif-readout')) ?? '', /\(trained\)$/);
      assert.equal(await page.isDisabled('button[data-action="save-threshold"]'), true);
      await clearPosted(page);
      await page.focus('#whatif-threshold');
      for (let i = 0; i < 3; i++) await page.keyboard.press('ArrowRight');
      const m = await waitPosted(page, 'analyze');
      assert.deepEqual(parseWebviewMessage(m), m);
      const want = thresholdAt(SCALE, 103);
      assert.deepEqual(m.request, { kind: 'rethreshold', task: 'mnist', thresholds: [want] });
      await new Promise((r) => setTimeout(r, 300));
      assert.equal((await analyzeMessages()).length, 1, 'debounced: one request for the three moves');
      await reply(m, result([want]));
      await page.waitForSelector('.whatif-summary [data-stat="accuracy"]');
      assert.equal(await stat('accuracy'), `${(point(want).probeAccuracy * 100).toFixed(2)}%`);
      assert.equal(await stat('sparsity'), `${(point(want).sparsity * 100).toFixed(2)}%`);
      assert.equal(await stat('bits'), point(want).bitsPerMaskedWeight.toFixed(3));
      const layerRows = await page.$$eval('table[data-table="whatif-layers"] tbody tr', (rows) => rows.map((r) => Array.from(r.children, (c) => c.textContent)));
      assert.equal(layerRows.length, LAYERS.length);
      assert.deepEqual(layerRows[1].slice(0, 3), ['conv2', '4.32%', `${(point(want).layerSparsity[1] * 100).toFixed(2)}%`]);
      assert.match((await page.textContent('.whatif-status')) ?? '', /^Probe: 512 validation images; scores\.bin 70,123 bytes/);
    });

    it('a reply to an older move is dropped; the newest one is drawn', async () => {
      await clearPosted(page);
      await page.keyboard.press('ArrowRight');
      const older = await waitPosted(page, 'analyze');
      await clearPosted(page);
      await page.keyboard.press('ArrowRight');
      const newer = await waitPosted(page, 'analyze');
      assert.ok(newer.id > older.id);
      await reply(newer, result((newer.request as WhatIfRequest).thresholds));
      await reply(older, { ...result((older.request as WhatIfRequest).thresholds), points: [{ ...point(0), threshold: (older.request as WhatIfRequest).thresholds[0], probeAccuracy: 0.1234 }] });
      await page.evaluate(() => new Promise((r) => requestAnimationFrame(r)));
      assert.equal(await stat('threshold'), String(Number(thresholdAt(SCALE, 105).toPrecision(4))));
      assert.equal(await stat('accuracy'), `${(point(thresholdAt(SCALE, 105)).probeAccuracy * 100).toFixed(2)}%`);
    });

    it('"Save as task…" hands the shown threshold to the host', async () => {
      await clearPosted(page);
      await page.click('button[data-action="save-threshold"]');
      const m = await waitPosted(page, 'saveThreshold');
      assert.deepEqual(m, { type: 'saveThreshold', task: 'mnist', threshold: thresholdAt(SCALE, 105) });
      assert.deepEqual(parseWebviewMessage(m), m);
    });

    it('a sweep draws the accuracy-vs-sparsity curve with exact values; CSV export', async () => {
      await clearPosted(page);
      await page.click('button[data-action="sweep"]');
      const m = await waitPosted(page, 'analyze');
      const ts = (m.request as WhatIfRequest).thresholds;
      assert.equal(ts.length, 11, 'the slider threshold, then 9 between 0 and the scale, and the trained one');
      assert.equal(ts[0], thresholdAt(SCALE, 105));
      assert.ok(ts.includes(TRAINED));
      await reply(m, result(ts));
      await page.waitForFunction(() => document.querySelectorAll('table[data-table="whatif-points"] tbody tr').length >= 12);
      await shot(page, `webview-whatif-${theme}`);
      const rows = await page.$$eval('table[data-table="whatif-points"] tbody tr', (r) => r.length);
      assert.equal(rows, 12, 'every threshold answered: two slider moves and the sweep, one shared (the dropped reply is not among them)');
      const box = (await page.$('canvas.whatif-curve'))!;
      const b = (await box.boundingBox())!;
      await page.mouse.move(b.x + b.width * 0.5, b.y + b.height * 0.5);
      await page.waitForFunction(() => (document.querySelector('canvas.whatif-curve') as HTMLElement).dataset.tooltip);
      assert.match((await box.getAttribute('data-tooltip')) ?? '', /^threshold [\d.e-]+: [\d.]+% off, probe accuracy [\d.]+%, [\d.]+ bits\/weight$/);
      await clearPosted(page);
      await page.click('section[data-view="whatif"] button[data-export="csv"]');
      const csv = await waitPosted(page, 'export');
      assert.equal(csv.file, 'threshold-whatif-mnist.csv');
      const lines = csv.data.trimEnd().split('\r\n');
      assert.equal(lines[0], `threshold,sparsity,probe accuracy,bits per masked weight,${LAYERS.map((l) => `${l.name} sparsity`).join(',')}`);
      const p0 = point(0);
      assert.equal(lines[1], [0, p0.sparsity, p0.probeAccuracy, p0.bitsPerMaskedWeight, ...p0.layerSparsity].join(','));
      assert.equal(lines.length, 13);
      await clearPosted(page);
      await page.click('section[data-view="whatif"] button[data-export="png"]');
      assert.ok((await waitPosted(page, 'export')).data.startsWith('iVBOR'));
    });

    it("the engine's missing-scores line is shown as is", async () => {
      await clearPosted(page);
      await page.selectOption('#whatif-task', 'fashion');
      await page.focus('#whatif-threshold');
      await page.keyboard.press('ArrowLeft');
      const m = await waitPosted(page, 'analyze');
      assert.equal((m.request as WhatIfRequest).task, 'fashion');
      const line = "scores were not stored for task 'fashion' (trained before scores were kept, or storage is turned off for this project) (retrain the task to re-threshold it)";
      await send(page, { type: 'analysisError', id: m.id, kind: 'rethreshold', message: line });
      await page.waitForFunction(() => document.querySelector('.whatif-status')?.textContent?.startsWith('scores were not stored'));
      assert.equal(await page.textContent('.whatif-status'), line);
      assert.equal(await page.isDisabled('button[data-action="save-threshold"]'), true);
      assert.deepEqual(hx.consoleErrors, []);
    });
  });
}
