/**
 * Export helpers. The webview cannot write files, so it hands the bytes to the host, which
 * shows a save dialog; the name sent is only a suggestion.
 */
import { h } from './dom';
import { post } from './vscodeApi';
import { toCsv } from '../src/shared/reportTables';

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

export { toCsv } from '../src/shared/reportTables';

/** The Export PNG / Export CSV button pair every view's toolbar carries. */
export function exportButtons(onPng: () => void, onCsv: () => void): [HTMLButtonElement, HTMLButtonElement] {
  const png = h('button', { type: 'button', 'data-export': 'png', text: 'Export PNG' });
  const csv = h('button', { type: 'button', 'data-export': 'csv', text: 'Export CSV' });
  png.addEventListener('click', onPng);
  csv.addEventListener('click', onCsv);
  return [png, csv];
}
