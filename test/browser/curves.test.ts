/**
 * The training-curves view as a researcher meets it (issue #9): only the open project's runs,
 * one stable colour per task, a legend that does not eat the plot, per-step loss from
 * task.json, smoothing and log scale.
 */
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { mkdir } from 'fs/promises';
import * as path from 'path';
import type { Page } from 'playwright-core';
import type { ProjectStats, TaskStats } from '../../src/core/types';
import { OKABE_ITO } from '../../webview/palette';
import { emaDebiased } from '../../webview/smoothing';
import { makeStats } from './fixture';
import { clearPosted, open, send, setTheme, openPage, waitPosted, type Harness } from './harness';

const OUT = path.resolve(__dirname, '../../test-results');
let hx: Harness;
let page: Page;

const csvRows = (csv: string) => csv.trimEnd().split('\r\n').map((l) => l.split(','));

async function curveRows(): Promise<string[][]> {
  await clearPosted(page);
  await page.click('section[data-view="curves"] button[data-export="csv"]');
  const msg = await waitPosted(page, 'export');
  return csvRows(msg.data).slice(1);
}

/** Waits for the charts to redraw after a message (one animation frame, twice). */
const frames = () => page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));

async function legend(): Promise<Array<{ task: string; color: string }>> {
  return page.$$eval('label.run', (els) => els.map((e) => ({ task: e.getAttribute('data-task') ?? '', color: e.getAttribute('data-color') ?? '' })));
}

async function tasksIn(rows: string[][]): Promise<string[]> {
  return [...new Set(rows.map((r) => r[2]))].sort();
}

/** A copy of the fixture as another project (another folder, other task names). */
function otherProject(names: string[]): ProjectStats {
  const s = makeStats();
  const tasks = names.map((name, i) => ({ ...s.tasks[i % s.tasks.length], name, dataset: name }));
  return { ...s, dir: '/tmp/other-project', tasks, overlap: withTasks(s, tasks.length) };
}

function withTasks(s: ProjectStats, n: number): ProjectStats['overlap'] {
  const m = () => Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (i === j ? 1 : 0.5)));
  const ov = () => ({ jaccard: m(), hamming: m() });
  return { overall: ov(), perLayer: s.layers.map(ov) };
}

function manyTasks(n: number): ProjectStats {
  const s = makeStats();
  const tasks: TaskStats[] = Array.from({ length: n }, (_, i) => ({ ...s.tasks[i % 3], name: `run-${String(i + 1).padStart(2, '0')}` }));
  return { ...s, dir: '/tmp/many', tasks, overlap: withTasks(s, n) };
}

