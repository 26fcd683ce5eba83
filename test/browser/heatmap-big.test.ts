/**
 * The heatmap on a big network (issue #9.6): MobileNetV2-sized (33 layers) and ResNet-50-sized
 * (150) maps in a narrow panel keep the task names in view while scrolling, say that they
 * scroll, name every layer in full on hover, can show every value, and filter/sort layers.
 */
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'path';
import type { Page } from 'playwright-core';
import type { LayerKind, MaskedLayerInfo, ProjectStats } from '../../src/core/types';
import { makeStats } from './fixture';
import { open, send, setTheme, startHarness, type Harness } from './harness';

const OUT = path.resolve(__dirname, '../../test-results');
let hx: Harness;
let page: Page;

function bigStats(n: number): ProjectStats {
  const s = makeStats();
  const kinds: LayerKind[] = ['conv2d', 'depthwise', 'conv2d'];
  const layers: MaskedLayerInfo[] = Array.from({ length: n }, (_, i) => {
    const kind = i === n - 1 ? 'dense' : kinds[i % 3];
    return { name: `expanded_conv_${Math.floor(i / 3)}_${kind === 'depthwise' ? 'depthwise' : kind === 'dense' ? 'logits' : i % 3 === 0 ? 'expand' : 'project'}`, kind, shape: [1, 1, 16, 16], size: 256 };
  });
  const sp = (t: number, l: number) => Number((((l * 37 + t * 11) % 97) / 200).toFixed(4));
  const tasks = s.tasks.map((t, ti) => ({ ...t, layerSparsity: layers.map((_, l) => sp(ti, l)) }));
  const perLayer = layers.map(() => s.overlap.overall);
  return { ...s, layers, tasks, overlap: { overall: s.overlap.overall, perLayer } };
}

describe('heatmap on big networks (Chromium)', { timeout: 60_000 }, () => {
  before(async () => {
    hx = await startHarness();
    page = hx.page;
    await page.setViewportSize({ width: 520, height: 700 });
    await open(hx);
    await setTheme(page, 'dark');
  });
  after(async () => {
    await hx?.close();
  });

  it('33 layers in a narrow panel: sticky task names, a scroll cue, full names on hover, values on demand', async () => {
    const s = bigStats(33);
    await send(page, { type: 'state', stats: s });
    await page.waitForSelector('section[data-view="heatmap"] td.cell');
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    assert.equal(await page.isVisible('.scroll-cue'), true);
    assert.match((await page.textContent('.scroll-cue')) ?? '', /^33 layers: scroll sideways for the rest →/);
    const name = () => page.$eval('th.rowhead button', (b) => b.getBoundingClientRect().left);
    const before = await name();
    await page.$eval('section[data-view="heatmap"] .matrix-wrap', (w) => (w.scrollLeft = w.scrollWidth));
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(r)));
    assert.ok(Math.abs((await name()) - before) <= 1.5, 'task names stay in view (border spacing aside)');
    assert.match((await page.textContent('.scroll-cue')) ?? '', /← scroll sideways for the rest \(task names stay\)$/);
    const titles = await page.$$eval('section[data-view="heatmap"] th.colhead', (ths) => ths.map((t) => t.getAttribute('title')));
    assert.equal(titles.length, 33);
    assert.equal(titles[1], 'expanded_conv_0_depthwise (depthwise, 1×1×16×16, 256 weights)');
    // Compact by default past 24 layers; "with values" brings every number back.
    assert.equal(await page.textContent('td.cell[data-row="0"][data-col="5"]'), '');
    await page.selectOption('#heatmap-zoom', 'values');
    assert.equal(await page.textContent('td.cell[data-row="0"][data-col="5"]'), (s.tasks[0].layerSparsity[5] * 100).toFixed(1));
    await page.screenshot({ path: path.join(OUT, 'webview-heatmap-33-dark.png'), fullPage: true });
    await setTheme(page, 'light');
    await page.screenshot({ path: path.join(OUT, 'webview-heatmap-33-light.png'), fullPage: true });
    await setTheme(page, 'dark');
    await page.selectOption('#heatmap-zoom', 'auto');
  });

  it('filters layers by kind and sorts them by sparsity; the tooltip follows', async () => {
    const s = bigStats(33);
    await page.selectOption('#heatmap-kind', 'depthwise');
    const cols = await page.$$eval('section[data-view="heatmap"] th.colhead', (ths) => ths.map((t) => t.textContent));
    assert.deepEqual(cols, s.layers.filter((l) => l.kind === 'depthwise').map((l) => l.name));
    await page.selectOption('#heatmap-kind', 'all');
    await page.selectOption('#heatmap-sort', 'sparsity');
    const mean = (i: number) => s.tasks.reduce((a, t) => a + t.layerSparsity[i], 0) / s.tasks.length;
    const expected = s.layers.map((l, i) => ({ n: l.name, m: mean(i), i })).sort((a, b) => b.m - a.m || a.i - b.i).map((x) => x.n);
    assert.deepEqual(await page.$$eval('section[data-view="heatmap"] th.colhead', (ths) => ths.map((t) => t.textContent)), expected);
    const first = s.layers.findIndex((l) => l.name === expected[0]);
    const v = Number(await page.getAttribute('td.cell[data-row="1"][data-col="0"]', 'data-value'));
    assert.equal(v, s.tasks[1].layerSparsity[first]);
    await page.click('td.cell[data-row="0"][data-col="0"]');
    assert.match((await page.textContent('#live-region')) ?? '', new RegExp(`^mnist, ${expected[0]}: `));
    await page.selectOption('#heatmap-sort', 'network');
  });

  it('150 layers (ResNet-50 size) stay navigable: every cell there, names sticky, keyboard reaches the last layer', async () => {
    await send(page, { type: 'state', stats: bigStats(150) });
    await page.waitForFunction(() => document.querySelectorAll('section[data-view="heatmap"] td.cell').length === 450);
    await page.click('td.cell[data-row="2"][data-col="0"]');
    await page.keyboard.press('End');
    assert.match((await page.textContent('#live-region')) ?? '', /^quickdraw, expanded_conv_49_logits: /);
    const wrap = await page.$eval('section[data-view="heatmap"] .matrix-wrap', (w) => ({ left: w.scrollLeft, max: w.scrollWidth - w.clientWidth }));
    assert.ok(wrap.left > 0 && wrap.max > 0, 'focus scrolled the map');
    const nameBox = await page.$eval('th.rowhead', (t) => t.getBoundingClientRect().left);
    const wrapBox = await page.$eval('section[data-view="heatmap"] .matrix-wrap', (w) => w.getBoundingClientRect().left);
    assert.ok(Math.abs(nameBox - wrapBox) < 2, 'task names at the left edge while scrolled');
    await page.screenshot({ path: path.join(OUT, 'webview-heatmap-150-dark.png'), fullPage: true });
  });
});
