/**
 * The mask-explorer webview in real headless Chromium under its real CSP. Each step builds on
 * the previous one (one page, one browser) to keep the run short.
 */
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { mkdir, writeFile } from 'fs/promises';
import * as path from 'path';
import type { Page } from 'playwright-core';
import { parseWebviewMessage, type ExportMessage } from '../../src/shared/protocol';
import type { ProjectStats } from '../../src/core/types';
import { LAYERS, SPARSITY, TASK_NAMES, makeStats } from './fixture';
import { clearPosted, open, send, setTheme, startHarness, waitPosted, type Harness } from './harness';

const OUT = path.resolve(__dirname, '../../test-results');
const stats: ProjectStats = makeStats();
let hx: Harness;
let page: Page;

const cellValues = (sel: string) =>
  page.$$eval(sel, (els) => els.map((e) => ({ r: Number(e.getAttribute('data-row')), c: Number(e.getAttribute('data-col')), v: Number(e.getAttribute('data-value')) })));

async function exportVia(view: string, format: 'png' | 'csv'): Promise<ExportMessage> {
  await clearPosted(page);
  await page.click(`section[data-view="${view}"] button[data-export="${format}"]`);
  const msg = await waitPosted(page, 'export');
  // The host validates with the shared parser; make sure what we send passes it.
  assert.deepEqual(parseWebviewMessage(msg), msg);
  return msg;
}

async function assertPng(msg: ExportMessage): Promise<void> {
  await writeFile(path.join(OUT, `webview-export-${msg.file}`), Buffer.from(msg.data, 'base64'));
  assert.equal(msg.format, 'png');
  assert.ok(msg.data.startsWith('iVBOR'), 'base64 PNG signature');
  const buf = Buffer.from(msg.data, 'base64');
  assert.equal(buf.subarray(1, 4).toString('ascii'), 'PNG');
  assert.ok(buf.readUInt32BE(16) > 100 && buf.readUInt32BE(20) > 100, 'PNG has real dimensions');
}

const csvRows = (csv: string) => csv.trimEnd().split('\r\n').map((l) => l.split(','));

async function shot(name: string): Promise<void> {
  await page.mouse.move(1090, 850); // no hover highlight in screenshots
  await page.screenshot({ path: path.join(OUT, `webview-${name}.png`), fullPage: true });
}