describe('training curves (Chromium)', { timeout: 90_000 }, () => {
  before(async () => {
    await mkdir(OUT, { recursive: true });
    hx = await openPage({ theme: 'dark', view: 'curves' });
    page = hx.page;
  });
  after(async () => {
    await hx?.close();
  });

  it("switching projects drops the first project's runs", async () => {
    await send(page, { type: 'state', stats: makeStats() });
    await frames();
    assert.deepEqual(await tasksIn(await curveRows()), ['fashion', 'mnist', 'quickdraw']);
    // A run switched off in one project is not switched off in the next.
    await page.uncheck('label.run[data-task="mnist"] input');
    await send(page, { type: 'state', stats: otherProject(['cifar', 'mnist']) });
    await frames();
    assert.deepEqual(await tasksIn(await curveRows()), ['cifar', 'mnist']);
    await send(page, { type: 'state', stats: otherProject(['cifar', 'svhn']) });
    await frames();
    assert.deepEqual(await tasksIn(await curveRows()), ['cifar', 'svhn']);
    assert.deepEqual((await legend()).map((l) => l.task), ['cifar', 'svhn']);
    // The new project's tasks start from the first colours, not after the old project's.
    assert.deepEqual((await legend()).map((l) => l.color), [OKABE_ITO[0], OKABE_ITO[1]]);
  });

  it('deleted tasks and cancelled runs leave the curves', async () => {
    const s = makeStats();
    await send(page, { type: 'state', stats: s });
    await send(page, { type: 'trainEvent', event: { type: 'start', task: 'tmp', method: 'piggyback', backend: 'wasm', epochs: 3, stepsPerEpoch: 10, layers: [] } });
    await send(page, { type: 'trainEvent', event: { type: 'step', task: 'tmp', epoch: 1, step: 1, stepsPerEpoch: 10, loss: 2.3 } });
    await send(page, { type: 'trainEvent', event: { type: 'epoch', task: 'tmp', epoch: 1, trainAccuracy: 0.3, trainLoss: 2, valAccuracy: 0.25, layerSparsity: [], bitsFlipped: 5, seconds: 1 } });
    await frames();
    assert.deepEqual(await tasksIn(await curveRows()), ['fashion', 'mnist', 'quickdraw', 'tmp'], 'the running job is drawn');
    assert.equal(await page.textContent('label.run[data-task="tmp"] .run-note'), 'training');
    await send(page, { type: 'trainEvent', event: { type: 'cancelled', task: 'tmp' } });
    await frames();
    assert.deepEqual(await tasksIn(await curveRows()), ['fashion', 'mnist', 'quickdraw'], 'a cancelled run is not in the project');
    // A cancelled retraining of an existing task shows its stored history again.
    await send(page, { type: 'trainEvent', event: { type: 'start', task: 'mnist', method: 'piggyback', backend: 'wasm', epochs: 3, stepsPerEpoch: 10, layers: [] } });
    await send(page, { type: 'trainEvent', event: { type: 'cancelled', task: 'mnist' } });
    await frames();
    const rows = await curveRows();
    assert.deepEqual(rows.filter((r) => r[1] === 'train' && r[2] === 'mnist').map((r) => Number(r[4])), s.tasks[0].history.map((m) => m.trainAccuracy));
    // Deleting fashion: its curves go, the others keep their colours.
    const before = Object.fromEntries((await legend()).map((l) => [l.task, l.color]));
    await send(page, { type: 'state', stats: { ...s, tasks: [s.tasks[0], s.tasks[2]], overlap: withTasks(s, 2) } });
    await frames();
    assert.deepEqual(await tasksIn(await curveRows()), ['mnist', 'quickdraw']);
    const afterDelete = Object.fromEntries((await legend()).map((l) => [l.task, l.color]));
    assert.deepEqual(afterDelete, { mnist: before.mnist, quickdraw: before.quickdraw });
  });

  it('each task keeps one colour across renders and reloads; no two tasks share one', async () => {
    const s = makeStats();
    await send(page, { type: 'state', stats: s });
    await frames();
    const first = await legend();
    assert.equal(new Set(first.map((l) => l.color)).size, first.length, 'distinct colours');
    for (const l of first) assert.ok((OKABE_ITO as readonly string[]).includes(l.color), `${l.task}: ${l.color} is an Okabe-Ito colour`);
    // Same state again, then a new task: nobody's colour moves.
    await send(page, { type: 'state', stats: s });
    const more = { ...s, tasks: [...s.tasks, { ...s.tasks[1], name: 'kmnist' }], overlap: withTasks(s, 4) };
    await send(page, { type: 'state', stats: more });
    await frames();
    const second = Object.fromEntries((await legend()).map((l) => [l.task, l.color]));
    for (const l of first) assert.equal(second[l.task], l.color, `${l.task} kept its colour`);
    assert.equal(new Set(Object.values(second)).size, 4);
    // A baseline is drawn in its task's colour.
    const mnistBlue = await page.$eval('canvas[data-chart="accuracy"]', (el) => {
      const c = el as HTMLCanvasElement;
      const d = (c.getContext('2d') as CanvasRenderingContext2D).getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 0; i < d.length; i += 4) if (d[i] === 0x00 && d[i + 1] === 0x72 && d[i + 2] === 0xb2) n++;
      return n;
    });
    assert.ok(mnistBlue > 50, `mnist's blue drawn (${mnistBlue} px)`);
    await page.reload();
    await page.waitForFunction(() => ((window as any).__posted as { type: string }[]).some((m) => m.type === 'ready'));
    await setTheme(page, 'dark'); // the test page's theme variables do not survive a reload
    await frames();
    const third = Object.fromEntries((await legend()).map((l) => [l.task, l.color]));
    assert.deepEqual(third, second, 'colours survive a reload');
  });

  it('twenty runs fold into a scrollable, filterable legend; the plot keeps its height', async () => {
    await send(page, { type: 'state', stats: makeStats() });
    await frames();
    const h3 = Number(await page.getAttribute('canvas[data-chart="accuracy"]', 'data-plot-height'));
    await send(page, { type: 'state', stats: manyTasks(20) });
    await frames();
    const h20 = Number(await page.getAttribute('canvas[data-chart="accuracy"]', 'data-plot-height'));
    assert.ok(h3 > 200, `plot height ${h3}`);
    assert.equal(h20, h3, 'twenty legend entries do not shrink the plot');
    const runs = await legend();
    assert.equal(runs.length, 20);
    // 20 tasks, 8 colours: colour and marker together tell every task apart.
    const slots = await page.$$eval('label.run', (els) => els.map((e) => Number(e.getAttribute('data-slot'))));
    assert.equal(new Set(slots).size, 20);
    const scroll = await page.$eval('.run-list', (e) => ({ sh: e.scrollHeight, ch: e.clientHeight }));
    assert.ok(scroll.sh > scroll.ch, 'the legend scrolls');
    await shot('curves-many-dark');
    await setTheme(page, 'light');
    await shot('curves-many-light');
    await setTheme(page, 'dark');
    // The filter narrows the legend and the charts (and the CSV) to matching runs.
    await page.fill('#run-filter', 'run-1');
    await frames();
    assert.deepEqual((await legend()).map((l) => l.task), ['run-10', 'run-11', 'run-12', 'run-13', 'run-14', 'run-15', 'run-16', 'run-17', 'run-18', 'run-19']);
    assert.equal(await page.textContent('.run-count'), '10 of 20 runs shown');
    assert.equal((await tasksIn(await curveRows())).length, 10);
    // Keyboard: Space on a focused run checkbox toggles it.
    await page.click('button[data-runs="none"]');
    await frames();
    assert.equal(await page.textContent('.run-count'), '0 of 20 runs shown');
    await page.focus('label.run[data-task="run-12"] input');
    await page.keyboard.press('Space');
    await frames();
    assert.deepEqual(await tasksIn(await curveRows()), ['run-12']);
    await page.fill('#run-filter', '');
    await page.click('button[data-runs="all"]');
    await frames();
    assert.equal((await tasksIn(await curveRows())).length, 20);
  });
});

