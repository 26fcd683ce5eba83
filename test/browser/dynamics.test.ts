/**
 * Mask dynamics view (issue #10.4): layer x epoch heatmap of bits flipped from the task
 * history in the state, "settled after epoch N" per layer, exact tooltips, keyboard, export.
 */
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { parseWebviewMessage, type ExportMessage } from '../../src/shared/protocol';
import type { ProjectStats } from '../../src/core/types';
import { LAYERS, makeStats } from './fixture';
import { clearPosted, openPage, send, setTheme, waitPosted, type Harness } from './harness';
import { shot } from './screenshot';

/** [layer][epoch] flips of task 0 (3 epochs). conv1 settles after epoch 1, fc5 never does. */
const FLIPS = [
  [200, 2, 1],
  [3000, 400, 10],
  [100, 50, 0],
  [900, 20, 19],
  [60000, 20000, 5000],
  [700, 100, 0],
];

function statsWithFlips(): ProjectStats {
  const s = makeStats();
  s.tasks[0].history = s.tasks[0].history.map((h, e) => ({ ...h, layerBitsFlipped: FLIPS.map((l) => l[e]) }));
  return s;
}

let hx: Harness;
let page: Page;

async function exportCsv(): Promise<ExportMessage> {
  await clearPosted(page);
  await page.click('section[data-view="dynamics"] button[data-export="csv"]');
  const msg = await waitPosted(page, 'export');
  assert.deepEqual(parseWebviewMessage(msg), msg);
  return msg;
}

for (const theme of ['dark', 'light'] as const) {
  describe(`mask dynamics view, ${theme} (Chromium)`, { timeout: 60_000 }, () => {
    before(async () => {
      hx = await openPage({ theme, stats: statsWithFlips(), view: 'dynamics' });
      page = hx.page;
    });
    after(async () => {
      await hx?.close();
    });

    it('draws one row per layer, one column per epoch, with the exact flip fraction in each cell', async () => {
      await page.waitForSelector('section[data-view="dynamics"] td.cell');
      const cells = await page.$$eval('section[data-view="dynamics"] td.cell', (els) => els.map((e) => [Number(e.getAttribute('data-row')), Number(e.getAttribute('data-col')), Number(e.getAttribute('data-value'))]));
      assert.equal(cells.length, LAYERS.length * 3);
      for (const [r, c, v] of cells) assert.equal(v, FLIPS[r][c] / LAYERS[r].size, `cell ${r},${c}`);
      const rows = await page.$$eval('section[data-view="dynamics"] th.rowhead', (ths) => ths.map((t) => t.textContent));
      assert.equal(rows[0], 'conv1 · settled after epoch 1');
      assert.equal(rows[4], 'fc5 · not settled');
      assert.equal(rows[5], 'fc6 · settled after epoch 2');
      await shot(page, `webview-dynamics-${theme}`);
    });

    it('the tooltip gives the exact count; arrow keys move and announce', async () => {
      await page.hover('section[data-view="dynamics"] td.cell[data-row="1"][data-col="1"]');
      assert.equal(await page.textContent('section[data-view="dynamics"] .tooltip'), 'mnist, conv2, epoch 2: 400 of 4,608 bits flipped (8.68%); settled after epoch 2');
      await page.click('section[data-view="dynamics"] td.cell[data-row="0"][data-col="0"]');
      await page.keyboard.press('ArrowDown');
      await page.keyboard.press('ArrowRight');
      assert.equal(await page.textContent('#live-region'), 'mnist, conv2, epoch 2: 400 of 4,608 bits flipped (8.68%); settled after epoch 2');
      assert.equal(await page.evaluate(() => (document.activeElement as HTMLElement).dataset.row), '1');
    });

    it('exports the counts as CSV and a PNG', async () => {
      const csv = await exportCsv();
      assert.equal(csv.file, 'mask-dynamics-mnist.csv');
      assert.equal(
        csv.data,
        ['layer,weights,flipped epoch 1,flipped epoch 2,flipped epoch 3,settled after epoch', ...LAYERS.map((l, i) => `${l.name},${l.size},${FLIPS[i].join(',')},${['1', '2', '2', '1', '', '2'][i]}`)].join('\r\n') + '\r\n',
      );
      await clearPosted(page);
      await page.click('section[data-view="dynamics"] button[data-export="png"]');
      const png = await waitPosted(page, 'export');
      assert.equal(png.file, 'mask-dynamics-mnist.png');
      assert.ok(png.data.startsWith('iVBOR'));
    });

    it('a task trained before per-layer flips were recorded says so', async () => {
      await page.selectOption('#dynamics-task', 'fashion');
      assert.match((await page.textContent('section[data-view="dynamics"] .empty')) ?? '', /"fashion" was trained before per-layer flips were recorded/);
      await setTheme(page, theme); // the choice survives a re-render
      await send(page, { type: 'state', stats: statsWithFlips() });
      assert.equal(await page.inputValue('#dynamics-task'), 'fashion');
      assert.deepEqual(hx.consoleErrors, []);
    });
  });
}
