/** Colour legend for a ColorScale: a gradient bar (canvas, CSP-safe) with tick labels. */
import { h } from './dom';
import { rgbCss, type ColorScale } from './colorScale';

export function renderLegend(scale: ColorScale, label: string, fmt: (v: number) => string): HTMLElement {
  const bar = h('canvas', { class: 'legend-bar', width: 256, height: 1, 'aria-hidden': 'true' });
  const ctx = bar.getContext('2d');
  if (ctx) {
    for (let x = 0; x < 256; x++) {
      ctx.fillStyle = rgbCss(scale.color(scale.min + ((scale.max - scale.min) * x) / 255));
      ctx.fillRect(x, 0, 1, 1);
    }
  }
  const ticks = h('div', { class: 'legend-ticks', 'aria-hidden': 'true' }, ...scale.ticks.map((t) => h('span', { text: fmt(t) })));
  return h(
    'figure',
    { class: 'legend', 'aria-label': `${label}: colour scale from ${fmt(scale.min)} (dark purple) to ${fmt(scale.max)} (yellow)` },
    h('figcaption', { text: label }),
    h('div', { class: 'legend-body' }, bar, ticks),
  );
}
