/** Overlap colour scale (issue #9.7): close Jaccard values told apart with "data range", and the legend says which scale is used. */
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'path';
import type { Page } from 'playwright-core';
import { makeStats } from './fixture';
import { open, send, setTheme, openPage, type Harness } from './harness';

const OUT = path.resolve(__dirname, '../../test-results');
let hx: Harness;
let page: Page;

/** The fixture with the three close overlaps: 0.863, 0.870, 0.890. */
function closeOverlaps() {
  const s = makeStats();
  const j = [
    [1, 0.863, 0.87],
    [0.863, 1, 0.89],
    [0.87, 0.89, 1],
  ];
  s.overlap.overall = { ...s.overlap.overall, jaccard: j };
  return s;
}

const rgb = (css: string) => (css.match(/\d+/g) ?? []).slice(0, 3).map(Number);
const dist = (a: number[], b: number[]) => Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]);

describe('overlap colour scale (Chromium)', { timeout: 60_000 }, () => {
  before(async () => {
    hx = await openPage({ theme: 'dark', stats: closeOverlaps(), view: 'overlap' });
    page = hx.page;
  });
  after(async () => {
    await hx?.close();
  });

  const colours = () =>
    page.$$eval('section[data-view="overlap"] td.cell', (tds) =>
      Object.fromEntries(tds.map((td) => [`${td.getAttribute('data-row')},${td.getAttribute('data-col')}`, getComputedStyle(td).backgroundColor])),
    );

  it('0-1 paints 0.863 and 0.890 alike; data range tells them apart and the legend says so', async () => {
    let c = await colours();
    assert.ok(dist(rgb(c['0,1']), rgb(c['1,2'])) < 40, `0-1: ${c['0,1']} vs ${c['1,2']} look alike`);
    assert.match((await page.textContent('section[data-view="overlap"] .legend figcaption')) ?? '', /colours 0–1$/);
    await page.selectOption('#overlap-scale', 'data');
    c = await colours();
    assert.ok(dist(rgb(c['0,1']), rgb(c['1,2'])) > 200, `data range: ${c['0,1']} vs ${c['1,2']} differ`);
    assert.ok(dist(rgb(c['0,1']), rgb(c['0,2'])) > 30, '0.863 vs 0.870 differ too');
    assert.equal(await page.textContent('section[data-view="overlap"] .legend figcaption'), 'Jaccard overlap of kept weights, colours over the data range 0.863–0.890 (diagonal: 1)');
    await page.screenshot({ path: path.join(OUT, 'webview-overlap-datarange-dark.png'), fullPage: true });
    await setTheme(page, 'light');
    await page.screenshot({ path: path.join(OUT, 'webview-overlap-datarange-light.png'), fullPage: true });
    // The choice is kept across reloads; Hamming has no such choice.
    await page.reload();
    await page.waitForFunction(() => ((window as any).__posted as { type: string }[]).some((m) => m.type === 'ready'));
    assert.equal(await page.inputValue('#overlap-scale'), 'data');
    await page.check('#metric-hamming');
    assert.equal(await page.isVisible('#overlap-scale'), false);
  });
});

describe('stale notices (Chromium)', { timeout: 30_000 }, () => {
  before(async () => {
    hx = await openPage({ stats: makeStats() });
    page = hx.page;
  });
  after(async () => {
    await hx?.close();
  });

  it('"Saved …" goes when another tab is chosen or another project is shown', async () => {
    await send(page, { type: 'exportResult', file: '/tmp/project/sparsity-heatmap.csv', ok: true });
    assert.equal(await page.textContent('.notice'), 'Saved /tmp/project/sparsity-heatmap.csv');
    await page.click('#tab-overlap');
    assert.equal(await page.textContent('.notice'), '');
    await send(page, { type: 'exportResult', file: '/tmp/project/overlap.csv', ok: true });
    await send(page, { type: 'state', stats: makeStats() });
    assert.equal(await page.textContent('.notice'), 'Saved /tmp/project/overlap.csv', 'same project: kept');
    await send(page, { type: 'state', stats: { ...makeStats(), dir: '/tmp/other' } });
    assert.equal(await page.textContent('.notice'), '');
  });
});