async function shot(name: string): Promise<void> {
  await page.screenshot({ path: path.join(OUT, `webview-${name}.png`), fullPage: true });
}

describe('per-step loss from task.json (Chromium)', { timeout: 60_000 }, () => {
  before(async () => {
    hx = await openPage({ theme: 'dark', view: 'curves' });
    page = hx.page;
  });
  after(async () => {
    await hx?.close();
  });

  it('draws the stored loss after a reload, baselines included, and exports it', async () => {
    const s = makeStats();
    s.tasks[0].baselines = [{ method: 'classifier', testAccuracy: 0.8, trainSeconds: 3, history: [], bytesIfStored: 5000, stepLoss: { stride: 8, step: [8, 16, 24], loss: [1.5, 1.1, 0.9] } }];
    await send(page, { type: 'state', stats: s });
    await frames(); // postMessage is asynchronous: let the state land (and persist) before reloading
    await page.reload();
    await page.waitForFunction(() => ((window as any).__posted as { type: string }[]).some((m) => m.type === 'ready'));
    await setTheme(page, 'dark');
    await frames();
    const rows = await curveRows();
    const loss = (series: string, task: string) => rows.filter((r) => r[0] === 'loss' && r[1] === series && r[2] === task).map((r) => [Number(r[3]), Number(r[4])]);
    assert.deepEqual(loss('loss', 'mnist'), s.tasks[0].stepLoss!.step.map((x, i) => [x, s.tasks[0].stepLoss!.loss[i]]));
    assert.deepEqual(loss('loss', 'fashion').length, 15);
    assert.deepEqual(loss('classifier', 'mnist'), [], 'smoothed by default, and the CSV says so');
    assert.equal(await page.isVisible('.chart-empty'), false);
    // mnist and fashion: 15 raw + 15 smoothed (default smoothing 0.6); the classifier's 3, smoothed.
    assert.equal(Number(await page.getAttribute('canvas[data-chart="loss"]', 'data-points')), 63);
    assert.deepEqual(loss('classifier_smoothed', 'mnist').map((p) => p[0]), [8, 16, 24]);
    await shot('curves-loss-dark');
    await setTheme(page, 'light');
    await shot('curves-loss-light');
    await setTheme(page, 'dark');
  });

  it('says so when no run has a stored loss, instead of an empty 0..1 chart', async () => {
    const s = makeStats();
    for (const t of s.tasks) t.stepLoss = null;
    await send(page, { type: 'state', stats: s });
    await frames();
    assert.equal(await page.isVisible('.chart-empty'), true);
    assert.match((await page.textContent('.chart-empty')) ?? '', /trained before task\.json kept it/);
  });
});

