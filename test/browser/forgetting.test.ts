/**
 * Forgetting matrix view (issue #10.2): the stored diagonal at once, "Re-evaluate" asks the
 * host, the reply fills the matrix with the baselines beside it and the view says "zero
 * forgetting" only when every re-evaluation equals its diagonal; CSV export.
 */
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import type { ForgettingMatrixResult } from '../../src/core/engine';
import { parseHostMessage, parseWebviewMessage } from '../../src/shared/protocol';
import { TASK_NAMES, makeStats } from './fixture';
import { clearPosted, openPage, posted, send, waitPosted, type Harness } from './harness';
import { shot } from './screenshot';

const ACC = [0, 1, 2].map((t) => 0.9 + 0.02 * t); // the fixture's testAccuracy per task

function matrix(reevaluated: number[]): ForgettingMatrixResult {
  const accuracy = ACC.map((_, i) => ACC.map((__, k) => (k < i ? null : k === i ? ACC[i] : reevaluated[i])));
  const forgetting = ACC.map((a, i) => (i === ACC.length - 1 ? null : a - reevaluated[i]));
  const known = forgetting.filter((f): f is number => f !== null);
  return {
    tasks: TASK_NAMES, accuracy, trainedAccuracy: ACC, reevaluated,
    baselines: [{ classifier: 0.514, finetune: 0.991 }, { classifier: null, finetune: null }, { classifier: 0.6, finetune: null }],
    damaged: [], zeroForgetting: reevaluated.every((r, i) => r === ACC[i]),
    forgetting, bwt: -known.reduce((a, b) => a + b, 0) / known.length, meanForgetting: known.reduce((a, b) => a + b, 0) / known.length, backend: 'wasm',
  };
}

let hx: Harness;
let page: Page;
const cell = (r: number, c: number) => `section[data-view="forgetting"] td.cell[data-row="${r}"][data-col="${c}"]`;

async function reevaluate(m: ForgettingMatrixResult): Promise<void> {
  await clearPosted(page);
  await page.click('section[data-view="forgetting"] button[data-action="reevaluate"]');
  const req = await waitPosted(page, 'analyze');
  assert.deepEqual(parseWebviewMessage(req), req);
  assert.deepEqual(req.request, { kind: 'forgetting' });
  assert.equal(await page.getAttribute('button[data-action="reevaluate"]', 'aria-busy'), 'true', 'busy while it runs');
  // One run at a time: a second press while busy sends nothing.
  await page.click('section[data-view="forgetting"] button[data-action="reevaluate"]');
  assert.equal((await posted(page)).filter((x) => x.type === 'analyze').length, 1);
  const reply = { type: 'analysisResult' as const, id: req.id, result: { kind: 'forgetting' as const, matrix: m } };
  assert.deepEqual(parseHostMessage(reply), reply);
  await send(page, reply);
  await page.waitForFunction(() => !document.querySelector('button[data-action="reevaluate"]')?.hasAttribute('aria-busy'));
}

for (const theme of ['dark', 'light'] as const) {
  describe(`forgetting matrix view, ${theme} (Chromium)`, { timeout: 60_000 }, () => {
    before(async () => {
      hx = await openPage({ theme, stats: makeStats(), view: 'forgetting' });
      page = hx.page;
      await page.waitForSelector('section[data-view="forgetting"] td.cell');
    });
    after(async () => {
      await hx?.close();
    });

    it('shows the stored diagonal immediately, the rest waiting for a re-evaluation', async () => {
      assert.equal(await page.getAttribute(cell(1, 1), 'data-value'), String(ACC[1]));
      assert.equal(await page.getAttribute(cell(0, 2), 'data-value'), 'null');
      await page.hover(cell(0, 2));
      assert.equal(await page.textContent('section[data-view="forgetting"] .tooltip'), 'mnist after quickdraw: not re-evaluated yet (Re-evaluate every task)');
      const base = await page.$$eval('table[data-table="forgetting-baselines"] tbody tr', (rows) => rows.map((r) => Array.from(r.children, (c) => c.textContent)));
      assert.deepEqual(base[0], ['mnist', '90.00%', '–', '99.10%']);
    });

    it('re-evaluation fills the matrix and says zero forgetting when every row equals its diagonal', async () => {
      await reevaluate(matrix(ACC));
      assert.equal(await page.getAttribute(cell(0, 2), 'data-value'), '0.9');
      await page.click(cell(0, 0));
      await page.keyboard.press('ArrowRight');
      assert.equal(await page.textContent('#live-region'), 'mnist after fashion: 90.00% test accuracy (re-evaluated from the stored files)');
      assert.match((await page.textContent('.forgetting-status')) ?? '', /^Zero forgetting: every task re-evaluates to exactly the accuracy it had when it was trained \(all 3 rows equal their diagonal; BWT 0\.00 pts\)/);
      const base = await page.$$eval('table[data-table="forgetting-baselines"] tbody tr', (rows) => rows.map((r) => Array.from(r.children, (c) => c.textContent)));
      assert.deepEqual(base[0], ['mnist', '90.00%', '51.40%', '99.10%']);
      await shot(page, `webview-forgetting-${theme}`);
      await clearPosted(page);
      await page.click('section[data-view="forgetting"] button[data-export="csv"]');
      const csv = await waitPosted(page, 'export');
      assert.equal(csv.file, 'forgetting-matrix.csv');
      const rows = csv.data.trimEnd().split('\r\n');
      assert.deepEqual(rows.slice(0, 4), ['task,after mnist,after fashion,after quickdraw,classifier-only,fine-tune', 'mnist,0.9,0.9,0.9,0.514,0.991', 'fashion,,0.92,0.92,,', `quickdraw,,,${ACC[2]},0.6,`]);
      assert.match(rows[4], /^"?Zero forgetting/);
    });

    it('a re-evaluation that differs is not called zero forgetting', async () => {
      await reevaluate(matrix([0.9, 0.9175, 0.94]));
      assert.match((await page.textContent('.forgetting-status')) ?? '', /^Not exactly zero forgetting: fashion 92\.00% → 91\.75%/);
      assert.deepEqual(hx.consoleErrors, []);
    });

    it('an engine error is shown as sent', async () => {
      await clearPosted(page);
      await page.click('button[data-action="reevaluate"]');
      const req = await waitPosted(page, 'analyze');
      await send(page, { type: 'analysisError', id: req.id, kind: 'forgetting', message: 'another Piggyback job is running (training "svhn")' });
      await page.waitForFunction(() => document.querySelector('.forgetting-status')?.textContent?.startsWith('another'));
      assert.equal(await page.getAttribute('button[data-action="reevaluate"]', 'aria-busy'), null);
    });
  });
}