describe('confusion matrix (Chromium)', { timeout: 30_000 }, () => {
  before(async () => {
    hx = await openPage({ theme: 'dark', stats: makeStats(), view: 'runs' });
    page = hx.page;
  });
  after(async () => {
    await hx?.close();
  });

  it('draws the stored test confusion: counts in the cells, row fractions as colours, exact hover, CSV', async () => {
    const s = makeStats();
    // quickdraw has no stored evaluation: not offered.
    assert.deepEqual(await page.$$eval('#confusion-task option', (o) => o.map((x) => x.textContent)), ['mnist', 'fashion']);
    await page.selectOption('#confusion-task', 'fashion');
    const m = s.tasks[1].confusion!;
    const cells = await page.$$eval('section[data-view="confusion"] td.cell', (tds) => tds.map((td) => ({ r: Number(td.dataset.row), c: Number(td.dataset.col), v: Number(td.dataset.value), text: td.textContent })));
    assert.equal(cells.length, 100);
    for (const { r, c, v, text } of cells) {
      const sum = m[r].reduce((a, b) => a + b, 0);
      assert.equal(text, String(m[r][c]));
      assert.ok(Math.abs(v - m[r][c] / sum) < 1e-12);
    }
    await page.click('section[data-view="confusion"] td.cell[data-row="3"][data-col="5"]');
    const sum3 = m[3].reduce((a, b) => a + b, 0);
    assert.equal(await page.textContent('#live-region'), `fashion: true c3, predicted c5: ${m[3][5]} of ${sum3} (${((m[3][5] / sum3) * 100).toFixed(1)}%)`);
    await page.screenshot({ path: path.join(OUT, 'webview-confusion-dark.png'), fullPage: true });
    await setTheme(page, 'light');
    await page.screenshot({ path: path.join(OUT, 'webview-confusion-light.png'), fullPage: true });
    await page.evaluate(() => ((window as any).__posted = []));
    await page.click('section[data-view="confusion"] button[data-export="csv"]');
    await page.waitForFunction(() => ((window as any).__posted as { type: string }[]).some((x) => x.type === 'export'));
    const msg = (await page.evaluate(() => ((window as any).__posted as any[]).find((x) => x.type === 'export'))) as { file: string; data: string };
    assert.equal(msg.file, 'confusion-fashion.csv');
    const rows = msg.data.trimEnd().split('\r\n').map((l) => l.split(','));
    assert.deepEqual(rows[4].slice(1).map(Number), m[3]);
  });
});

describe('grid tooltips do not linger (Chromium)', { timeout: 30_000 }, () => {
  before(async () => {
    hx = await openPage({ stats: makeStats() });
    page = hx.page;
    await page.waitForSelector('section[data-view="heatmap"] td.cell');
  });
  after(async () => {
    await hx?.close();
  });

  it('a focus tooltip goes when focus leaves the cells (a row header is inside the table); a live update keeps focus and tooltip', async () => {
    await page.click('section[data-view="heatmap"] td.cell[data-row="0"][data-col="0"]');
    await page.mouse.move(1, 1);
    assert.equal(await page.isVisible('section[data-view="heatmap"] .tooltip'), true, 'focus shows it');
    await page.keyboard.press('Tab');
    assert.equal(await page.isVisible('section[data-view="heatmap"] .tooltip'), false, 'focus left: gone');
    // Focus back in the grid, then the project's numbers change: the tooltip follows the focused cell.
    await page.click('section[data-view="heatmap"] td.cell[data-row="0"][data-col="0"]');
    await page.mouse.move(1, 1);
    const s = makeStats();
    s.tasks[0].layerSparsity[0] = 0.5;
    await send(page, { type: 'state', stats: s });
    await page.waitForFunction(() => /mnist, conv1: 50\.00% of weights off/.test(document.querySelector('section[data-view="heatmap"] .tooltip')?.textContent ?? ''));
    assert.equal(await page.isVisible('section[data-view="heatmap"] .tooltip'), true);
    assert.deepEqual(await page.evaluate(() => [(document.activeElement as HTMLElement).dataset.row, (document.activeElement as HTMLElement).dataset.col]), ['0', '0'], 'a live update keeps keyboard focus on the cell');
  });
});

describe('ternary masks in the heatmap (Chromium)', { timeout: 30_000 }, () => {
  before(async () => {
    hx = await openPage();
    page = hx.page;
  });
  after(async () => {
    await hx?.close();
  });

  it('a ternary task says how many weights are negated as well as off (hover, table, CSV)', async () => {
    const s = makeStats();
    s.tasks[1] = { ...s.tasks[1], maskKind: 'ternary', layerNegated: [0.01, 0.032, 0.05, 0.02, 0.1, 0.0] };
    await send(page, { type: 'state', stats: s });
    await page.click('section[data-view="heatmap"] td.cell[data-row="1"][data-col="1"]');
    assert.equal(await page.textContent('#live-region'), 'fashion, conv2: 12.34% of weights off (569 / 4,608), 3.20% negated (147), shape 3×3×16×32');
    await page.click('section[data-view="heatmap"] td.cell[data-row="0"][data-col="1"]');
    assert.doesNotMatch((await page.textContent('#live-region')) ?? '', /negated/, 'binary tasks have nothing negated to say');
    await page.click('section[data-view="heatmap"] button.toggle');
    assert.equal(await page.getAttribute('table[data-table="heatmap"] tbody tr:nth-child(2) td:nth-child(3)', 'data-negated'), '0.032');
    await page.evaluate(() => ((window as any).__posted = []));
    await page.click('section[data-view="heatmap"] button[data-export="csv"]');
    await page.waitForFunction(() => ((window as any).__posted as { type: string }[]).some((x) => x.type === 'export'));
    const msg = (await page.evaluate(() => ((window as any).__posted as any[]).find((x) => x.type === 'export'))) as { data: string };
    const rows = msg.data.trimEnd().split('\r\n').map((l) => l.split(','));
    assert.equal(rows[1 + 6 + 1][7], '147');
    assert.equal(rows[1 + 1][7], '');
  });
});
