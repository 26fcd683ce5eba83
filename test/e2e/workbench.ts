/**
 * playwright-core helpers for driving the code-server workbench like a person:
 * command palette, quick picks, input boxes, notifications, the activity bar,
 * tree rows and the webview's nested iframes.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { chromium, type BrowserContext, type FrameLocator, type Locator, type Page } from 'playwright-core';

export const CHROMIUM = process.env.PIGGYBACK_E2E_CHROMIUM || '/usr/bin/chromium';

export async function openBrowser(): Promise<{ context: BrowserContext; page: Page; profile: string }> {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'pb-e2e-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1400, height: 900 },
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const page = context.pages()[0] ?? (await context.newPage());
  return { context, page, profile };
}

export class Workbench {
  readonly screenshots: string[] = [];

  constructor(
    readonly page: Page,
    readonly outDir: string,
  ) {}

  async open(url: string): Promise<void> {
    await this.page.goto(url);
    await this.page.locator('.monaco-workbench').waitFor({ timeout: 90_000 });
  }

  quickInput(): Locator {
    return this.page.locator('.quick-input-widget .quick-input-box input');
  }

  /** Runs "<Category>: <Title>" from the command palette. */
  async runCommand(title: string): Promise<void> {
    const input = this.quickInput();
    for (let attempt = 0; attempt < 3; attempt++) {
      await this.page.keyboard.press('Escape');
      await this.page.locator('.monaco-workbench').click({ position: { x: 700, y: 5 } }).catch(() => undefined);
      await this.page.keyboard.press('F1');
      try {
        await input.waitFor({ state: 'visible', timeout: 10_000 });
        break;
      } catch {
        /* palette did not open (focus elsewhere): retry */
      }
    }
    await input.fill('>');
    await input.pressSequentially(title, { delay: 10 });
    const row = this.page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first();
    await row.waitFor({ timeout: 30_000 });
    await this.page.keyboard.press('Enter');
  }

  /** Waits for a quick pick row with the text, selects it. */
  async pick(text: string | RegExp, opts: { type?: string; timeout?: number } = {}): Promise<void> {
    const input = this.quickInput();
    await input.waitFor({ state: 'visible', timeout: opts.timeout ?? 60_000 });
    if (opts.type !== undefined) {
      await input.fill('');
      await input.pressSequentially(opts.type, { delay: 10 });
    }
    const row = this.page.locator('.quick-input-widget .quick-input-list .monaco-list-row', { hasText: text }).first();
    await row.waitFor({ timeout: opts.timeout ?? 60_000 });
    await row.click();
  }

  /**
   * Runs a palette command and picks from the quick pick it opens. On a loaded machine the
   * palette can swallow the command (the row goes hidden); then it retries, at most 3 times.
   */
  async runCommandAndPick(title: string, text: string | RegExp): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      await this.runCommand(title);
      try {
        await this.pick(text, { timeout: 20_000 });
        return;
      } catch (e) {
        if (attempt >= 3) throw e;
        await this.page.keyboard.press('Escape');
      }
    }
  }

  /** Quick input title currently shown (waits for it). */
  async waitQuickTitle(text: string | RegExp, timeout = 60_000): Promise<void> {
    await this.page.locator('.quick-input-widget .quick-input-title', { hasText: text }).first().waitFor({ timeout });
  }

  /** Replaces the text of an open input box and accepts it. */
  async typeAndAccept(text: string, titleHint?: string | RegExp): Promise<void> {
    if (titleHint) await this.waitQuickTitle(titleHint);
    const input = this.quickInput();
    await input.waitFor({ state: 'visible' });
    await input.fill(text);
    await this.page.waitForTimeout(150);
    await this.page.keyboard.press('Enter');
  }

  /** The simple (remote) file dialog: type an absolute path, press its OK button (labelled okLabel). */
  async fileDialog(absPath: string, okLabel: string | RegExp): Promise<void> {
    const input = this.quickInput();
    await input.waitFor({ state: 'visible', timeout: 30_000 });
    await input.fill(absPath);
    await this.page.waitForTimeout(800);
    // The dialog may autocomplete while typing: put back exactly the path we mean.
    if ((await input.inputValue()) !== absPath) {
      await input.fill(absPath);
      await this.page.waitForTimeout(800);
    }
    const title = ((await this.page.locator('.quick-input-widget .quick-input-title').first().textContent()) ?? '').trim();
    const titleEl = this.page.locator('.quick-input-widget .quick-input-title', { hasText: title }).first();
    // The first accept of a folder path may only navigate into it: accept until the dialog is gone.
    for (let i = 0; i < 4; i++) {
      await this.page.locator('.quick-input-widget .monaco-button', { hasText: okLabel }).first().click();
      await this.page.waitForTimeout(1000);
      if (!title || !(await titleEl.isVisible())) return;
    }
    throw new Error(`file dialog "${title}" did not accept ${absPath}`);
  }

  notification(text: string | RegExp): Locator {
    return this.page.locator('.notification-toast, .notifications-center .notification-list-item', { hasText: text }).first();
  }

  async waitNotification(text: string | RegExp, timeout = 120_000): Promise<string> {
    const n = this.notification(text);
    await n.waitFor({ timeout });
    const shown = (await n.innerText()).replace(/\s+/g, ' ').trim();
    // Keep the message itself: drop the toast's "Source: ..." line and button captions before it.
    const i = shown.indexOf('Piggyback:');
    return i >= 0 ? shown.slice(i) : shown;
  }

  async clearNotifications(): Promise<void> {
    await this.runCommand('Notifications: Clear All Notifications').catch(() => undefined);
    await this.page.keyboard.press('Escape');
  }

  async openActivityView(title: string): Promise<void> {
    const item = this.page.locator(`.activitybar .action-item a[aria-label^="${title}"]`).first();
    await item.waitFor({ timeout: 60_000 });
    const li = this.page.locator(`.activitybar .action-item:has(a[aria-label^="${title}"])`).first();
    const checked = await li.getAttribute('aria-checked').catch(() => null);
    const cls = (await li.getAttribute('class').catch(() => '')) ?? '';
    if (checked !== 'true' && !cls.includes('checked')) await item.click();
  }

  /** A tree row by its exact label (description text is not part of the match). */
  treeRow(label: string): Locator {
    return this.page
      .locator('.pane-body .monaco-list-row')
      .filter({ has: this.page.locator('.label-name').getByText(label, { exact: true }) })
      .first();
  }

  /** Right-click a row and run a context-menu entry. */
  async contextMenu(row: Locator, item: string): Promise<void> {
    await row.click({ button: 'right' });
    const entry = this.page.locator('.context-view .action-item', { hasText: item }).first();
    await entry.waitFor({ timeout: 15_000 });
    await this.page.waitForTimeout(300);
    await entry.hover();
    await entry.click();
    await this.page.waitForTimeout(500);
    if (await entry.isVisible().catch(() => false)) await this.page.keyboard.press('Enter');
    await entry.waitFor({ state: 'hidden', timeout: 10_000 });
  }

  /** The explorer webview's content frame. */
  webview(): FrameLocator {
    return this.page.frameLocator('iframe.webview.ready').frameLocator('iframe#active-frame');
  }

  async shot(name: string): Promise<string> {
    fs.mkdirSync(this.outDir, { recursive: true });
    const p = path.join(this.outDir, `e2e-${name}.png`);
    await this.page.screenshot({ path: p });
    this.screenshots.push(path.relative(path.resolve(this.outDir, '..'), p));
    return p;
  }
}
