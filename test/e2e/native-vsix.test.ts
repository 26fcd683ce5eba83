/**
 * The linux-x64 .vsix carries the native addon and the shared libraries it needs: installed
 * into code-server on a machine where the system's oneDNN cannot be loaded (hidden inside a
 * mount namespace by a bind mount of /dev/null over it), training in the extension runs on
 * the native backend. Needs root for unshare/mount (CI runs as root); skipped elsewhere.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { BrowserContext } from 'playwright-core';
import { readProjectStats } from '../../src/core/project/stats';
import { ensureCodeServer, installExtension, launch, makeDirs, REPO_ROOT, type CodeServer } from './codeServer';
import { openBrowser, Workbench } from './workbench';

const RESULTS = path.join(REPO_ROOT, 'test-results');
const VSIX = path.join(REPO_ROOT, 'piggyback-mask-explorer-linux-x64.vsix');
const EXT_ID = 'piggyback-mask-explorer.piggyback-mask-explorer';
const DEV_ADDON = path.join(REPO_ROOT, 'native', 'build', 'Release', 'piggyback_native.node');
const t0 = Date.now();
const log = (s: string): void => console.log(`[e2e-native +${((Date.now() - t0) / 1000).toFixed(1)}s] ${s}`);

/** The system oneDNN the dev build links (by ldd), or null. */
function systemOnednn(): string | null {
  if (!fs.existsSync(DEV_ADDON)) return null;
  const m = /libdnnl\.so\.\d+ => (\/\S+)/.exec(spawnSync('ldd', [DEV_ADDON], { encoding: 'utf8' }).stdout ?? '');
  return m ? fs.realpathSync(m[1]) : null;
}

/** A command prefix that hides `lib` (bind-mounts /dev/null over it) in a private mount namespace, then execs the rest. */
function hiding(lib: string): string[] {
  return ['unshare', '--mount', '--propagation', 'private', 'sh', '-c', `mount --bind /dev/null '${lib}' && exec "$@"`, 'hide-onednn'];
}

function skipReason(): string | false {
  if (process.platform !== 'linux' || os.arch() !== 'x64') return 'linux-x64 only';
  if (!systemOnednn()) return 'the native addon is not built here (g++ and libdnnl-dev)';
  if (process.getuid?.() !== 0) return 'needs root for unshare and mount';
  const probe = spawnSync('unshare', ['--mount', 'true'], { encoding: 'utf8' });
  if (probe.status !== 0) return `unshare --mount not permitted: ${probe.stderr.trim()}`;
  return false;
}

const skip = skipReason();
const report: Record<string, unknown> = { startedAt: new Date().toISOString(), skipped: skip || null };
let cs: CodeServer | undefined;
let browser: { context: BrowserContext } | undefined;
let wb: Workbench;
let ws: string;
let projectDir: string;
let hiddenLib: string;
let extDir: string;
let dirs: ReturnType<typeof makeDirs>;

describe('the linux-x64 vsix trains on native where no system oneDNN is visible', { timeout: 600_000, skip }, () => {
  before(async () => {
    fs.mkdirSync(RESULTS, { recursive: true });
    log('npm run package:linux-x64');
    const r = spawnSync('npm', ['run', 'package:linux-x64'], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 300_000 });
    if (r.status !== 0) throw new Error(`npm run package:linux-x64 failed:\n${r.stdout}\n${r.stderr}`);
    report.vsixMb = fs.statSync(VSIX).size / 1024 / 1024;
    hiddenLib = systemOnednn()!;
    ensureCodeServer(log);
    dirs = makeDirs();
    installExtension(dirs, VSIX);
    const installed = fs.readdirSync(dirs.extensionsDir).find((d) => d.startsWith(`${EXT_ID}-`));
    assert.ok(installed, 'extension not installed');
    extDir = path.join(dirs.extensionsDir, installed);
    report.bundled = fs.readdirSync(path.join(extDir, 'dist', 'native')).sort();

    ws = fs.mkdtempSync(path.join(os.tmpdir(), 'pb-e2e-native-'));
    projectDir = path.join(ws, 'native-project');
    fs.writeFileSync(
      path.join(dirs.userDataDir, 'User', 'keybindings.json'),
      JSON.stringify([{ key: 'ctrl+alt+f9', command: 'piggyback.trainMask', args: { project: projectDir, dataset: 'mnist', task: 'native-run', epochs: 1, trainPerClass: 20, testLimit: 100, nonInteractive: true, showExplorer: false } }]),
    );
    cs = await launch(dirs, { wrap: hiding(hiddenLib) });
    browser = await openBrowser();
    wb = new Workbench(browser.context.pages()[0], RESULTS);
    await wb.open(`${cs.url}/?folder=${encodeURIComponent(ws)}`);
    log(`code-server ${cs.pid} with ${hiddenLib} hidden`);
  });

  after(async () => {
    report.totalSeconds = (Date.now() - t0) / 1000;
    fs.writeFileSync(path.join(RESULTS, 'e2e-native.json'), JSON.stringify(report, null, 2) + '\n');
    await browser?.context.close().catch(() => undefined);
    await cs?.stop();
  });

  it('the hiding works: the dev build cannot load there, the packaged addon can', () => {
    const load = (addon: string) =>
      spawnSync(hiding(hiddenLib)[0], [...hiding(hiddenLib).slice(1), process.execPath, '-e', `require(${JSON.stringify(addon)}).info()`], { encoding: 'utf8' });
    const dev = load(DEV_ADDON);
    assert.notEqual(dev.status, 0, 'the dev build loaded although the system oneDNN was hidden: the test proves nothing');
    report.devBuildError = dev.stderr.split('\n').find((l) => /libdnnl|error/i.test(l)) ?? dev.stderr.slice(0, 200);
    const packaged = load(path.join(extDir, 'dist', 'native', 'piggyback_native.node'));
    assert.equal(packaged.status, 0, `the packaged addon does not load on its own: ${packaged.stderr}`);
  });

  it('training in the extension reports the native backend', async () => {
    await wb.page.locator('.monaco-workbench').click({ position: { x: 700, y: 5 } });
    await wb.page.keyboard.press('Control+Alt+F9');
    const done = await wb.waitNotification(/trained "native-run"/, 300_000);
    report.doneNotification = done;
    assert.equal(readProjectStats(projectDir).tasks[0]?.name, 'native-run');
    // The job's start line ("piggyback on <backend>: ...") is in the Piggyback output channel's log.
    let started = '';
    for (let i = 0; i < 50 && !started; i++) {
      const logs = spawnSync('find', [dirs.userDataDir, '-name', '*Piggyback.log'], { encoding: 'utf8' }).stdout.trim().split('\n').filter(Boolean);
      started = logs.map((f) => fs.readFileSync(f, 'utf8')).join('\n').split('\n').find((l) => /piggyback on /.test(l)) ?? '';
      if (!started) await wb.page.waitForTimeout(200);
    }
    report.startLine = started;
    log(started);
    assert.match(started, /piggyback on native/, `the extension trained on another backend: ${started || '(no start line logged)'}`);
    await wb.shot('native-vsix');
  });
});