describe('smoothing and log scale (Chromium)', { timeout: 60_000 }, () => {
  before(async () => {
    hx = await openPage({ theme: 'dark', view: 'curves' });
    page = hx.page;
  });
  after(async () => {
    await hx?.close();
  });

  it("the slider applies TensorBoard's debiased EMA to the loss, raw kept; 0 turns it off", async () => {
    const s = makeStats();
    await send(page, { type: 'state', stats: s });
    await frames();
    const raw = s.tasks[0].stepLoss!.loss;
    const rows = async () => (await curveRows()).filter((r) => r[0] === 'loss' && r[2] === 'mnist');
    const ys = (rs: string[][], series: string) => rs.filter((r) => r[1] === series).map((r) => Number(r[4]));
    let r = await rows();
    assert.deepEqual(ys(r, 'loss'), raw);
    assert.deepEqual(ys(r, 'loss_smoothed'), emaDebiased(raw, 0.6));
    assert.equal(ys(r, 'loss_smoothed')[0], raw[0], 'debiased: the first point is not pulled to zero');
    // Keyboard: the slider moves with the arrow keys (one step = 0.01).
    await page.focus('#smoothing');
    for (let i = 0; i < 5; i++) await page.keyboard.press('ArrowRight');
    await frames();
    assert.equal(await page.textContent('.smoothing-value'), '0.65');
    r = await rows();
    const got = ys(r, 'loss_smoothed');
    emaDebiased(raw, 0.65).forEach((v, i) => assert.ok(Math.abs(got[i] - v) < 1e-12, `point ${i}`));
    await page.$eval('#smoothing', (el) => {
      (el as HTMLInputElement).value = '0';
      el.dispatchEvent(new Event('input'));
    });
    await frames();
    r = await rows();
    assert.deepEqual(ys(r, 'loss_smoothed'), []);
    assert.deepEqual(ys(r, 'loss'), raw);
  });

  it('the loss x-axis can be epochs (steps / steps per epoch), lining up with the accuracy chart', async () => {
    const s = makeStats();
    await page.selectOption('#loss-x', 'epoch');
    await frames();
    const xs = (await curveRows()).filter((r) => r[0] === 'loss' && r[1] === 'loss' && r[2] === 'mnist').map((r) => Number(r[3]));
    // 60 stored steps over 3 epochs: 20 steps per epoch.
    assert.deepEqual(xs, s.tasks[0].stepLoss!.step.map((x) => x / 20));
    assert.equal(xs.at(-1), 3);
    // Wall time: each epoch took 2.5 s, so step k of 20 per epoch is at k / 20 * 2.5 s.
    await page.selectOption('#loss-x', 'time');
    await frames();
    const ts = (await curveRows()).filter((r) => r[0] === 'loss' && r[1] === 'loss' && r[2] === 'mnist').map((r) => Number(r[3]));
    s.tasks[0].stepLoss!.step.forEach((k, i) => assert.ok(Math.abs(ts[i] - (k / 20) * 2.5) < 1e-9, `step ${k}: ${ts[i]} s`));
    assert.equal(ts.at(-1), 7.5);
    // A live run: its points are at the seconds they arrived.
    await send(page, { type: 'trainEvent', event: { type: 'start', task: 'live', method: 'piggyback', backend: 'wasm', epochs: 1, stepsPerEpoch: 3, layers: [] } });
    for (let k = 1; k <= 3; k++) {
      await page.waitForTimeout(60);
      await send(page, { type: 'trainEvent', event: { type: 'step', task: 'live', epoch: 1, step: k, stepsPerEpoch: 3, loss: 2 / k } });
    }
    await frames();
    const live = (await curveRows()).filter((r) => r[0] === 'loss' && r[1] === 'loss' && r[2] === 'live').map((r) => Number(r[3]));
    assert.equal(live.length, 3);
    assert.ok(live[0] > 0.03 && live[0] < live[1] && live[1] < live[2] && live[2] < 5, `arrival seconds ${live}`);
    await send(page, { type: 'trainEvent', event: { type: 'cancelled', task: 'live' } });
    await page.selectOption('#loss-x', 'step');
    await frames();
    assert.equal(Number((await curveRows()).filter((r) => r[0] === 'loss' && r[2] === 'mnist').at(-1)![3]), 60);
  });

  it('log scale switches the loss axis and survives a reload', async () => {
    assert.equal(await page.getAttribute('canvas[data-chart="loss"]', 'data-y-scale'), 'linear');
    await page.check('#loss-log');
    await frames();
    assert.equal(await page.getAttribute('canvas[data-chart="loss"]', 'data-y-scale'), 'logarithmic');
    await page.reload();
    await page.waitForFunction(() => ((window as any).__posted as { type: string }[]).some((m) => m.type === 'ready'));
    await setTheme(page, 'dark');
    await frames();
    assert.equal(await page.isChecked('#loss-log'), true);
    assert.equal(await page.getAttribute('canvas[data-chart="loss"]', 'data-y-scale'), 'logarithmic');
    await page.$eval('#smoothing', (el) => {
      (el as HTMLInputElement).value = '0.8';
      el.dispatchEvent(new Event('input'));
    });
    await frames();
    await shot('curves-smoothed-log-dark');
    await setTheme(page, 'light');
    await shot('curves-smoothed-log-light');
  });
});

