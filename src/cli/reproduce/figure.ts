/**
 * The per-layer sparsity heatmap of results.md as a PNG: tasks x layers per backbone, drawn as
 * HTML (a colour-blind-safe sequential scale, exact values in each cell) and screenshot by
 * headless Chromium through playwright-core (dev dependency, as in the browser tests). Where
 * either is missing the report says so and keeps the same numbers as a table.
 */
import * as fs from 'node:fs';
import { writeFileAtomic } from '../../core/project/atomic';
import type { ArchResult } from './types';

const CHROMIUM = '/usr/bin/chromium';

/** Cividis-like ramp (light = few weights off, dark blue = many), readable in grey too. */
function colour(x: number): string {
  const stops = [[255, 234, 70], [170, 165, 110], [110, 115, 120], [55, 80, 130], [0, 34, 78]];
  const t = Math.min(1, Math.max(0, x)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(t));
  const f = t - i;
  const c = stops[i].map((v, k) => Math.round(v + f * (stops[i + 1][k] - v)));
  return `rgb(${c.join(',')})`;
}

const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] as string);

export function heatmapHtml(results: ArchResult[], scaleMax: number): string {
  const blocks = results.map((r) => {
    const ls = r.layerSparsity;
    const head = ls.layers.map((l) => `<th class="l"><div>${esc(l.name)}</div></th>`).join('');
    // The paper-protocol masks only: the short-run ablation has its own table.
    const body = ls.tasks
      .filter((t) => !t.task.includes('.'))
      .map((t) => `<tr><th class="t">${esc(t.task)}</th>${t.layerSparsity.map((v) => `<td style="background:${colour(v / scaleMax)};color:${v / scaleMax > 0.5 ? '#fff' : '#000'}">${(100 * v).toFixed(1)}</td>`).join('')}</tr>`)
      .join('');
    return `<h2>${esc(r.arch)}: ${esc(r.backbone.description)}</h2><table><tr><th></th>${head}</tr>${body}</table>`;
  });
  const legend = [0, 0.25, 0.5, 0.75, 1].map((f) => `<span style="background:${colour(f)};color:${f > 0.5 ? '#fff' : '#000'}">${(100 * f * scaleMax).toFixed(1)}%</span>`).join('');
  return `<!doctype html><html><head><meta charset="utf-8"><style>
body{font:12px sans-serif;margin:12px;background:#fff;color:#000}h1{font-size:15px}h2{font-size:13px;margin:14px 0 4px}
table{border-collapse:collapse}td{width:34px;height:20px;text-align:center;font-size:10px;border:1px solid #fff}
th.t{text-align:right;padding-right:6px;font-weight:normal;white-space:nowrap}th.l{vertical-align:bottom;font-weight:normal;padding-bottom:3px}
th.l div{writing-mode:vertical-rl;transform:rotate(180deg);white-space:nowrap;font-size:10px}.legend span{display:inline-block;padding:2px 8px;margin-right:2px}
</style></head><body><h1>Per-layer sparsity: % of each layer's weights a task's mask switches off (paper protocol)</h1>
<div class="legend">${legend}</div>${blocks.join('')}</body></html>`;
}

/** Writes the PNG; returns null on success or why it could not. */
export async function writeHeatmapPng(results: ArchResult[], file: string): Promise<string | null> {
  if (!fs.existsSync(CHROMIUM)) return `no ${CHROMIUM} (apt-get install chromium)`;
  let chromium: typeof import('playwright-core').chromium;
  try {
    ({ chromium } = await import('playwright-core'));
  } catch {
    return 'playwright-core is not installed (npm ci installs it as a dev dependency)';
  }
  const max = Math.max(0.01, ...results.flatMap((r) => r.layerSparsity.tasks.filter((t) => !t.task.includes('.')).flatMap((t) => t.layerSparsity)));
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'] });
  try {
    const page = await browser.newPage({ viewport: { width: 900, height: 400 }, deviceScaleFactor: 1 });
    await page.setContent(heatmapHtml(results, max));
    const png = await page.screenshot({ type: 'png', fullPage: true });
    writeFileAtomic(file, png);
    return null;
  } finally {
    await browser.close();
  }
}
