/** Full-page screenshots of the new views into test-results/ (gitignored), for the note. */
import { mkdir } from 'fs/promises';
import * as path from 'path';
import type { Page } from 'playwright-core';

const OUT = path.resolve(__dirname, '../../test-results');

export async function shot(page: Page, name: string): Promise<void> {
  await mkdir(OUT, { recursive: true });
  await page.mouse.move(1090, 850); // no hover highlight in the picture
  // A focused cell keeps its tooltip, which would cover the rows below it; focus itself stays.
  await page.evaluate(() => document.querySelectorAll<HTMLElement>('.tooltip').forEach((t) => (t.hidden = true)));
  await page.screenshot({ path: path.join(OUT, `${name}.png`), fullPage: true });
}
