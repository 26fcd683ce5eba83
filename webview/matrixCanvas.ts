/**
 * Paints a MatrixSpec (plus title and legend) onto an offscreen canvas for PNG export.
 * The on-screen matrix is DOM (for accessibility), so export redraws it with the same
 * colour scale and the current theme's text colours.
 */
import { rgbCss, textOn } from './colorScale';
import { UNKNOWN_TEXT, type MatrixSpec } from './matrixGrid';
import type { Theme } from './theme';

export function matrixToCanvas(spec: MatrixSpec, title: string, legendFmt: (v: number) => string, theme: Theme): HTMLCanvasElement {
  const dpr = 2;
  const font = (px: number, bold = false) => `${bold ? '600 ' : ''}${px}px ${theme.font}`;
  const measure = document.createElement('canvas').getContext('2d') as CanvasRenderingContext2D;
  const textW = (s: string, px: number) => {
    measure.font = font(px);
    return measure.measureText(s).width;
  };
  const nr = spec.rowLabels.length;
  const nc = spec.colLabels.length;
  const cw = spec.showCellText ? 52 : 22;
  const ch = spec.showCellText ? 28 : 22;
  const pad = 16;
  const rowLabW = Math.min(220, Math.max(40, ...spec.rowLabels.map((s) => textW(s, 12)))) + 10;
  const colLabH = Math.min(160, Math.max(30, ...spec.colLabels.map((s) => textW(s, 11)))) + 10;
  const titleH = 28;
  const legendH = 46;
  measure.font = font(14, true);
  const W = Math.ceil(Math.max(pad * 2 + rowLabW + nc * cw, pad * 2 + measure.measureText(title).width, 360));
  const H = pad + titleH + colLabH + nr * ch + 12 + legendH + pad;

  const canvas = document.createElement('canvas');
  canvas.width = Math.ceil(W * dpr);
  canvas.height = Math.ceil(H * dpr);
  const ctx = canvas.getContext('2d') as CanvasRenderingContext2D;
  ctx.scale(dpr, dpr);
  ctx.fillStyle = theme.bg;
  ctx.fillRect(0, 0, W, H);

  ctx.fillStyle = theme.fg;
  ctx.font = font(14, true);
  ctx.textBaseline = 'top';
  ctx.fillText(title, pad, pad);

  const x0 = pad + rowLabW;
  const y0 = pad + titleH + colLabH;
  // Column labels, rotated so long layer names fit.
  ctx.font = font(11);
  ctx.textBaseline = 'middle';
  spec.colLabels.forEach((s, c) => {
    ctx.save();
    ctx.translate(x0 + c * cw + cw / 2, y0 - 6);
    ctx.rotate(-Math.PI / 2);
    ctx.textAlign = 'left';
    ctx.fillText(clip(ctx, s, colLabH - 10), 0, 0);
    ctx.restore();
  });
  ctx.font = font(12);
  ctx.textAlign = 'right';
  spec.rowLabels.forEach((s, r) => ctx.fillText(clip(ctx, s, rowLabW - 10), x0 - 8, y0 + r * ch + ch / 2));

  ctx.textAlign = 'center';
  ctx.font = font(11);
  spec.values.forEach((row, r) =>
    row.forEach((v, c) => {
      // Unknown (damaged task): a neutral grey with a dash, outside the colour scale.
      const rgb: [number, number, number] = v === null ? [128, 128, 128] : spec.scale.color(v);
      ctx.fillStyle = rgbCss(rgb);
      ctx.fillRect(x0 + c * cw, y0 + r * ch, cw - 1, ch - 1);
      if (spec.showCellText || v === null) {
        ctx.fillStyle = textOn(rgb);
        ctx.fillText(v === null ? UNKNOWN_TEXT : spec.cellTextAt ? spec.cellTextAt(r, c) : spec.cellText(v), x0 + c * cw + cw / 2, y0 + r * ch + ch / 2);
      }
    }),
  );

  // Legend.
  const ly = y0 + nr * ch + 12;
  const lw = Math.min(256, W - 2 * pad);
  for (let x = 0; x < lw; x++) {
    ctx.fillStyle = rgbCss(spec.scale.color(spec.scale.min + ((spec.scale.max - spec.scale.min) * x) / (lw - 1)));
    ctx.fillRect(pad + x, ly, 1, 12);
  }
  ctx.fillStyle = theme.fg;
  ctx.textBaseline = 'top';
  spec.scale.ticks.forEach((t, i) => {
    const x = pad + (lw * i) / (spec.scale.ticks.length - 1);
    ctx.textAlign = i === 0 ? 'left' : i === spec.scale.ticks.length - 1 ? 'right' : 'center';
    ctx.fillText(legendFmt(t), x, ly + 16);
  });
  return canvas;
}

function clip(ctx: CanvasRenderingContext2D, s: string, max: number): string {
  if (ctx.measureText(s).width <= max) return s;
  let t = s;
  while (t.length > 1 && ctx.measureText(`${t}…`).width > max) t = t.slice(0, -1);
  return `${t}…`;
}
