/**
 * Task inference, as an experiment (issue #10.7, SupSup-style): for each task's test images,
 * which task's mask and head is most confident (lowest normalised entropy)? Drawn as a true
 * task x inferred task confusion matrix, computed on request by engine.inferTasks in the worker.
 */
import type { TaskInferenceResult } from '../src/core/engine';
import type { ProjectStats } from '../src/core/types';
import { makeScale } from './colorScale';
import { h, int, pct } from './dom';
import { exportButtons, exportCsv, exportPng } from './exportChart';
import { renderLegend } from './legend';
import { matrixToCanvas } from './matrixCanvas';
import { MatrixGrid, type MatrixSpec } from './matrixGrid';
import { AnalysisChannel } from './analysisClient';
import type { ViewContext } from './viewContext';

export class InferenceView {
  readonly el: HTMLElement;
  private readonly grid = new MatrixGrid();
  private readonly body = h('div', { class: 'view-body' });
  private readonly status = h('p', { class: 'inference-status', role: 'status' });
  private readonly run = h('button', { type: 'button', 'data-action': 'infer', text: 'Run task inference' });
  private readonly channel = new AnalysisChannel();
  private result: TaskInferenceResult | undefined;
  private spec: MatrixSpec | undefined;
  private key = '';

  constructor(private readonly ctx: ViewContext) {
    this.run.addEventListener('click', () => this.infer());
    const [png, csv] = exportButtons(() => this.exportPng(), () => this.exportCsv());
    this.el = h(
      'section',
      { class: 'view', 'data-view': 'inference' },
      h('div', { class: 'toolbar', role: 'toolbar', 'aria-label': 'Task inference tools' }, this.run, h('span', { class: 'spacer' }), png, csv),
      h('p', { class: 'hint', text: 'An experiment: given an image and no task label, pick the task whose mask and head is most confident (lowest softmax entropy, divided by log of its class count). Rows: the task the test images belong to; columns: the task picked. A strong diagonal means one deployed network could pick its task by itself.' }),
      this.status,
      this.body,
    );
  }

  update(stats: ProjectStats | undefined): void {
    const key = stats ? `${stats.dir}|${stats.tasks.map((t) => t.name).join('|')}` : '';
    if (key !== this.key) {
      this.key = key;
      this.result = undefined;
      this.channel.cancel();
      this.run.removeAttribute('aria-busy');
      this.status.textContent = '';
    }
    const trained = stats?.tasks.filter((t) => t.state === 'trained').length ?? 0;
    this.run.disabled = trained < 2;
    if (!this.result) {
      this.spec = undefined;
      this.body.replaceChildren(h('p', { class: 'empty', text: trained < 2 ? 'Task inference needs at least two trained tasks.' : 'Press Run task inference: every task\u2019s network scores every task\u2019s test images (up to 100 each) in the worker.' }));
    }
  }

  private infer(): void {
    this.channel.runFromButton(this.run, this.status, 'Running every task\u2019s network on every task\u2019s test images in the worker…', { kind: 'inference' }, (r) => {
      if (r.kind !== 'inference') return;
      this.result = r.result;
      this.status.textContent = `The most confident network was the images\u2019 own task for ${pct(r.result.accuracy, 2)} of ${int(r.result.imagesPerTask.reduce((a, b) => a + b, 0))} test images (chance: ${pct(1 / r.result.tasks.length, 1)}).`;
      this.render(r.result);
    });
  }

  private render(r: TaskInferenceResult): void {
    const m = r.confusion;
    const rowSum = m.map((row) => row.reduce((a, b) => a + b, 0));
    const values = m.map((row, i) => row.map((v) => (rowSum[i] ? v / rowSum[i] : 0)));
    const scale = makeScale(0, 1);
    this.spec = {
      label: 'Task inference: rows the images\u2019 task, columns the task picked',
      rowLabels: r.tasks.map((t) => `images of ${t}`),
      colLabels: r.tasks.map((t) => `picked ${t}`),
      values,
      scale,
      showCellText: r.tasks.length <= 20,
      cellText: (v) => pct(v, 0),
      cellTextAt: (i, j) => String(m[i][j]),
      describe: (i, j) => `${r.tasks[i]} test images picked as ${r.tasks[j]}: ${int(m[i][j])} of ${int(rowSum[i])} (${pct(values[i][j], 1)})`,
    };
    this.grid.render(this.spec);
    this.body.replaceChildren(renderLegend(scale, 'Fraction of the task\u2019s test images', (v) => pct(v, 0)), this.grid.el);
    this.grid.restoreFocus();
  }

  exportPng(): void {
    if (!this.spec) return;
    exportPng('task-inference', matrixToCanvas(this.spec, this.spec.label, (v) => pct(v, 0), this.ctx.theme()));
  }

  exportCsv(): void {
    const r = this.result;
    if (!r) return;
    exportCsv('task-inference', [['images of \\ picked', ...r.tasks], ...r.confusion.map((row, i) => [r.tasks[i], ...row])]);
  }
}