describe('runs table (Chromium)', { timeout: 60_000 }, () => {
  before(async () => {
    hx = await openPage({ theme: 'dark', stats: makeStats(), view: 'runs' });
    page = hx.page;
  });
  after(async () => {
    await hx?.close();
  });

  const table = () =>
    page.$$eval('table[data-table="runs"] tbody tr', (trs) =>
      trs.map((tr) => Object.fromEntries(Array.from(tr.querySelectorAll('td')).map((td) => [td.dataset.col, td.dataset.value]))),
    );
  const headers = () => page.$$eval('table[data-table="runs"] thead th', (ths) => ths.map((th) => th.getAttribute('data-col')));

  it('one row per task and baseline, every hyperparameter a column, exact values', async () => {
    const s = makeStats();
    const rows = await table();
    assert.deepEqual(rows.map((r) => `${r.task}/${r.method}`), ['fashion/piggyback', 'mnist/piggyback', 'mnist/finetune', 'quickdraw/piggyback']);
    const cols = await headers();
    for (const k of ['epochs', 'batchSize', 'lrMask', 'lrHead', 'lrDecayEvery', 'lrDecayFactor', 'maskKind', 'bnMode', 'maskScale', 'threshold', 'seed', 'trainPerClass', 'testLimit', 'valFraction']) assert.ok(cols.includes(k), k);
    const mnist = rows.find((r) => r.task === 'mnist' && r.method === 'piggyback')!;
    assert.equal(Number(mnist.testAccuracy), s.tasks[0].testAccuracy);
    assert.equal(Number(mnist.seed), 1);
    assert.equal(Number(rows.find((r) => r.method === 'finetune')!.testAccuracy), 0.991);
  });

  it('sorts by a column (click, again for descending), diff-only keeps what tells runs apart, CSV is the table shown', async () => {
    await page.click('button[data-sort="testAccuracy"]');
    await page.click('button[data-sort="testAccuracy"]');
    assert.equal(await page.getAttribute('th[data-col="testAccuracy"]', 'aria-sort'), 'descending');
    assert.deepEqual((await table()).map((r) => Number(r.testAccuracy)), [0.991, ...makeStats().tasks.map((t) => t.testAccuracy!).reverse()], 'exact values, highest first');
    // Keyboard: the header buttons are reachable and sort with Enter.
    await page.focus('button[data-sort="seed"]');
    await page.keyboard.press('Enter');
    assert.deepEqual((await table()).map((r) => Number(r.seed)), [1, 1, 2, 3]);
    await page.click('#runs-diff');
    assert.equal(await page.getAttribute('#runs-diff', 'aria-pressed'), 'true');
    const cols = await headers();
    assert.deepEqual(cols.filter((c) => ['epochs', 'batchSize', 'lrMask', 'lrHead', 'lrDecayEvery', 'lrDecayFactor', 'maskKind', 'bnMode', 'maskScale', 'threshold', 'seed', 'trainPerClass', 'testLimit', 'valFraction'].includes(c!)), ['seed']);
    await shot('runs-diff-dark');
    await setTheme(page, 'light');
    await shot('runs-diff-light');
    await setTheme(page, 'dark');
    await page.fill('#runs-filter', 'mnist');
    assert.equal((await table()).length, 2);
    await clearPosted(page);
    await page.click('section[data-view="runs"] button[data-export="csv"]');
    const msg = await waitPosted(page, 'export');
    assert.equal(msg.file, 'runs-differences.csv');
    const csv = csvRows(msg.data);
    // Both mnist rows share seed 1: among the rows shown, no hyperparameter differs.
    const shownCols = await headers();
    assert.equal(shownCols.includes('seed'), false);
    assert.deepEqual(csv[0], shownCols);
    assert.deepEqual(csv.slice(1).map((r) => [r[0], r[1]]), [['mnist', 'piggyback'], ['mnist', 'finetune']], 'sorted by seed (equal: table order)');
    assert.equal(csv[1][shownCols.indexOf('testAccuracy')], '0.9');
  });
});

