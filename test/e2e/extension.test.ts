/**
 * End-to-end: the packaged .vsix inside a real VS Code (code-server 4.100.3), driven
 * through the UI with playwright-core + Debian's chromium. One code-server per run.
 *
 *   node --import tsx --test test/e2e/*.test.ts      (or: npm run test:e2e)
 *
 * Env: PIGGYBACK_E2E_SKIP_PACKAGE=1 reuses piggyback-mask-explorer.vsix as built.
 * Writes test-results/e2e-*.png and test-results/e2e.json.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { BrowserContext } from 'playwright-core';
import { readProjectStats } from '../../src/core/project/stats';
import type { ProjectStats } from '../../src/core/types';
import { ensureCodeServer, installExtension, launch, makeDirs, REPO_ROOT, type CodeServer, type CodeServerDirs } from './codeServer';
import { openBrowser, Workbench } from './workbench';

const RESULTS = path.join(REPO_ROOT, 'test-results');
const VSIX = path.join(REPO_ROOT, 'piggyback-mask-explorer.vsix');
const EXT_ID = 'piggyback-mask-explorer.piggyback-mask-explorer';
const DATASET = process.env.PIGGYBACK_E2E_DATASET || 'fashion-mnist';
const TASK = 'fashion';

const report: Record<string, unknown> = { startedAt: new Date().toISOString(), dataset: DATASET };
const t0 = Date.now();
const log = (s: string): void => console.log(`[e2e +${((Date.now() - t0) / 1000).toFixed(1)}s] ${s}`);

let cs: CodeServer | undefined;
let dirs: CodeServerDirs;
let browser: { context: BrowserContext } | undefined;
let wb: Workbench;
let ws: string;
let projectDir: string;
let copiedDir: string;
let embeddedDir: string;
let mnv2Dir: string;

/** Every file under dir with its sha256: "the project on disk is unchanged" means equal snapshots. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) out[path.relative(dir, p)] = createHash('sha256').update(fs.readFileSync(p)).digest('hex');
    }
  };
  walk(dir);
  return out;
}

const pct = (x: number | null, digits = 1): string => (x === null ? '–' : `${(x * 100).toFixed(digits)}%`);
function fmtBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / (1024 * 1024)).toFixed(2)} MB`;
}
function fmtCount(n: number): string {
  if (n < 1e4) return String(n);
  if (n < 1e6) return `${(n / 1e3).toFixed(1)}k`;
  return `${(n / 1e6).toFixed(2)}M`;
}

/** A random-weight reference CNN, used only when the repo has no committed models/reference-cnn yet. */
function generateStandInBackbone(dest: string): void {
  const script = `
    const { buildReferenceCnn } = require(${JSON.stringify(path.join(REPO_ROOT, 'src/core/model/referenceCnn.ts'))});
    const { saveLayersModelFile } = require(${JSON.stringify(path.join(REPO_ROOT, 'src/core/model/modelIO.ts'))});
    const { initBackend } = require(${JSON.stringify(path.join(REPO_ROOT, 'src/core/backend.ts'))});
    (async () => { await initBackend('cpu'); await saveLayersModelFile(buildReferenceCnn(1), ${JSON.stringify(dest)}); })()
      .catch((e) => { console.error(e); process.exit(1); });`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', script], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`could not generate a stand-in backbone: ${r.stderr}`);
}

/** On failure, keep a screenshot of what the workbench showed. */
function withShot(name: string, fn: () => Promise<void>): () => Promise<void> {
  return async () => {
    try {
      await fn();
    } catch (e) {
      await wb?.shot(`fail-${name}`).catch(() => undefined);
      throw e;
    }
  };
}

/** Interrupted runs still stop code-server (by PID). */
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    if (cs) {
      try {
        process.kill(cs.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    process.exit(130);
  });
}

