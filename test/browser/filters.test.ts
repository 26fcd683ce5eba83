/**
 * Filter-level drill-down (issue #10.3): Enter or a click on a heatmap cell asks the host for
 * that layer's filters; the reply is drawn (filters x tasks with dead filters, the diff of two
 * tasks, kernel positions as small multiples), exported as CSV; stale replies are dropped.
 */
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import type { LayerFilterReport } from '../../src/core/project/filters';
import { parseHostMessage, parseWebviewMessage, type AnalyzeMessage } from '../../src/shared/protocol';
import { LAYERS, makeStats } from './fixture';
import { clearPosted, openPage, send, waitPosted, type Harness } from './harness';
import { shot } from './screenshot';

const F = 32;
const PER = 144; // conv2 is 3x3x16x32: 144 weights per filter, 16 per kernel position

/** conv2's report: mnist keeps f % 9 * 16 weights of filter f (filters 0, 9, 18, 27 dead). */
function report(): LayerFilterReport {
  const kept = (t: number) => Array.from({ length: F }, (_, f) => (t === 0 ? (f % 9) * 16 : PER - f));
  const tasks = ['mnist', 'fashion', 'quickdraw'].map((task, t) => {
    const k = kept(t);
    return { task, kept: k, fraction: k.map((x) => x / PER), dead: k.flatMap((x, f) => (x === 0 ? [f] : [])) };
  });
  const both = kept(0).map((a, f) => Math.min(a, kept(1)[f]));
  const aOnly = kept(0).map((a, f) => a - both[f]);
  const bOnly = kept(1).map((b, f) => b - both[f]);
  return {
    layer: LAYERS[1], filters: F, weightsPerFilter: PER, kernel: [3, 3], tasks, skipped: [],
    diff: { a: 'mnist', b: 'fashion', both, aOnly, bOnly, neither: both.map((x, f) => PER - x - aOnly[f] - bOnly[f]) },
    positions: { task: 'mnist', perPosition: 16, kept: kept(0).map((k) => Array.from({ length: 9 }, (_, i) => (i < k / 16 ? 16 : 0))) },
  };
}

let hx: Harness;
let page: Page;

async function nextAnalyze(): Promise<AnalyzeMessage> {
  const m = await waitPosted(page, 'analyze');
  assert.deepEqual(parseWebviewMessage(m), m, 'the host parser accepts it');
  return m;
}

