/** Theme colours onto a Chart.js chart's text, axes and title (canvases cannot read CSS variables). */
import type { Chart } from 'chart.js';
import type { Theme } from './theme';

export function applyChartTheme(chart: Chart, t: Theme): void {
  const o = chart.options;
  o.color = t.fg;
  o.font = { ...(o.font ?? {}), family: t.font };
  for (const ax of [o.scales?.x, o.scales?.y]) {
    if (!ax) continue;
    if (ax.ticks) ax.ticks.color = t.fg;
    if (ax.grid) ax.grid.color = t.grid;
    const border = (ax as { border?: { color?: string } }).border;
    if (border) border.color = t.grid;
    const title = (ax as { title?: { color?: string } }).title;
    if (title) title.color = t.muted;
  }
  if (o.plugins?.title) o.plugins.title.color = t.fg;
}
