/**
 * Forgetting matrix (issue #10.2, Avalanche's accuracy matrix): rows are tasks in training
 * order, columns "after task k was added". The stored accuracies (the diagonal) show at once;
 * "Re-evaluate" runs engine.forgettingMatrix in the worker and fills the rest. Baselines sit
 * beside it, and the view says in words whether forgetting is exactly zero.
 */
import type { ForgettingMatrixResult } from '../src/core/engine';
import type { ProjectStats } from '../src/core/types';
import { h, pct } from './dom';
import { makeScale } from './colorScale';
import { MatrixGrid, type MatrixSpec } from './matrixGrid';
import { renderLegend } from './legend';
import { matrixToCanvas } from './matrixCanvas';
import { exportButtons, exportCsv, exportPng } from './exportChart';
import { AnalysisChannel } from './analysisClient';
import type { ViewContext } from './viewContext';

/** What the matrix shows: the stored diagonal only, or a full re-evaluation. */
type Shown = Pick<ForgettingMatrixResult, 'tasks' | 'accuracy' | 'baselines'> & { computed: ForgettingMatrixResult | null };

const accText = (v: number | null): string => (v === null ? '–' : pct(v, 2));
const points = (v: number | null): string => (v === null ? '–' : `${(100 * v).toFixed(2)} pts`);

/** The explicit statement the issue asks for; exported with the CSV too. */
export function forgettingStatement(r: ForgettingMatrixResult): string {
  if (r.tasks.length === 0) return 'No tasks yet.';
  if (r.zeroForgetting) {
    return `Zero forgetting: every task re-evaluates to exactly the accuracy it had when it was trained (all ${r.tasks.length} rows equal their diagonal; BWT ${points(r.bwt)}). Piggyback never changes the backbone or an earlier task.`;
  }
  const diffs = r.tasks.flatMap((t, i) => {
    const a = r.trainedAccuracy[i];
    const b = r.reevaluated[i];
    return a !== null && b !== null && a !== b ? [`${t} ${accText(a)} → ${accText(b)}`] : [];
  });
  const unknown = r.tasks.filter((_, i) => r.trainedAccuracy[i] === null);
  return `Not exactly zero forgetting${diffs.length ? `: ${diffs.join(', ')}` : ''}${unknown.length ? `; no accuracy recorded at training for ${unknown.join(', ')}` : ''}${r.damaged.length ? `; not evaluated: ${r.damaged.map((d) => `${d.task} (${d.reason})`).join(', ')}` : ''}. BWT ${points(r.bwt)}.`;
}

export class ForgettingView {
  readonly el: HTMLElement;
  private readonly grid = new MatrixGrid();
  private readonly body = h('div', { class: 'view-body' });
  private readonly status = h('p', { class: 'forgetting-status', role: 'status' });
  private readonly run = h('button', { type: 'button', 'data-action': 'reevaluate', text: 'Re-evaluate every task' });
  private readonly channel = new AnalysisChannel();
  private stats: ProjectStats | undefined;
  private computed: ForgettingMatrixResult | null = null;
  private shown: Shown | undefined;
  private spec: MatrixSpec | undefined;

  constructor(private readonly ctx: ViewContext) {
    this.run.addEventListener('click', () => this.reevaluate());
    const [png, csv] = exportButtons(() => this.exportPng(), () => this.exportCsv());
    this.el = h(
      'section',
      { class: 'view', 'data-view': 'forgetting' },
      h('div', { class: 'toolbar', role: 'toolbar', 'aria-label': 'Forgetting matrix tools' }, this.run, h('span', { class: 'spacer' }), png, csv),
      h('p', {
        class: 'hint',
        text: 'Each task\u2019s test accuracy after each later task was added (rows: tasks in training order). The diagonal is the accuracy stored when the task was trained; the cells right of it are filled by re-evaluating the stored files. Baselines are separate copies of the network, beside it.',
      }),
      this.status,
      this.body,
    );
  }

  update(stats: ProjectStats | undefined): void {
    // Another project, or tasks added or removed: an earlier re-evaluation no longer applies.
    const key = (s: ProjectStats | undefined) => (s ? `${s.dir}|${s.tasks.map((t) => t.name).join('|')}` : '');
    if (key(stats) !== key(this.stats)) {
      this.computed = null;
      this.channel.cancel();
      this.run.removeAttribute('aria-busy');
      this.status.textContent = '';
    }
    this.stats = stats;
    this.render();
  }