for (const theme of ['dark', 'light'] as const) {
  describe(`filter drill-down, ${theme} (Chromium)`, { timeout: 60_000 }, () => {
    before(async () => {
      hx = await openPage({ theme, stats: makeStats(), view: 'heatmap' });
      page = hx.page;
      await page.waitForSelector('section[data-view="heatmap"] td.cell');
    });
    after(async () => {
      await hx?.close();
    });

    it('Enter on a heatmap cell asks for that layer with the task preselected', async () => {
      await page.click('td.cell[data-row="0"][data-col="0"]');
      const first = await nextAnalyze();
      assert.deepEqual(first.request, { kind: 'filters', layer: 'conv1', diff: ['mnist', 'fashion'], positionsOf: 'mnist' });
      await clearPosted(page);
      await page.keyboard.press('ArrowRight');
      await page.keyboard.press('Enter');
      const m = await nextAnalyze();
      assert.deepEqual(m.request, { kind: 'filters', layer: 'conv2', diff: ['mnist', 'fashion'], positionsOf: 'mnist' });
      assert.ok(m.id > first.id);
      // The answer to the older request arrives late: dropped, nothing drawn from it.
      await send(page, { type: 'analysisResult', id: first.id, result: { kind: 'filters', report: { ...report(), layer: LAYERS[0] } } });
      assert.equal(await page.$$eval('section[data-view="filters"] td.cell', (c) => c.length), 0);
      assert.equal(await page.isVisible('section[data-view="filters"]'), true);
      assert.equal(await page.textContent('#drill-title'), 'Layer conv2 (conv2d, 3×3×16×32)');
      const reply = { type: 'analysisResult' as const, id: m.id, result: { kind: 'filters' as const, report: report() } };
      assert.deepEqual(parseHostMessage(reply), reply);
      await send(page, reply);
      await page.waitForSelector('section[data-view="filters"] td.cell');
      // Focus stayed on the heatmap cell.
      assert.equal(await page.evaluate(() => (document.activeElement as HTMLElement).dataset.col), '1');
    });

    it('filters x tasks with the exact fraction, dead filters marked and said', async () => {
      const grid = 'section[data-view="filters"] table[aria-label^="Fraction kept"]';
      assert.equal(await page.$$eval(`${grid} td.cell`, (c) => c.length), F * 3);
      assert.equal(await page.textContent(`${grid} td.cell[data-row="9"][data-col="0"]`), 'dead');
      assert.equal(await page.getAttribute(`${grid} td.cell[data-row="5"][data-col="0"]`, 'data-value'), String(80 / PER));
      await page.hover(`${grid} td.cell[data-row="5"][data-col="0"]`);
      assert.equal(await page.textContent('.matrix-wrap:has(table[aria-label^="Fraction kept"]) .tooltip'), 'filter 5, mnist: 80 of 144 weights kept (55.56%)');
      await page.hover(`${grid} td.cell[data-row="18"][data-col="0"]`);
      assert.equal(await page.textContent('.matrix-wrap:has(table[aria-label^="Fraction kept"]) .tooltip'), 'filter 18, mnist: 0 of 144 weights kept (0.00%), dead: no weight kept');
      assert.match((await page.textContent('.drill-status')) ?? '', /Dead filters \(no weight kept, the output is the bias alone\): mnist 4 \(0, 9, 18, 27\); fashion 0; quickdraw 0\./);
      await shot(page, `webview-filters-${theme}`);
    });

    it('the diff of two tasks and the kernel positions; another pair asks again', async () => {
      const diff = 'section[data-view="filters"] table[aria-label^="Filter-level diff"]';
      assert.deepEqual(await page.$$eval(`${diff} th.colhead`, (t) => t.map((x) => x.textContent)), ['both', 'mnist only', 'fashion only']);
      await page.hover(`${diff} td.cell[data-row="5"][data-col="1"]`);
      assert.equal(await page.textContent('.matrix-wrap:has(table[aria-label^="Filter-level diff"]) .tooltip'), 'filter 5: kept by both 80, by mnist only 0, by fashion only 59, by neither 5 (of 144)');
      assert.equal(await page.$$eval('.kernel-multiples figure.kfig', (f) => f.length), F);
      assert.equal(await page.getAttribute('figure.kfig[data-filter="2"]', 'aria-label'), 'filter 2, mnist: kept per kernel position (0,0) 16/16, (0,1) 16/16, (0,2) 0/16, (1,0) 0/16, (1,1) 0/16, (1,2) 0/16, (2,0) 0/16, (2,1) 0/16, (2,2) 0/16');
      assert.equal(await page.$eval('figure.kfig[data-filter="2"]', (f) => f.tabIndex), 0, 'each small multiple is reachable by Tab');
      await clearPosted(page);
      await page.selectOption('#filters-diff-b', 'quickdraw');
      assert.deepEqual((await nextAnalyze()).request, { kind: 'filters', layer: 'conv2', diff: ['mnist', 'quickdraw'], positionsOf: 'mnist' });
    });

    it('an error is shown as the host sent it', async () => {
      await clearPosted(page);
      await page.selectOption('#filters-diff-b', 'fashion');
      const m = await nextAnalyze();
      await send(page, { type: 'analysisError', id: m.id, kind: 'filters', message: 'task "fashion" is damaged: mask.bin checksum mismatch' });
      await page.waitForFunction(() => document.querySelector('.drill-status')?.textContent?.startsWith('task "fashion"'));
      assert.equal(await page.textContent('.drill-status'), 'task "fashion" is damaged: mask.bin checksum mismatch');
    });

    it('exports filters x tasks, the diff and the kernel positions as CSV', async () => {
      await clearPosted(page);
      await page.selectOption('#filters-diff-b', 'quickdraw');
      const m = await nextAnalyze();
      await send(page, { type: 'analysisResult', id: m.id, result: { kind: 'filters', report: report() } });
      await page.waitForSelector('section[data-view="filters"] td.cell');
      await clearPosted(page);
      await page.click('section[data-view="filters"] button[data-export="csv"]');
      const csv = await waitPosted(page, 'export');
      assert.equal(csv.file, 'filters-conv2.csv');
      const rows = csv.data.trimEnd().split('\r\n').map((l) => l.split(','));
      assert.equal(rows.length, F + 1);
      assert.deepEqual(rows[0].slice(0, 11), ['filter', 'mnist kept', 'fashion kept', 'quickdraw kept', 'mnist dead', 'fashion dead', 'quickdraw dead', 'both', 'mnist only', 'fashion only', 'neither']);
      assert.equal(rows[0][11], 'mnist kept at y0 x0');
      assert.deepEqual(rows[10].slice(0, 11), ['9', '0', '135', '135', '1', '0', '0', '0', '0', '135', '9']);
      assert.deepEqual(hx.consoleErrors, []);
    });
  });
}
