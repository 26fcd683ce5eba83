/**
 * Serves the real webview page (renderWebviewHtml + esbuild bundle) on 127.0.0.1 and drives
 * it in Debian's headless Chromium. A stub acquireVsCodeApi records posted messages and keeps
 * setState in sessionStorage so a reload exercises state restore like VS Code's serializer.
 */
import * as http from 'http';
import * as os from 'os';
import * as path from 'path';
import { mkdtemp, readFile, rm } from 'fs/promises';
import type { AddressInfo } from 'net';
import { chromium, type Browser, type Page } from 'playwright-core';
import { makeNonce, renderWebviewHtml } from '../../src/shared/webviewHtml';
import type { HostToWebview, ViewId, WebviewToHost } from '../../src/shared/protocol';
import type { ProjectStats } from '../../src/core/types';
import { buildWebview } from './buildWebview';
import { THEMES, type ThemeName } from './fixture';

export interface Harness {
  browser: Browser;
  page: Page;
  origin: string;
  jsBytes: number;
  bundle: string;
  consoleErrors: string[];
  close(): Promise<void>;
}

/**
 * Runs before the page's own scripts. Kept as plain source text: tsx compiles test files with
 * esbuild keepNames, whose __name() helper does not exist inside the page. (__name is also
 * defined as identity so page.evaluate callbacks compiled by tsx work.)
 */
const STUB_SCRIPT = `
(() => {
  window.__name = (f) => f;
  window.__posted = [];
  window.__csp = [];
  document.addEventListener('securitypolicyviolation', (e) => {
    window.__csp.push(e.violatedDirective + ' ' + e.blockedURI + ' ' + e.sample);
  });
  let acquired = false;
  window.acquireVsCodeApi = function () {
    if (acquired) throw new Error('acquireVsCodeApi called twice');
    acquired = true;
    return {
      postMessage(m) { window.__posted.push(JSON.parse(JSON.stringify(m))); },
      getState() { const s = sessionStorage.getItem('vscode-state'); return s ? JSON.parse(s) : undefined; },
      setState(s) { sessionStorage.setItem('vscode-state', JSON.stringify(s)); },
    };
  };
})();
`;

export async function startHarness(): Promise<Harness> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'pme-webview-'));
  const built = await buildWebview(path.join(dir, 'main.js'));
  const files: Record<string, [string, string]> = {
    '/main.js': [await readFile(built.js, 'utf8'), 'text/javascript'],
    '/webview.css': [await readFile(built.css, 'utf8'), 'text/css'],
  };
  const server = http.createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    if (url === '/' || url === '/index.html') {
      // A fresh nonce per load, as the extension does per panel.
      const html = renderWebviewHtml({ cspSource: origin, nonce: makeNonce(), scriptUri: `${origin}/main.js`, styleUri: `${origin}/webview.css`, title: 'Mask explorer' });
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(html);
      return;
    }
    if (url === '/favicon.ico') {
      res.writeHead(204).end();
      return;
    }
    const f = files[url];
    if (f) res.writeHead(200, { 'content-type': f[1] }).end(f[0]);
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const context = await browser.newContext({ viewport: { width: 1100, height: 860 } });
  await context.addInitScript({ content: STUB_SCRIPT });
  const page = await context.newPage();
  page.setDefaultTimeout(8000);
  const consoleErrors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') consoleErrors.push(`${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => consoleErrors.push(`pageerror: ${e.message}`));

  return {
    browser,
    page,
    origin,
    jsBytes: built.jsBytes,
    bundle: files['/main.js'][0],
    consoleErrors,
    async close() {
      await browser.close();
      await new Promise((r) => server.close(r));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Loads the page and waits for its 'ready' message. */
export async function open(h: Harness): Promise<void> {
  await h.page.goto(`${h.origin}/index.html`);
  await h.page.waitForFunction(() => ((window as any).__posted as { type: string }[]).some((m) => m.type === 'ready'));
}

/** A started, loaded page: optionally themed, given a state and showing a view (in that order). */
export async function openPage(opts: { theme?: ThemeName; stats?: ProjectStats; view?: ViewId } = {}): Promise<Harness> {
  const h = await startHarness();
  await open(h);
  if (opts.theme) await setTheme(h.page, opts.theme);
  if (opts.stats) await send(h.page, { type: 'state', stats: opts.stats });
  if (opts.view) await send(h.page, { type: 'show', view: opts.view });
  return h;
}

export async function send(page: Page, msg: HostToWebview): Promise<void> {
  await page.evaluate((m) => window.postMessage(m, '*'), msg);
}

export async function posted(page: Page): Promise<WebviewToHost[]> {
  return page.evaluate(() => (window as any).__posted as WebviewToHost[]);
}

export async function clearPosted(page: Page): Promise<void> {
  await page.evaluate(() => ((window as any).__posted = []));
}

/** Waits for the next message of a type after clearPosted. */
export async function waitPosted<T extends WebviewToHost['type']>(page: Page, type: T): Promise<Extract<WebviewToHost, { type: T }>> {
  const handle = await page.waitForFunction((t) => ((window as any).__posted as { type: string }[]).find((m) => m.type === t), type);
  return (await handle.jsonValue()) as Extract<WebviewToHost, { type: T }>;
}

/** Applies a theme the way VS Code does: variables on <html> style, class on <body>. */
export async function setTheme(page: Page, name: ThemeName): Promise<void> {
  const t = THEMES[name];
  await page.evaluate(
    ({ cls, vars }) => {
      for (const [k, v] of Object.entries(vars)) document.documentElement.style.setProperty(k, v);
      document.body.classList.remove('vscode-light', 'vscode-dark', 'vscode-high-contrast');
      document.body.classList.add(cls);
      document.body.dataset.vscodeThemeKind = cls;
    },
    { cls: t.bodyClass, vars: t.vars as Record<string, string> },
  );
  // Let the webview's theme observer (rAF) and Chart.js redraw.
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
}