  private reevaluate(): void {
    this.channel.runFromButton(this.run, this.status, 'Re-evaluating every task from its stored files in the worker…', { kind: 'forgetting' }, (r) => {
      if (r.kind !== 'forgetting') return;
      this.computed = r.matrix;
      this.status.textContent = forgettingStatement(r.matrix);
      this.render();
    });
  }

  /** Stored version: stats order is the manifest's, the order tasks were added. */
  private storedShown(s: ProjectStats): Shown {
    const tasks = s.tasks.map((t) => t.name);
    const base = (i: number, m: 'classifier' | 'finetune') => s.tasks[i].baselines.find((b) => b.method === m)?.testAccuracy ?? null;
    return {
      tasks,
      accuracy: s.tasks.map((t, i) => tasks.map((_, k) => (k === i ? t.testAccuracy : null))),
      baselines: tasks.map((_, i) => ({ classifier: base(i, 'classifier'), finetune: base(i, 'finetune') })),
      computed: null,
    };
  }

  private render(): void {
    const s = this.stats;
    if (!s || s.tasks.length === 0) {
      this.shown = this.spec = undefined;
      this.run.disabled = true;
      this.body.replaceChildren(h('p', { class: 'empty', text: 'No tasks yet: train a task to see its accuracy as later tasks are added.' }));
      return;
    }
    this.run.disabled = false;
    const shown: Shown = this.computed ? { ...this.computed, computed: this.computed } : this.storedShown(s);
    this.shown = shown;
    const { tasks, accuracy } = shown;
    const scale = makeScale(0, 1);
    this.spec = {
      label: 'Accuracy of each task after each task was added',
      rowLabels: tasks,
      colLabels: tasks.map((t) => `after ${t}`),
      values: accuracy,
      scale,
      showCellText: tasks.length <= 16,
      cellText: (v) => (v * 100).toFixed(1),
      describe: (i, k) => {
        const v = accuracy[i][k];
        if (k < i) return `${tasks[i]} after ${tasks[k]}: ${tasks[i]} was not added yet`;
        if (v === null) return k === i ? `${tasks[i]}: no accuracy stored when it was trained` : `${tasks[i]} after ${tasks[k]}: not re-evaluated yet (Re-evaluate every task)`;
        return `${tasks[i]} after ${tasks[k]}: ${pct(v, 2)} test accuracy (${k === i ? 'stored when trained' : 're-evaluated from the stored files'})`;
      },
    };
    this.grid.render(this.spec);
    const baseRows = tasks.map((t, i) =>
      h('tr', {}, h('th', { scope: 'row', text: t }),
        h('td', { 'data-value': String(accuracy[i][i]), text: accText(accuracy[i][i]) }),
        h('td', { 'data-value': String(shown.baselines[i].classifier), text: accText(shown.baselines[i].classifier) }),
        h('td', { 'data-value': String(shown.baselines[i].finetune), text: accText(shown.baselines[i].finetune) })),
    );
    const baselines = h('table', { class: 'data-table', 'data-table': 'forgetting-baselines' },
      h('caption', { text: 'Beside it: the baselines (separate copies, run by Run Baselines)' }),
      h('thead', {}, h('tr', {}, ...['task', 'Piggyback (trained)', 'classifier-only', 'fine-tune'].map((c) => h('th', { scope: 'col', text: c })))),
      h('tbody', {}, ...baseRows));
    const note = shown.computed ? [] : [h('p', { class: 'meta', text: 'Stored accuracies only: press Re-evaluate every task to fill the cells right of the diagonal.' })];
    this.body.replaceChildren(...note, renderLegend(scale, 'Test accuracy', (v) => pct(v, 0)), h('div', { class: 'side-by-side' }, this.grid.el, baselines));
    this.grid.restoreFocus();
  }

  exportPng(): void {
    if (!this.spec) return;
    exportPng('forgetting-matrix', matrixToCanvas(this.spec, 'Accuracy of each task after each task was added', (v) => pct(v, 0), this.ctx.theme()));
  }

  exportCsv(): void {
    const sh = this.shown;
    if (!sh) return;
    exportCsv('forgetting-matrix', [
      ['task', ...sh.tasks.map((t) => `after ${t}`), 'classifier-only', 'fine-tune'],
      ...sh.tasks.map((t, i) => [t, ...sh.accuracy[i], sh.baselines[i].classifier, sh.baselines[i].finetune]),
      ...(sh.computed ? [[forgettingStatement(sh.computed)]] : [['stored accuracies only (not re-evaluated)']]),
    ]);
  }
}