describe('mask explorer webview (Chromium)', { timeout: 90_000 }, () => {
  before(async () => {
    await mkdir(OUT, { recursive: true });
    hx = await startHarness();
    page = hx.page;
    await open(hx);
    await setTheme(page, 'dark');
  });
  after(async () => {
    await hx?.close();
  });

  it('bundle has no eval and stays small', () => {
    assert.ok(!/\bnew Function\b|\beval\(/.test(hx.bundle), 'no eval/new Function in bundle');
    assert.ok(hx.jsBytes < 350_000, `bundle ${hx.jsBytes} bytes`);
  });

  it('heatmap cells carry exactly the given sparsities', async () => {
    await send(page, { type: 'state', stats, backend: 'wasm' });
    await page.waitForSelector('table.matrix td.cell');
    const cells = await cellValues('section[data-view="heatmap"] td.cell');
    assert.equal(cells.length, TASK_NAMES.length * LAYERS.length);
    for (const { r, c, v } of cells) assert.equal(v, SPARSITY[r][c], `cell ${r},${c}`);
    // Cell text is the same value, as percent with one decimal.
    const text = await page.textContent('td.cell[data-row="1"][data-col="4"]');
    assert.equal(text, '33.9');
    assert.match((await page.textContent('header .meta')) ?? '', /3 tasks · 6 masked layers.*backend wasm/);
  });

  it('arrow keys move the focused cell and announce it', async () => {
    await page.click('td.cell[data-row="0"][data-col="0"]');
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowDown');
    const focused = await page.evaluate(() => {
      const a = document.activeElement as HTMLElement;
      return { r: a.dataset.row, c: a.dataset.col, tab: a.tabIndex };
    });
    assert.deepEqual(focused, { r: '1', c: '1', tab: 0 });
    assert.equal(
      await page.textContent('#live-region'),
      'fashion, conv2: 12.34% of weights off (569 / 4,608), shape 3×3×16×32',
    );
    assert.equal(await page.isVisible('.tooltip'), true);
    await page.keyboard.press('End');
    await page.keyboard.press('ArrowDown');
    assert.match((await page.textContent('#live-region')) ?? '', /^quickdraw, fc6: 18\.83% of weights off \(241 \/ 1,280\)/);
    // Only one tab stop in the grid.
    assert.equal(await page.$$eval('section[data-view="heatmap"] td.cell[tabindex="0"]', (e) => e.length), 1);
    await shot('heatmap-dark');
  });

  it('row header asks the host to open the task', async () => {
    await clearPosted(page);
    await page.click('th.rowhead button:has-text("fashion")');
    assert.deepEqual(await waitPosted(page, 'openTask'), { type: 'openTask', task: 'fashion' });
  });

  it('heatmap exports PNG and CSV', async () => {
    await assertPng(await exportVia('heatmap', 'png'));
    const csv = await exportVia('heatmap', 'csv');
    assert.equal(csv.file, 'sparsity-heatmap.csv');
    const rows = csvRows(csv.data);
    assert.deepEqual(rows[0], ['task', 'layer', 'layer_index', 'shape', 'weights_total', 'weights_off', 'sparsity', 'weights_negated']);
    assert.equal(rows.length, 1 + 18);
    assert.deepEqual(rows[1 + 6 + 1], ['fashion', 'conv2', '1', '3×3×16×32', '4608', '569', '0.1234', '']);
    for (let t = 0; t < 3; t++) for (let l = 0; l < 6; l++) assert.equal(Number(rows[1 + t * 6 + l][6]), SPARSITY[t][l]);
  });

  it('table toggle shows the same numbers', async () => {
    await page.click('section[data-view="heatmap"] button.toggle');
    assert.equal(await page.getAttribute('section[data-view="heatmap"] button.toggle', 'aria-pressed'), 'true');
    const rows = await page.$$eval('table[data-table="heatmap"] tbody tr', (trs) =>
      trs.map((tr) => Array.from(tr.querySelectorAll('td')).map((td) => ({ v: Number(td.dataset.value), text: td.textContent }))),
    );
    assert.equal(rows.length, 3);
    rows.forEach((cells, t) => {
      SPARSITY[t].forEach((s, l) => {
        assert.equal(cells[l].v, s);
        assert.equal(cells[l].text, `${(s * 100).toFixed(2)}%`);
      });
      assert.equal(cells[6].v, stats.tasks[t].sparsity);
    });
    await shot('heatmap-table-dark');
    await page.click('section[data-view="heatmap"] button.toggle');
  });

  it('overlap matrix shows Jaccard / Hamming, overall and per layer', async () => {
    // Keyboard: focus the selected tab, ArrowRight selects the next tab.
    await page.focus('#tab-heatmap');
    await page.keyboard.press('ArrowRight');
    assert.equal(await page.getAttribute('#tab-overlap', 'aria-selected'), 'true');
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'tab-overlap');
    assert.equal(await page.isVisible('#panel-heatmap'), false);
    const sel = 'section[data-view="overlap"] td.cell';
    const check = async (m: Array<Array<number | null>>) => {
      const cells = await cellValues(sel);
      assert.equal(cells.length, 9);
      for (const { r, c, v } of cells) assert.equal(v, m[r][c], `overlap ${r},${c}`);
    };
    await check(stats.overlap.overall.jaccard);
    await page.check('#metric-hamming');
    await check(stats.overlap.overall.hamming);
    await page.selectOption('#overlap-layer', '2');
    await check(stats.overlap.perLayer[2].hamming);
    await page.check('#metric-jaccard');
    await check(stats.overlap.perLayer[2].jaccard);
    await page.selectOption('#overlap-layer', '-1');
    await check(stats.overlap.overall.jaccard);
  });

  it('selecting a pair shows it per layer (click and Enter)', async () => {
    const detail = async () =>
      page.$$eval('table.pair-table tbody tr', (trs) =>
        trs.map((tr) => ({
          j: Number(tr.querySelector<HTMLElement>('[data-metric="jaccard"]')?.dataset.value),
          h: Number(tr.querySelector<HTMLElement>('[data-metric="hamming"]')?.dataset.value),
        })),
      );
    const expectPair = async (a: number, b: number) => {
      assert.equal(await page.getAttribute('table.pair-table', 'data-pair'), `${a},${b}`);
      const rows = await detail();
      assert.equal(rows.length, LAYERS.length + 1);
      LAYERS.forEach((_, l) => assert.deepEqual(rows[l], { j: stats.overlap.perLayer[l].jaccard[a][b], h: stats.overlap.perLayer[l].hamming[a][b] }));
      assert.deepEqual(rows[LAYERS.length], { j: stats.overlap.overall.jaccard[a][b], h: stats.overlap.overall.hamming[a][b] });
    };
    await page.click('section[data-view="overlap"] td.cell[data-row="0"][data-col="2"]');
    await expectPair(0, 2);
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('Enter');
    await expectPair(1, 2);
    assert.match((await page.textContent('#live-region')) ?? '', /^fashion vs quickdraw, all layers: Jaccard 0\.5900, Hamming/);
    await shot('overlap-dark');
    const csv = await exportVia('overlap', 'csv');
    assert.equal(csv.file, 'overlap-jaccard-overall.csv');
    assert.deepEqual(csvRows(csv.data), [['task', ...TASK_NAMES], ...TASK_NAMES.map((n, i) => [n, ...stats.overlap.overall.jaccard[i].map(String)])]);
    await assertPng(await exportVia('overlap', 'png'));
  });

  it('curves hold exactly the history, baselines, and live events append', async () => {
    await page.click('#tab-curves');
    await page.waitForFunction(() => Number(document.querySelector<HTMLElement>('canvas[data-chart="accuracy"]')?.dataset.points) > 0);
    const curveRows = async () => csvRows((await exportVia('curves', 'csv')).data);
    let rows = await curveRows();
    assert.deepEqual(rows[0], ['chart', 'series', 'task', 'x', 'y']);
    const pick = (chart: string, series: string, task: string) =>
      rows.filter((r) => r[0] === chart && r[1] === series && r[2] === task).map((r) => [Number(r[3]), Number(r[4])]);
    for (const t of stats.tasks) {
      assert.deepEqual(pick('accuracy', 'train', t.name), t.history.map((m) => [m.epoch, m.trainAccuracy]));
      assert.deepEqual(pick('accuracy', 'val', t.name), t.history.filter((m) => m.valAccuracy !== null).map((m) => [m.epoch, m.valAccuracy]));
      assert.deepEqual(pick('bits', 'bits', t.name), t.history.map((m) => [m.epoch, m.bitsFlipped]));
    }
    assert.deepEqual(pick('accuracy', 'finetune', 'mnist'), [[1, 0.991], [2, 0.991], [3, 0.991]]);
    assert.equal(rows.filter((r) => r[1] === 'finetune' || r[1] === 'classifier').length, 3, 'one baseline, one point per epoch');
    // Per-step loss comes from task.json (quickdraw was saved before it was recorded).
    for (const t of stats.tasks) assert.deepEqual(pick('loss', 'loss', t.name), t.stepLoss ? t.stepLoss.step.map((x, i) => [x, t.stepLoss!.loss[i]]) : []);
    assert.equal(await page.isVisible('.chart-empty'), false);

    // Live events: same canvases (no re-creation), points appended.
    await page.evaluate(() => ((document.querySelector('canvas[data-chart="accuracy"]') as any).__marker = 1));
    await send(page, { type: 'trainEvent', event: { type: 'step', task: 'mnist', epoch: 4, step: 1, stepsPerEpoch: 20, loss: 0.42 } });
    await send(page, { type: 'trainEvent', event: { type: 'step', task: 'mnist', epoch: 4, step: 2, stepsPerEpoch: 20, loss: 0.4 } });
    await send(page, {
      type: 'trainEvent',
      event: { type: 'epoch', task: 'mnist', epoch: 4, trainAccuracy: 0.93, trainLoss: 0.4, valAccuracy: 0.9, layerSparsity: SPARSITY[0], bitsFlipped: 321, seconds: 2 },
    });
    await page.waitForFunction(() => Number(document.querySelector<HTMLElement>('canvas[data-chart="loss"]')?.dataset.points) === 64, null, { timeout: 4000 }); // raw and smoothed
    rows = await curveRows();
    assert.deepEqual(pick('loss', 'loss', 'mnist').slice(-3), [[60, stats.tasks[0].stepLoss!.loss.at(-1)], [61, 0.42], [62, 0.4]]);
    assert.deepEqual(pick('accuracy', 'train', 'mnist').at(-1), [4, 0.93]);
    assert.equal(pick('accuracy', 'train', 'mnist').length, 4);
    assert.deepEqual(pick('accuracy', 'val', 'mnist').at(-1), [4, 0.9]);
    assert.deepEqual(pick('bits', 'bits', 'mnist').at(-1), [4, 321]);
    assert.deepEqual(pick('accuracy', 'finetune', 'mnist'), [[1, 0.991], [2, 0.991], [3, 0.991], [4, 0.991]], 'baseline stretches to the new epoch');
    assert.equal(await page.evaluate(() => (document.querySelector('canvas[data-chart="accuracy"]') as any).__marker), 1);
    assert.match((await page.textContent('.status-line')) ?? '', /mnist: epoch 4, train 93\.0%, val 90\.0%/);
    await assertPng(await exportVia('curves', 'png'));
    await shot('curves-dark');
  });

  it('follows a theme switch to light', async () => {
    await setTheme(page, 'light');
    const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    assert.equal(bg, 'rgb(255, 255, 255)');
    // Task colours are the palette's, in both themes: count exact pixels of quickdraw's
    // colour (slot 2, Okabe-Ito bluish green) on the bits chart; text follows the theme.
    await page.waitForTimeout(50);
    const green = await page.$eval('canvas[data-chart="bits"]', (el) => {
      const c = el as HTMLCanvasElement;
      const d = (c.getContext('2d') as CanvasRenderingContext2D).getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 0; i < d.length; i += 4) if (d[i] === 0x00 && d[i + 1] === 0x9e && d[i + 2] === 0x73) n++;
      return n;
    });
    assert.ok(green > 20, `quickdraw's green drawn (${green} px)`);
    assert.equal(await page.getAttribute('label.run[data-task="quickdraw"]', 'data-color'), '#009E73');
    assert.equal(await page.$eval('label.run[data-task="quickdraw"]', (e) => getComputedStyle(e).color), 'rgb(59, 59, 59)');
    await shot('curves-light');
    await page.click('#tab-heatmap');
    await page.focus('td.cell[data-row="2"][data-col="3"]');
    await page.keyboard.press('ArrowLeft');
    await shot('heatmap-light');
    await page.click('#tab-overlap');
    await shot('overlap-light');
  });

  it('restores stats and tab after reload', async () => {
    await page.check('#metric-hamming');
    await page.reload();
    await page.waitForFunction(() => ((window as any).__posted as { type: string }[]).some((m) => m.type === 'ready'));
    assert.equal(await page.getAttribute('#tab-overlap', 'aria-selected'), 'true');
    assert.equal(await page.isChecked('#metric-hamming'), true);
    const cells = await cellValues('section[data-view="overlap"] td.cell');
    for (const { r, c, v } of cells) assert.equal(v, stats.overlap.overall.hamming[r][c]);
    await page.click('#tab-heatmap');
    assert.equal((await cellValues('section[data-view="heatmap"] td.cell')).length, 18);
  });

  it('host "show" switches the tab; malformed messages are ignored', async () => {
    await send(page, { type: 'show', view: 'curves' });
    assert.equal(await page.getAttribute('#tab-curves', 'aria-selected'), 'true');
    await page.evaluate(() => {
      window.postMessage({ type: 'state', stats: { dir: 1 } }, '*');
      window.postMessage({ type: 'show', view: 'nope' }, '*');
      window.postMessage('garbage', '*');
    });
    await page.waitForTimeout(50);
    assert.equal(await page.getAttribute('#tab-curves', 'aria-selected'), 'true');
  });

  it('no CSP violations, console errors or reported errors', async () => {
    const csp = await page.evaluate(() => (window as any).__csp as string[]);
    assert.deepEqual(csp, []);
    assert.deepEqual(hx.consoleErrors, []);
    const errs = (await page.evaluate(() => (window as any).__posted as { type: string }[])).filter((m) => m.type === 'error');
    assert.deepEqual(errs, []);
  });
});