describe('curve hover (Chromium)', { timeout: 60_000 }, () => {
  before(async () => {
    hx = await openPage({ theme: 'dark', stats: makeStats(), view: 'curves' });
    page = hx.page;
  });
  after(async () => {
    await hx?.close();
  });

  it('accuracy hover reads as a percent, for every visible run at that epoch', async () => {
    await frames();
    const box = (await (await page.$('canvas[data-chart="accuracy"]'))!.boundingBox())!;
    // Epoch 2 is the middle of the plot area.
    await page.mouse.move(box.x + box.width / 2 + 18, box.y + box.height * 0.45);
    await page.waitForFunction(() => (document.querySelector<HTMLElement>('canvas[data-chart="accuracy"]')?.dataset.tooltip ?? '') !== '');
    const text = (await page.getAttribute('canvas[data-chart="accuracy"]', 'data-tooltip')) ?? '';
    const s = makeStats();
    for (const t of s.tasks) assert.ok(text.includes(`${t.name} train: ${(t.history[1].trainAccuracy * 100).toFixed(2)}%`), `${t.name} at epoch 2 in:\n${text}`);
    assert.ok(text.includes('mnist fine-tuning (test): 99.10%'), text);
    assert.doesNotMatch(text, /: 0\.\d+$/m, 'no raw fractions on a percent axis');
    await page.screenshot({ path: path.join(OUT, 'webview-curves-hover-dark.png'), fullPage: true });
  });
});

describe('curve zoom and pan (Chromium)', { timeout: 60_000 }, () => {
  before(async () => {
    hx = await openPage({ theme: 'dark', stats: makeStats(), view: 'curves' });
    page = hx.page;
  });
  after(async () => {
    await hx?.close();
  });

  const xr = async () => ((await page.getAttribute('canvas[data-chart="loss"]', 'data-x-range')) ?? '').split(',').map(Number);

  it('keyboard: + zooms, arrows pan, 0 resets; a drag selects a range; double-click resets', async () => {
    await frames();
    const [lo, hi] = await xr();
    assert.ok(hi > lo, `${lo}..${hi}`);
    await page.focus('canvas[data-chart="loss"]');
    await page.keyboard.press('+');
    await frames();
    const [a, b] = await xr();
    assert.ok(Math.abs(b - a - (hi - lo) / 2) < 1e-6, `half the range: ${a}..${b}`);
    await page.keyboard.press('ArrowRight');
    await frames();
    const [c, d] = await xr();
    assert.ok(c > a && Math.abs(d - c - (b - a)) < 1e-6, 'panned right, same width');
    await page.keyboard.press('0');
    await frames();
    assert.deepEqual(await xr(), [lo, hi]);
    const box = (await (await page.$('canvas[data-chart="loss"]'))!.boundingBox())!;
    await page.mouse.move(box.x + box.width * 0.4, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.7, box.y + box.height / 2, { steps: 4 });
    await page.mouse.up();
    await frames();
    const [e, f] = await xr();
    assert.ok(e > lo && f < hi && f - e < (hi - lo) * 0.5, `dragged range ${e}..${f}`);
    await page.mouse.dblclick(box.x + box.width / 2, box.y + box.height / 2);
    await frames();
    assert.deepEqual(await xr(), [lo, hi]);
  });
});
