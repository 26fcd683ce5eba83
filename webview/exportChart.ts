/**
 * Export helpers. The webview cannot write files, so it hands the bytes to the host, which
 * shows a save dialog; the name sent is only a suggestion.
 */
import { h } from './dom';
import { post } from './vscodeApi';

export function pngBase64(canvas: HTMLCanvasElement): string {
  const url = canvas.toDataURL('image/png');
  return url.slice(url.indexOf(',') + 1);
}

export function exportPng(file: string, canvas: HTMLCanvasElement): void {
  post({ type: 'export', file: safeName(file, 'png'), format: 'png', data: pngBase64(canvas) });
}

export function exportCsv(file: string, rows: (string | number | null)[][]): void {
  post({ type: 'export', file: safeName(file, 'csv'), format: 'csv', data: toCsv(rows) });
}

/** Protocol requires a bare file name with the right extension; task/layer names may contain anything. */
export function safeName(base: string, ext: string): string {
  const clean = base.replace(/[\\/:*?"<>|\u0000-\u001f]+/g, '_').slice(0, 180) || 'export';
  return `${clean}.${ext}`;
}

/**
 * RFC 4180 quoting. Text cells that a spreadsheet would run as a formula are prefixed with
 * an apostrophe (names come from user data). Numbers are written with full precision.
 */
export function toCsv(rows: (string | number | null)[][]): string {
  const cell = (v: string | number | null): string => {
    if (v === null) return '';
    if (typeof v === 'number') return Number.isFinite(v) ? String(v) : '';
    const s = /^[=+\-@\t\r]/.test(v) ? `'${v}` : v;
    return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return rows.map((r) => r.map(cell).join(',')).join('\r\n') + '\r\n';
}

/** The Export PNG / Export CSV button pair every view's toolbar carries. */
export function exportButtons(onPng: () => void, onCsv: () => void): [HTMLButtonElement, HTMLButtonElement] {
  const png = h('button', { type: 'button', 'data-export': 'png', text: 'Export PNG' });
  const csv = h('button', { type: 'button', 'data-export': 'csv', text: 'Export CSV' });
  png.addEventListener('click', onPng);
  csv.addEventListener('click', onCsv);
  return [png, csv];
}
