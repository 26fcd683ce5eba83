/**
 * A task's confusion matrix from its test evaluation after training (true class x predicted
 * class), drawn as the same keyboard-reachable grid as the heatmap. Colours are the fraction
 * of that true class (row-normalised, so classes of different sizes compare); the cells and
 * the hover give the counts. Exports PNG and CSV.
 */
import type { ProjectStats } from '../src/core/types';
import { makeScale } from './colorScale';
import { h, int, pct } from './dom';
import { exportButtons, exportCsv, exportPng } from './exportChart';
import { renderLegend } from './legend';
import { matrixToCanvas } from './matrixCanvas';
import { MatrixGrid, type MatrixSpec } from './matrixGrid';
import type { ViewContext } from './viewContext';

export class ConfusionView {
  readonly el: HTMLElement;
  private readonly grid = new MatrixGrid();
  private readonly body = h('div', { class: 'view-body' });
  private readonly taskSelect = h('select', { id: 'confusion-task', 'aria-label': 'Task' });
  private stats: ProjectStats | undefined;
  private spec: MatrixSpec | undefined;
  private task = '';

  constructor(private readonly ctx: ViewContext) {
    this.taskSelect.addEventListener('change', () => {
      this.task = this.taskSelect.value;
      this.render();
    });
    const [png, csv] = exportButtons(() => this.exportPng(), () => this.exportCsv());
    this.el = h(
      'section',
      { class: 'view', 'data-view': 'confusion' },
      h('h2', { text: 'Confusion matrix (test split, after training)' }),
      h('div', { class: 'toolbar' }, h('label', { for: 'confusion-task', class: 'select-label' }, 'Task ', this.taskSelect), h('span', { class: 'spacer' }), png, csv),
      this.body,
    );
  }

  update(stats: ProjectStats | undefined): void {
    this.stats = stats;
    const withMatrix = (stats?.tasks ?? []).filter((t) => t.confusion);
    if (!withMatrix.some((t) => t.name === this.task)) this.task = withMatrix[0]?.name ?? '';
    this.taskSelect.replaceChildren(...withMatrix.map((t) => h('option', { value: t.name, text: t.name })));
    this.taskSelect.value = this.task;
    this.render();
  }

  private render(): void {
    const t = this.stats?.tasks.find((x) => x.name === this.task);
    if (!t?.confusion) {
      this.spec = undefined;
      this.body.replaceChildren(h('p', { class: 'empty', text: 'No stored test evaluation: tasks saved by older versions have none; retrain to see one.' }));
      return;
    }
    const m = t.confusion;
    const rowSum = m.map((r) => r.reduce((a, b) => a + b, 0));
    const values = m.map((r, i) => r.map((v) => (rowSum[i] ? v / rowSum[i] : 0)));
    const names = t.classNames;
    const scale = makeScale(0, 1);
    this.spec = {
      label: `Confusion matrix of ${t.name}: rows true class, columns predicted class`,
      rowLabels: names.map((n) => `true ${n}`),
      colLabels: names.map((n) => `predicted ${n}`),
      values,
      scale,
      showCellText: names.length <= 20,
      cellText: (v) => pct(v, 0),
      cellTextAt: (r, c) => String(m[r][c]),
      describe: (r, c) => `${t.name}: true ${names[r]}, predicted ${names[c]}: ${int(m[r][c])} of ${int(rowSum[r])} (${pct(values[r][c], 1)})`,
    };
    this.grid.render(this.spec);
    this.body.replaceChildren(renderLegend(scale, 'Fraction of the true class', (v) => pct(v, 0)), this.grid.el);
    this.grid.restoreFocus();
  }

  exportPng(): void {
    if (!this.spec) return;
    exportPng(`confusion-${this.task}`, matrixToCanvas(this.spec, this.spec.label, (v) => pct(v, 0), this.ctx.theme()));
  }

  exportCsv(): void {
    const t = this.stats?.tasks.find((x) => x.name === this.task);
    if (!t?.confusion) return;
    exportCsv(`confusion-${this.task}`, [['true \\ predicted', ...t.classNames], ...t.confusion.map((r, i) => [t.classNames[i], ...r])]);
  }
}
