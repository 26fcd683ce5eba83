/**
 * Viridis sequential palette (perceptually uniform, readable with the common colour-vision
 * deficiencies and in greyscale). Eleven samples of matplotlib's viridis, linearly
 * interpolated: close enough to the real map for a heatmap, and no dependency.
 * The palette deliberately ignores the VS Code theme: the same value must look the same
 * in every theme and in exported PNGs.
 */
const VIRIDIS = [
  '#440154', '#482475', '#414487', '#355f8d', '#2a788e', '#21918c',
  '#22a884', '#44bf70', '#7ad151', '#bddf26', '#fde725',
].map((hex) => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)));

export type Rgb = [number, number, number];

export function viridis(t: number): Rgb {
  const x = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0)) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(x));
  const f = x - i;
  const a = VIRIDIS[i];
  const b = VIRIDIS[i + 1];
  return [0, 1, 2].map((k) => Math.round(a[k] + (b[k] - a[k]) * f)) as Rgb;
}

export const rgbCss = ([r, g, b]: Rgb): string => `rgb(${r}, ${g}, ${b})`;

/** Black or white text, whichever contrasts more with the cell (WCAG relative luminance). */
export function textOn([r, g, b]: Rgb): string {
  const lin = (c: number) => {
    const s = c / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  };
  const lum = 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
  return lum > 0.179 ? '#000000' : '#ffffff';
}

/** A linear value -> colour mapping with a fixed domain, shared by grid, legend and PNG export. */
export interface ColorScale {
  min: number;
  max: number;
  color(v: number): Rgb;
  /** Tick values for the legend. */
  ticks: number[];
}

/**
 * Sparsities are often a few percent, so a fixed [0, 1] domain would paint every cell
 * the same dark purple. Round the data maximum up to a "nice" number instead.
 */
export function niceMax(v: number): number {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v - 1e-12) return m * p;
  return 10 * p;
}

export function makeScale(min: number, max: number): ColorScale {
  const span = max - min || 1;
  // Round tick steps (0, 10, 20 %... rather than 12.5 %); niceMax domains divide evenly.
  const step = niceMax(span / 5);
  const n = Math.max(1, Math.round(span / step));
  const ticks = Array.from({ length: n + 1 }, (_, i) => Math.min(max, min + step * i));
  return { min, max, ticks, color: (v) => viridis((v - min) / span) };
}
