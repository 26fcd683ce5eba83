/**
 * CKA beside Jaccard in the pair view, and the task-inference confusion matrix (issue #10.5,
 * #10.7): each is asked for with a button, the host's reply is drawn with exact values,
 * errors are shown as sent, CSV export.
 */
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import type { SimilarityResult, TaskInferenceResult } from '../../src/core/engine';
import { parseHostMessage, parseWebviewMessage } from '../../src/shared/protocol';
import { LAYERS, TASK_NAMES, makeStats } from './fixture';
import { clearPosted, openPage, send, waitPosted, type Harness } from './harness';
import { shot } from './screenshot';

const stats = makeStats();
const CKA = [0.9876, 0.9512, 0.8, 0.7345, 0.55, 0.4321];
const similarity: SimilarityResult = {
  taskA: 'mnist', taskB: 'fashion', probe: { task: 'mnist', split: 'val', count: 256 }, seconds: 0.84,
  layers: LAYERS.map((l, i) => ({ name: l.name, cka: CKA[i], jaccard: stats.overlap.perLayer[i].jaccard[0][1] })),
};
const inference: TaskInferenceResult = { tasks: TASK_NAMES, confusion: [[90, 7, 3], [12, 80, 8], [0, 1, 99]], accuracy: 269 / 300, imagesPerTask: [100, 100, 100] };

let hx: Harness;
let page: Page;

for (const theme of ['dark', 'light'] as const) {
  describe(`CKA and task inference, ${theme} (Chromium)`, { timeout: 60_000 }, () => {
    before(async () => {
      hx = await openPage({ theme, stats, view: 'overlap' });
      page = hx.page;
      await page.waitForSelector('section[data-view="overlap"] td.cell');
    });
    after(async () => {
      await hx?.close();
    });

    it('the pair view asks for CKA and shows it beside Jaccard, per layer', async () => {
      await page.click('section[data-view="overlap"] td.cell[data-row="0"][data-col="1"]');
      await page.waitForSelector('button[data-action="cka"]');
      await clearPosted(page);
      await page.focus('button[data-action="cka"]');
      await page.keyboard.press('Enter');
      const m = await waitPosted(page, 'analyze');
      assert.deepEqual(parseWebviewMessage(m), m);
      assert.deepEqual(m.request, { kind: 'similarity', taskA: 'mnist', taskB: 'fashion' });
      const reply = { type: 'analysisResult' as const, id: m.id, result: { kind: 'similarity' as const, result: similarity } };
      assert.deepEqual(parseHostMessage(reply), reply);
      await send(page, reply);
      await page.waitForSelector('.pair-table td[data-metric="cka"]');
      const cka = await page.$$eval('.pair-table tbody tr', (rows) => rows.map((r) => r.querySelector('td[data-metric="cka"]')?.getAttribute('data-value')));
      assert.deepEqual(cka, [...CKA.map(String), 'null']);
      assert.equal(await page.textContent('.pair-table tbody tr:nth-child(4) td[data-metric="cka"] > span:last-child'), '0.7345');
      assert.equal(await page.textContent('.pair-table tbody tr:nth-child(4) td[data-metric="jaccard"] > span:last-child'), (stats.overlap.perLayer[3].jaccard[0][1] as number).toFixed(4));
      assert.match((await page.textContent('.cka-status')) ?? '', /on 256 validation images of mnist, in 0\.84 s\.$/);
      await shot(page, `webview-overlap-cka-${theme}`);
      assert.equal(await page.evaluate(() => (document.activeElement as HTMLElement).dataset.action), 'cka', 'focus stays on the button');
      await clearPosted(page);
      await page.click('button[data-export="pair-csv"]');
      const csv = await waitPosted(page, 'export');
      assert.equal(csv.file, 'pair-mnist-fashion.csv');
      const rows = csv.data.trimEnd().split('\r\n');
      assert.equal(rows[0], 'layer,jaccard,hamming,cka');
      assert.equal(rows[1], `conv1,${stats.overlap.perLayer[0].jaccard[0][1]},${stats.overlap.perLayer[0].hamming[0][1]},0.9876`);
      assert.equal(rows.length, LAYERS.length + 2);
    });

    it('a CKA error is shown as sent', async () => {
      await clearPosted(page);
      await page.click('button[data-action="cka"]');
      const m = await waitPosted(page, 'analyze');
      await send(page, { type: 'analysisError', id: m.id, kind: 'similarity', message: "task 'fashion' has no validation split" });
      await page.waitForFunction(() => document.querySelector('.cka-status')?.textContent?.startsWith('task'));
      assert.equal(await page.textContent('.cka-status'), "task 'fashion' has no validation split");
    });

    it('task inference: a true task x picked task matrix with exact counts and CSV', async () => {
      await page.click('#tab-inference');
      await clearPosted(page);
      await page.click('button[data-action="infer"]');
      const m = await waitPosted(page, 'analyze');
      assert.deepEqual(m.request, { kind: 'inference' });
      const reply = { type: 'analysisResult' as const, id: m.id, result: { kind: 'inference' as const, result: inference } };
      assert.deepEqual(parseHostMessage(reply), reply);
      await send(page, reply);
      await page.waitForSelector('section[data-view="inference"] td.cell');
      await shot(page, `webview-inference-${theme}`);
      assert.equal(await page.textContent('section[data-view="inference"] td.cell[data-row="1"][data-col="0"]'), '12');
      await page.hover('section[data-view="inference"] td.cell[data-row="1"][data-col="0"]');
      assert.equal(await page.textContent('section[data-view="inference"] .tooltip'), 'fashion test images picked as mnist: 12 of 100 (12.0%)');
      assert.match((await page.textContent('.inference-status')) ?? '', /^The most confident network was the images’ own task for 89\.67% of 300 test images \(chance: 33\.3%\)\.$/);
      await clearPosted(page);
      await page.click('section[data-view="inference"] button[data-export="csv"]');
      const csv = await waitPosted(page, 'export');
      assert.equal(csv.data, 'images of \\ picked,mnist,fashion,quickdraw\r\nmnist,90,7,3\r\nfashion,12,80,8\r\nquickdraw,0,1,99\r\n');
      assert.deepEqual(hx.consoleErrors, []);
    });
  });
}