describe('Piggyback Mask Explorer in code-server', { timeout: 600_000 }, () => {
  before(async () => {
    fs.mkdirSync(RESULTS, { recursive: true });
    for (const f of fs.readdirSync(RESULTS)) if (/^e2e[-.]/.test(f)) fs.rmSync(path.join(RESULTS, f), { force: true });
    if (process.env.PIGGYBACK_E2E_SKIP_PACKAGE !== '1' || !fs.existsSync(VSIX)) {
      log('npm run package');
      const r = spawnSync('npm', ['run', 'package'], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 300_000 });
      if (r.status !== 0) throw new Error(`npm run package failed:\n${r.stdout}\n${r.stderr}`);
    }
    log('code-server');
    ensureCodeServer(log);
    dirs = makeDirs();
    installExtension(dirs, VSIX);
    const installed = fs.readdirSync(dirs.extensionsDir).find((d) => d.startsWith(`${EXT_ID}-`));
    assert.ok(installed, `extension not installed into ${dirs.extensionsDir}`);
    const extDir = path.join(dirs.extensionsDir, installed);
    const embedded = path.join(extDir, 'models', 'reference-cnn', 'model.json');
    embeddedDir = path.dirname(embedded);
    if (!fs.existsSync(embedded)) {
      log('WARNING: the vsix has no models/reference-cnn; injecting a random-weight stand-in into the installed extension');
      generateStandInBackbone(path.dirname(embedded));
      report.embeddedBackbone = 'stand-in (random weights): models/reference-cnn was not committed yet';
    } else report.embeddedBackbone = 'models/reference-cnn from the vsix';

    ws = fs.mkdtempSync(path.join(os.tmpdir(), 'pb-e2e-ws-'));
    projectDir = path.join(ws, 'mask-project');
    copiedDir = path.join(ws, 'copies', 'deeper', 'mask-project');
    mnv2Dir = path.join(ws, 'mnv2-project');
    fs.mkdirSync(path.join(ws, '.vscode'));
    // Small budget for the run through the dialogs (the defaults in the hyperparameter pick come from here).
    fs.writeFileSync(
      path.join(ws, '.vscode', 'settings.json'),
      JSON.stringify({ 'piggyback.epochs': 2, 'piggyback.trainPerClass': 30, 'piggyback.testLimit': 200, 'piggyback.batchSize': 32 }, null, 2),
    );
    fs.mkdirSync(path.join(ws, 'not-a-dataset'));
    fs.writeFileSync(path.join(ws, 'not-a-dataset', 'notes.txt'), 'this folder holds no images and no IDX files\n');
    fs.mkdirSync(path.join(ws, 'bad-model'));
    fs.writeFileSync(path.join(ws, 'bad-model', 'model.json'), JSON.stringify({ hello: 'this is not a TF.js model' }));
    // Scripted arguments reach commands through keybindings (the only way to pass args from the UI).
    fs.writeFileSync(
      path.join(dirs.userDataDir, 'User', 'keybindings.json'),
      JSON.stringify(
        [
          {
            key: 'ctrl+alt+f9',
            command: 'piggyback.trainMask',
            args: { project: projectDir, dataset: DATASET, task: 'cancel-me', epochs: 3, trainPerClass: 600, testLimit: 200, nonInteractive: true },
          },
          { key: 'ctrl+alt+f10', command: 'piggyback.openProject', args: { project: copiedDir, nonInteractive: true } },
          { key: 'ctrl+alt+f11', command: 'piggyback.evaluateMask', args: { project: copiedDir, task: TASK, nonInteractive: true } },
          { key: 'ctrl+alt+f12', command: 'piggyback.relinkBackbone', args: { project: copiedDir, model: path.join(ws, 'models', 'ref-moved', 'model.json'), nonInteractive: true } },
          { key: 'ctrl+alt+f8', command: 'piggyback.openProject', args: { project: projectDir, nonInteractive: true } },
          { key: 'ctrl+alt+f6', command: 'piggyback.rethresholdTask', args: { project: projectDir, task: TASK, thresholds: [0.007], saveAs: `${TASK}-t7`, nonInteractive: true } },
          { key: 'ctrl+alt+f7', command: 'piggyback.openProject', args: { project: mnv2Dir, nonInteractive: true } },
        ],
        null,
        2,
      ),
    );
    cs = await launch(dirs);
    log(`code-server pid ${cs.pid} on ${cs.url}`);
    browser = await openBrowser();
    wb = new Workbench(browser.context.pages()[0], RESULTS);
    await wb.open(`${cs.url}/?folder=${encodeURIComponent(ws)}`);
    log('workbench ready');
  });

  after(async () => {
    report.screenshots = wb?.screenshots ?? [];
    report.totalSeconds = (Date.now() - t0) / 1000;
    fs.mkdirSync(RESULTS, { recursive: true });
    fs.writeFileSync(path.join(RESULTS, 'e2e.json'), JSON.stringify(report, null, 2) + '\n');
    if (cs) {
      try {
        fs.copyFileSync(cs.logFile, path.join(RESULTS, 'e2e-code-server.log'));
        const find = (name: string): string[] =>
          spawnSync('find', [dirs.userDataDir, '-name', name], { encoding: 'utf8' }).stdout.trim().split('\n').filter(Boolean).sort();
        find('remoteexthost.log').forEach((f, i) => fs.copyFileSync(f, path.join(RESULTS, `e2e-exthost-${i + 1}.log`)));
        find('*Piggyback.log').forEach((f, i) => fs.copyFileSync(f, path.join(RESULTS, `e2e-piggyback-output-${i + 1}.log`)));
      } catch {
        /* logs are best effort */
      }
    }
    await browser?.context.close().catch(() => undefined);
    await cs?.stop();
    log(`done; code-server ${cs?.pid} stopped`);
  });

  it('shows the welcome view and runs palette commands', withShot('shows-the-welcome-view-and-run', async () => {
    await wb.openActivityView('Piggyback Masks');
    const welcome = wb.page.locator('.welcome-view-content', { hasText: 'No Piggyback mask project is open' });
    await welcome.waitFor({ timeout: 60_000 });
    for (const b of ['Open Mask Project', 'Create Mask Project', 'Train Mask']) {
      await welcome.locator('.monaco-button', { hasText: b }).first().waitFor();
    }
    await wb.shot('welcome');
    await wb.runCommand('Piggyback: Event Loop Delay Stats (debug)');
    await wb.waitNotification(/no job has been measured yet/, 30_000);
    await wb.clearNotifications();
  }));

  it('trains a mask through the palette and quick picks, with live curves', withShot('trains-a-mask-through-the-pale', async () => {
    await wb.runCommandAndPick('Piggyback: Train Mask', 'New project on the embedded reference CNN');
    await wb.typeAndAccept('mask-project', 'project folder');
    await wb.waitQuickTitle('dataset for the new task', 120_000);
    await wb.pick(DATASET, { type: DATASET });
    await wb.typeAndAccept(TASK, 'name of the new task');
    await wb.waitQuickTitle(`train "${TASK}"`);
    await wb.page.locator('.quick-input-list .monaco-list-row', { hasText: 'epochs = 2' }).first().waitFor();
    await wb.page.locator('.quick-input-list .monaco-list-row', { hasText: 'trainPerClass = 30' }).first().waitFor();
    // Edit one hyperparameter through the list: a faster mask learning rate so an 18-step run flips bits.
    await wb.pick('lrMask = 0.0001');
    await wb.typeAndAccept('0.0005', 'lrMask');
    await wb.waitQuickTitle(`train "${TASK}"`);
    await wb.page.locator('.quick-input-list .monaco-list-row', { hasText: 'lrMask = 0.0005' }).first().waitFor();
    const start = Date.now();
    await wb.pick('Start training');
    // Live: sample the loss curve's point count until the job reports done.
    const loss = wb.webview().locator('canvas[data-chart="loss"]');
    await loss.waitFor({ state: 'attached', timeout: 120_000 });
    const samples: number[] = [];
    let shotTaken = false;
    const doneToast = wb.notification(new RegExp(`trained "${TASK}"`));
    const deadline = Date.now() + 300_000;
    while (Date.now() < deadline && !(await doneToast.isVisible().catch(() => false))) {
      const n = Number((await loss.getAttribute('data-points').catch(() => '0')) ?? '0');
      if (samples[samples.length - 1] !== n) samples.push(n);
      if (n > 0 && !shotTaken) {
        await wb.shot('training');
        shotTaken = true;
      }
      await wb.page.waitForTimeout(250);
    }
    const doneText = await wb.waitNotification(new RegExp(`trained "${TASK}"`), 10_000);
    report.trainCommandSeconds = (Date.now() - start) / 1000;
    report.trainNotification = doneText;
    report.liveLossPointCountsSeenDuringTraining = samples;
    log(doneText);
    const accPoints = Number((await wb.webview().locator('canvas[data-chart="accuracy"]').getAttribute('data-points')) ?? '0');
    const lossPoints = Number((await loss.getAttribute('data-points')) ?? '0');
    report.curvePoints = { loss: lossPoints, accuracy: accPoints };
    assert.ok(samples.some((n) => n > 0), `the loss curve got no points while training (seen: ${samples.join(',')})`);
    assert.ok(accPoints >= 2, `accuracy curve has ${accPoints} points, expected train+val per epoch`);
    await wb.shot('curves');

    const stats = readProjectStats(projectDir);
    const t = stats.tasks.find((x) => x.name === TASK);
    assert.ok(t, 'task missing on disk');
    assert.equal(t.history.length, 2, 'two epochs in the history');
    assert.equal(t.options.epochs, 2);
    assert.equal(t.options.lrMask, 0.0005, 'the edited hyperparameter reached the engine');
    const manifest = JSON.parse(fs.readFileSync(path.join(projectDir, 'piggyback.json'), 'utf8'));
    assert.ok(JSON.stringify(manifest).includes(TASK), 'piggyback.json lists the task');
    assert.match(doneText, new RegExp(pct(t.testAccuracy, 2).replace('.', '\\.')));
  }));

  it('reports the host event loop delay measured during training', withShot('reports-the-host-event-loop-de', async () => {
    await wb.clearNotifications();
    await wb.runCommand('Piggyback: Event Loop Delay Stats (debug)');
    const text = await wb.waitNotification(/p99Ms=/, 30_000);
    const m = /p50Ms=([\d.]+) p99Ms=([\d.]+) maxMs=([\d.]+)/.exec(text);
    assert.ok(m, text);
    report.eventLoopDelayP50Ms = Number(m[1]);
    report.eventLoopDelayP99Ms = Number(m[2]);
    report.eventLoopDelayMaxMs = Number(m[3]);
    log(`event loop p50 ${m[1]} ms, p99 ${m[2]} ms, max ${m[3]} ms`);
    assert.ok(Number(m[2]) < 200, `event loop p99 ${m[2]} ms: training is blocking the extension host`);
    await wb.clearNotifications();
  }));

  it('shows the same numbers in the inspector as on disk', withShot('shows-the-same-numbers-in-the', async () => {
    const stats: ProjectStats = readProjectStats(projectDir);
    const t = stats.tasks.find((x) => x.name === TASK)!;
    await wb.openActivityView('Piggyback Masks');
    const backbone = wb.page.locator('.pane-body .monaco-list-row', { hasText: 'Backbone:' }).first();
    await backbone.waitFor({ timeout: 60_000 });
    const bbText = (await backbone.innerText()).replace(/\s+/g, ' ');
    assert.ok(bbText.includes(`${fmtCount(stats.backbone.totalParams)} params`), bbText);
    assert.ok(bbText.includes(`${fmtCount(stats.backbone.maskedParams)} masked`), bbText);
    const row = wb.treeRow(TASK);
    await row.waitFor();
    const text = (await row.innerText()).replace(/\s+/g, ' ');
    const expected = `acc ${pct(t.testAccuracy)} · ${pct(t.sparsity ?? NaN)} off · ${fmtBytes(t.bytes ?? NaN)} · ${t.state}`;
    assert.ok(text.includes(expected), `tree shows "${text}", disk says "${expected}"`);
    let checked = 1;
    await row.click();
    await wb.page.keyboard.press('ArrowRight');
    for (let i = 0; i < stats.layers.length; i++) {
      const l = stats.layers[i];
      const lrow = wb.treeRow(l.name);
      await lrow.waitFor({ timeout: 30_000 });
      const lt = (await lrow.innerText()).replace(/\s+/g, ' ');
      const want = `${l.shape.join('×')} · ${fmtCount(l.size)} params · ${pct(t.layerSparsity[i])} off`;
      assert.ok(lt.includes(want), `layer row "${lt}" vs disk "${want}"`);
      checked++;
    }
    report.treeRowsChecked = checked;
    await wb.shot('inspector');
  }));

  it('opens the sparsity heatmap from the task context menu with the numbers on disk', withShot('opens-the-sparsity-heatmap-fro', async () => {
    const stats: ProjectStats = readProjectStats(projectDir);
    const row = wb.treeRow(TASK);
    await wb.contextMenu(row, 'Show Sparsity Heatmap');
    const frame = wb.webview();
    await frame.locator('[data-view="heatmap"]').waitFor({ state: 'visible', timeout: 60_000 });
    const cells = frame.locator('[data-view="heatmap"] td.cell[data-row][data-col]');
    await cells.first().waitFor({ timeout: 60_000 });
    const n = await cells.count();
    assert.equal(n, stats.tasks.length * stats.layers.length, 'one cell per task and layer');
    const values = await cells.evaluateAll((els) =>
      els.map((e) => ({ r: Number(e.getAttribute('data-row')), c: Number(e.getAttribute('data-col')), v: Number(e.getAttribute('data-value')), text: (e.textContent ?? '').trim() })),
    );
    let checked = 0;
    for (const cell of values) {
      const want = stats.tasks[cell.r].layerSparsity[cell.c];
      assert.ok(Math.abs(cell.v - want) < 1e-12, `cell ${cell.r},${cell.c}: ${cell.v} vs disk ${want}`);
      if (cell.text) assert.equal(cell.text, (want * 100).toFixed(1));
      checked++;
    }
    report.webviewCellsChecked = checked;
    await wb.shot('heatmap');
  }));

  it('evaluates the task from its context menu, matching the accuracy on disk', withShot('evaluate', async () => {
    await wb.clearNotifications();
    const t = readProjectStats(projectDir).tasks.find((x) => x.name === TASK)!;
    await wb.openActivityView('Piggyback Masks');
    await wb.contextMenu(wb.treeRow(TASK), 'Evaluate Mask');
    const text = await wb.waitNotification(new RegExp(`"${TASK}" test accuracy`), 120_000);
    report.evaluateNotification = text;
    assert.ok(text.includes(`test accuracy ${pct(t.testAccuracy, 2)}`), `evaluate says "${text}", task.json says ${pct(t.testAccuracy, 2)}`);
  }));

  it('compares task masks and exports a report through the save dialog', withShot('compare-export', async () => {
    await wb.clearNotifications();
    await wb.runCommand('Piggyback: Compare Task Masks');
    await wb.webview().locator('[data-view="overlap"]').waitFor({ state: 'visible', timeout: 60_000 });
    await wb.shot('overlap');
    // The webview's own export: bytes go to the host, which asks where to save them.
    const csvOut = path.join(ws, 'overlap.csv');
    await wb.webview().locator('[data-view="overlap"] button[data-export="csv"]').click();
    await wb.fileDialog(csvOut, /^(OK|Export CSV)$/);
    await wb.waitNotification(/exported overlap\.csv/, 30_000);
    const csv = fs.readFileSync(csvOut, 'utf8');
    assert.ok(csv.startsWith('task,') && csv.includes(TASK), csv.slice(0, 200));
    const out = path.join(ws, 'report.md');
    await wb.runCommand('Piggyback: Export Report');
    // The simple save dialog of code-server labels its button OK (desktop VS Code shows saveLabel).
    await wb.fileDialog(out, /^(OK|Export report)$/);
    await wb.waitNotification(/report written/, 30_000);
    const md = fs.readFileSync(out, 'utf8');
    const t = readProjectStats(projectDir).tasks.find((x) => x.name === TASK)!;
    assert.ok(md.includes(`| ${TASK} |`) && md.includes(pct(t.testAccuracy, 2)), md.slice(0, 400));
  }));

  it('refuses a folder that is not a dataset, leaving the project unchanged', withShot('refuses-a-folder-that-is-not-a', async () => {
    await wb.clearNotifications();
    const before = snapshot(projectDir);
    await wb.runCommand('Piggyback: Train Mask');
    await wb.waitQuickTitle('dataset for the new task', 60_000);
    await wb.pick('IDX folder');
    await wb.fileDialog(path.join(ws, 'not-a-dataset'), 'Use IDX folder');
    // Refused when picked (issue #9.5), saying what is there, before any name or hyperparameter.
    const text = await wb.waitNotification(/is not a dataset: found/, 60_000);
    report.badDatasetError = text;
    log(text);
    assert.match(text, /not-a-dataset is not a dataset: found 1 file and no class subfolders/);
    assert.equal(await wb.page.locator('.quick-input-widget', { hasText: 'name of the new task' }).isVisible().catch(() => false), false, 'no task name was asked');
    await wb.shot('error-dataset');
    await wb.clearNotifications();
    assert.deepEqual(snapshot(projectDir), before, 'project files changed after a failed train');
  }));

  it('refuses a model.json that is not a model, creating nothing', withShot('refuses-a-model-json-that-is-n', async () => {
    await wb.clearNotifications();
    const before = snapshot(projectDir);
    const entriesBefore = fs.readdirSync(ws).sort();
    await wb.runCommandAndPick('Piggyback: Create Mask Project', 'Browse for a model.json');
    await wb.fileDialog(path.join(ws, 'bad-model', 'model.json'), 'Use as backbone');
    await wb.typeAndAccept('second-project', 'project folder');
    const text = await wb.waitNotification(/Create Mask Project failed/, 120_000);
    report.badModelError = text;
    log(text);
    assert.match(text, /model/i);
    await wb.shot('error-model');
    assert.deepEqual(fs.readdirSync(ws).sort(), entriesBefore, 'a folder was left behind');
    assert.deepEqual(snapshot(projectDir), before);
  }));

  it('cancels training mid-epoch, leaving the project unchanged', withShot('cancels-training-mid-epoch-lea', async () => {
    await wb.clearNotifications();
    const before = snapshot(projectDir);
    await wb.page.locator('.monaco-workbench').click({ position: { x: 700, y: 5 } });
    await wb.page.keyboard.press('Control+Alt+F9');
    const progress = wb.notification(/training "cancel-me"/);
    await progress.waitFor({ timeout: 60_000 });
    // Wait until steps are running (mid-epoch), then press the notification's Cancel.
    await wb.notification(/step \d+\/\d+/).waitFor({ timeout: 180_000 });
    report.cancelledAt = await wb.waitNotification(/step \d+\/\d+/, 1000);
    await wb.shot('cancel-running');
    const cancelStart = Date.now();
    await progress.locator('.monaco-button', { hasText: 'Cancel' }).first().click();
    const text = await wb.waitNotification(/Train Mask cancelled/, 60_000);
    report.cancelSeconds = (Date.now() - cancelStart) / 1000;
    log(`${text} (${report.cancelSeconds} s after Cancel)`);
    await wb.shot('cancelled');
    assert.deepEqual(snapshot(projectDir), before, 'project files changed after a cancelled train');
    assert.ok(!readProjectStats(projectDir).tasks.some((x) => x.name === 'cancel-me'));
  }));

  it('restores the explorer after a window reload (WebviewPanelSerializer)', withShot('restore', async () => {
    await wb.clearNotifications();
    await wb.runCommand('Piggyback: Show Sparsity Heatmap');
    await wb.webview().locator('[data-view="heatmap"]').waitFor({ state: 'visible', timeout: 60_000 });
    await wb.runCommand('Developer: Reload Window');
    await wb.page.waitForTimeout(2000);
    await wb.page.locator('.monaco-workbench').waitFor({ timeout: 90_000 });
    const frame = wb.webview();
    await frame.locator('[data-view="heatmap"]').waitFor({ state: 'visible', timeout: 90_000 });
    const stats = readProjectStats(projectDir);
    const cells = frame.locator('[data-view="heatmap"] td.cell[data-row][data-col]');
    await cells.first().waitFor({ timeout: 60_000 });
    assert.equal(await cells.count(), stats.tasks.length * stats.layers.length);
    await wb.shot('restored');
  }));

  it('re-thresholds a task from its stored scores and saves it as a new task that the tree shows', withShot('rethreshold', async () => {
    await wb.clearNotifications();
    const before = snapshot(path.join(projectDir, 'tasks', TASK));
    await wb.openActivityView('Piggyback Masks');
    await wb.page.locator('.monaco-workbench').click({ position: { x: 700, y: 5 } });
    await wb.page.keyboard.press('Control+Alt+F6');
    await wb.treeRow(`${TASK}-t7`).waitFor({ timeout: 120_000 });
    const stats = readProjectStats(projectDir);
    const saved = stats.tasks.find((t) => t.name === `${TASK}-t7`);
    const orig = stats.tasks.find((t) => t.name === TASK)!;
    assert.ok(saved && saved.state === 'trained', 'the re-thresholded task is stored');
    assert.ok((saved.sparsity ?? 0) >= (orig.sparsity ?? 0), `a higher threshold switches at least as many weights off (${saved.sparsity} vs ${orig.sparsity})`);
    assert.deepEqual(snapshot(path.join(projectDir, 'tasks', TASK)), before, 'the original task is not altered');
    report.rethresholdSparsity = { original: orig.sparsity, at0007: saved.sparsity };
    await wb.shot('rethreshold');
    // Leave the project as the later tests expect it (one task).
    const r = spawnSync(process.execPath, [path.join(REPO_ROOT, 'dist', 'cli.js'), 'delete', projectDir, '--task', `${TASK}-t7`], { encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 0, r.stderr);
  }));

  it('moves the what-if slider in the explorer and saves that threshold as a new task (issue #10.1)', withShot('whatif-save', async () => {
    await wb.clearNotifications();
    const before = snapshot(path.join(projectDir, 'tasks', TASK));
    await wb.openActivityView('Piggyback Masks');
    await wb.contextMenu(wb.treeRow(TASK), 'Show Sparsity Heatmap');
    const frame = wb.webview();
    await frame.locator('#tab-whatif').click();
    const slider = frame.locator('#whatif-threshold');
    await slider.waitFor({ state: 'visible', timeout: 60_000 });
    await slider.focus();
    // The highest threshold the slider offers (just below the mask scale): the most weights off.
    await wb.page.keyboard.press('End');
    const acc = frame.locator('[data-view="whatif"] [data-stat="accuracy"] strong');
    await acc.waitFor({ timeout: 120_000 });
    const threshold = Number(((await frame.locator('[data-view="whatif"] [data-stat="threshold"] strong').textContent()) ?? '').trim());
    const probe = ((await acc.textContent()) ?? '').trim();
    assert.ok(threshold > 5e-3 && threshold < 1e-2, `slider end threshold ${threshold}`);
    assert.match(probe, /^\d+\.\d\d%$/);
    await frame.locator('[data-action="save-threshold"]').click();
    await wb.typeAndAccept(`${TASK}-slider`, /save .* at threshold/);
    await wb.treeRow(`${TASK}-slider`).waitFor({ timeout: 120_000 });
    const stats = readProjectStats(projectDir);
    const saved = stats.tasks.find((t) => t.name === `${TASK}-slider`);
    const orig = stats.tasks.find((t) => t.name === TASK)!;
    assert.ok(saved && saved.state === 'trained', 'the slider\'s threshold is stored as a task');
    assert.ok((saved.sparsity ?? 0) > (orig.sparsity ?? 0), `a higher threshold switches more weights off (${saved.sparsity} vs ${orig.sparsity})`);
    assert.deepEqual(snapshot(path.join(projectDir, 'tasks', TASK)), before, 'the original task is not altered');
    report.whatIf = { threshold, probeAccuracy: probe, savedSparsity: saved.sparsity, originalSparsity: orig.sparsity };
    await wb.shot('whatif');
    const r = spawnSync(process.execPath, [path.join(REPO_ROOT, 'dist', 'cli.js'), 'delete', projectDir, '--task', `${TASK}-slider`], { encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 0, r.stderr);
  }));

  it('a copied project still evaluates; a missing backbone is shown in the tree and relinked', withShot('moved-project', async () => {
    await wb.clearNotifications();
    fs.cpSync(projectDir, copiedDir, { recursive: true });
    const key = async (k: string): Promise<void> => {
      await wb.page.locator('.monaco-workbench').click({ position: { x: 700, y: 5 } });
      await wb.page.keyboard.press(k);
    };
    await wb.openActivityView('Piggyback Masks');
    await key('Control+Alt+F10');
    await wb.treeRow(TASK).waitFor({ timeout: 60_000 });
    await key('Control+Alt+F11');
    const t = readProjectStats(copiedDir).tasks.find((x) => x.name === TASK)!;
    const evalText = await wb.waitNotification(new RegExp(`"${TASK}" test accuracy`), 120_000);
    assert.ok(evalText.includes(`test accuracy ${pct(t.testAccuracy, 2)}`), `copied project evaluates to "${evalText}", task.json says ${pct(t.testAccuracy, 2)}`);
    report.copiedProjectEvaluate = evalText;
    await wb.clearNotifications();
    // Point the copy at a backbone outside it (same weights), then hide that backbone.
    const ref = path.join(ws, 'models', 'ref');
    fs.mkdirSync(path.dirname(ref), { recursive: true });
    fs.cpSync(embeddedDir, ref, { recursive: true });
    const cli = path.join(REPO_ROOT, 'dist', 'cli.js');
    const r = spawnSync(process.execPath, [cli, 'relink', copiedDir, '--backbone', path.join(ref, 'model.json')], { encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 0, `piggyback relink failed: ${r.stdout}\n${r.stderr}`);
    fs.renameSync(ref, path.join(ws, 'models', 'ref-moved'));
    await wb.runCommand('Piggyback: Refresh');
    const missing = wb.page.locator('.pane-body .monaco-list-row', { hasText: 'Backbone missing: Relink Backbone' }).first();
    await missing.waitFor({ timeout: 30_000 });
    await wb.page.locator('.pane-body .monaco-list-row', { hasText: 'Backbone: ref (missing)' }).first().waitFor({ timeout: 10_000 });
    assert.equal(readProjectStats(copiedDir).backbone.missing, true);
    await wb.shot('backbone-missing');
    // The relink action (here with its argument, as from the tree item's file dialog).
    await key('Control+Alt+F12');
    const relinked = await wb.waitNotification(/now uses .*ref-moved/, 120_000);
    report.relinkNotification = relinked;
    await missing.waitFor({ state: 'detached', timeout: 30_000 });
    assert.equal(readProjectStats(copiedDir).backbone.missing, false);
    await wb.clearNotifications();
    await key('Control+Alt+F11');
    await wb.waitNotification(new RegExp(`"${TASK}" test accuracy ${pct(t.testAccuracy, 2).replace('.', '\\.')}`), 120_000);
    await wb.clearNotifications();
    await key('Control+Alt+F8');
    await wb.treeRow(TASK).waitFor({ timeout: 30_000 });
  }));

  it('draws the per-step loss of a task trained from the CLI (issue #9.2)', withShot('cli-loss', async () => {
    const cli = path.join(REPO_ROOT, 'dist', 'cli.js');
    const r = spawnSync(process.execPath, [cli, 'train', projectDir, '--task', 'cli-task', '--dataset', DATASET, '--epochs', '1', '--train-per-class', '20', '--test-limit', '100', '--decay-every', '0', '--backend', 'wasm'], { encoding: 'utf8', timeout: 300_000 });
    assert.equal(r.status, 0, `piggyback train failed: ${r.stdout}\n${r.stderr}`);
    const stored = readProjectStats(projectDir).tasks.find((t) => t.name === 'cli-task');
    assert.ok(stored?.stepLoss && stored.stepLoss.step.length > 0, 'task.json holds the per-step loss');
    await wb.runCommand('Piggyback: Show Sparsity Heatmap');
    const frame = wb.webview();
    await frame.locator('[data-view="heatmap"]').waitFor({ state: 'visible', timeout: 60_000 });
    await frame.locator('#tab-curves').click();
    // The webview hears of the new task through the FileSystemWatcher, then draws its stored loss.
    await frame.locator('label.run[data-task="cli-task"]').waitFor({ timeout: 60_000 });
    const points = await frame.locator('canvas[data-chart="loss"]').getAttribute('data-points');
    assert.ok(Number(points) >= stored.stepLoss.step.length, `loss chart has ${points} points`);
    assert.equal(await frame.locator('.chart-empty').isVisible(), false);
    await wb.shot('cli-loss');
    // Two projects in one window (issue #9.1): the copy has no cli-task, so its curves go on
    // switching, and come back on switching back.
    const key = async (k: string): Promise<void> => {
      await wb.page.locator('.monaco-workbench').click({ position: { x: 700, y: 5 } });
      await wb.page.keyboard.press(k);
    };
    await key('Control+Alt+F10');
    await frame.locator('label.run[data-task="cli-task"]').waitFor({ state: 'detached', timeout: 30_000 });
    await frame.locator(`label.run[data-task="${TASK}"]`).waitFor({ timeout: 30_000 });
    report.curvesAfterProjectSwitch = await frame.locator('label.run').evaluateAll((els) => els.map((e) => e.getAttribute('data-task')));
    await wb.shot('curves-other-project');
    await key('Control+Alt+F8');
    await frame.locator('label.run[data-task="cli-task"]').waitFor({ timeout: 30_000 });
    const d = spawnSync(process.execPath, [cli, 'delete', projectDir, '--task', 'cli-task'], { encoding: 'utf8', timeout: 120_000 });
    assert.equal(d.status, 0, d.stderr);
    // Deleted: its curves go too.
    await frame.locator('label.run[data-task="cli-task"]').waitFor({ state: 'detached', timeout: 30_000 });
  }));

  it('follows changes the CLI makes to the project (FileSystemWatcher)', withShot('cli-change', async () => {
    await wb.openActivityView('Piggyback Masks');
    await wb.treeRow(TASK).waitFor({ timeout: 30_000 });
    const cli = path.join(REPO_ROOT, 'dist', 'cli.js');
    const r = spawnSync(process.execPath, [cli, 'delete', projectDir, '--task', TASK], { encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 0, `piggyback delete failed: ${r.stdout}\n${r.stderr}`);
    assert.equal(readProjectStats(projectDir).tasks.length, 0);
    await wb.page.locator('.pane-body .monaco-list-row', { hasText: 'No tasks yet' }).first().waitFor({ timeout: 30_000 });
    await wb.shot('cli-change');
  }));

  it('a 33-layer MobileNetV2 heatmap scrolls sideways with the task names in view (issue #9.6)', withShot('mnv2-heatmap', async () => {
    const cli = path.join(REPO_ROOT, 'dist', 'cli.js');
    const init = spawnSync(process.execPath, [cli, 'init', mnv2Dir, '--backbone', 'nsfwjs-mobilenetv2', '--backend', 'wasm'], { encoding: 'utf8', timeout: 300_000 });
    assert.equal(init.status, 0, `piggyback init failed: ${init.stdout}\n${init.stderr}`);
    const tr = spawnSync(process.execPath, [cli, 'train', mnv2Dir, '--task', 'mnv2-task', '--dataset', DATASET, '--epochs', '1', '--batch-size', '16', '--train-per-class', '10', '--test-limit', '50', '--decay-every', '0', '--backend', 'wasm'], { encoding: 'utf8', timeout: 600_000 });
    assert.equal(tr.status, 0, `piggyback train failed: ${tr.stdout}\n${tr.stderr}`);
    const stats = readProjectStats(mnv2Dir);
    report.mobilenetLayers = stats.layers.length;
    assert.ok(stats.layers.length >= 30, `${stats.layers.length} masked layers`);
    await wb.page.locator('.monaco-workbench').click({ position: { x: 700, y: 5 } });
    await wb.page.keyboard.press('Control+Alt+F7');
    await wb.openActivityView('Piggyback Masks');
    await wb.page.locator('.pane-body .monaco-list-row', { hasText: 'Backbone: MobileNetV2 (nsfwjs)' }).first().waitFor({ timeout: 60_000 });
    await wb.runCommand('Piggyback: Show Sparsity Heatmap');
    const frame = wb.webview();
    await frame.locator('#tab-heatmap').click();
    const cells = frame.locator('[data-view="heatmap"] td.cell');
    await cells.first().waitFor({ timeout: 60_000 });
    assert.equal(await cells.count(), stats.tasks.length * stats.layers.length);
    // Every value shown: wider than the editor, so it scrolls, and says so.
    await frame.locator('#heatmap-zoom').selectOption('values');
    await frame.locator('[data-view="heatmap"] .scroll-cue').waitFor({ state: 'visible', timeout: 10_000 });
    const name = frame.locator('[data-view="heatmap"] th.rowhead').first();
    const x0 = (await name.boundingBox())!.x;
    await frame.locator('[data-view="heatmap"] .matrix-wrap').evaluate((w) => (w.scrollLeft = w.scrollWidth));
    await wb.page.waitForTimeout(200);
    const x1 = (await name.boundingBox())!.x;
    assert.ok(Math.abs(x1 - x0) <= 2, `task names moved from ${x0} to ${x1} while scrolling`);
    const last = stats.layers[stats.layers.length - 1];
    assert.match((await frame.locator('[data-view="heatmap"] th.colhead').last().getAttribute('title')) ?? '', new RegExp(`^${last.name} \\(`));
    await wb.shot('mnv2-heatmap');
  }));
});
