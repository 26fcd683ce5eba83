/**
 * The runs table (W&B / TensorBoard HParams style): one row per task and per baseline, a
 * column for every result and every hyperparameter of the one table (src/core/hyperparams),
 * sortable by any column, filterable by name, with a "differences only" toggle that keeps
 * the hyperparameter columns whose value is not the same on every shown row. The CSV export
 * is the table as shown.
 */
import { HYPERPARAMS } from '../src/core/hyperparams';
import type { ProjectStats } from '../src/core/types';
import { runRows, type RunRow as Row } from '../src/shared/reportTables';
import { h, int, pct } from './dom';
import { exportCsv } from './exportChart';
import type { ViewContext } from './viewContext';
import { ConfusionView } from './confusion';

type Value = number | string | null;
interface Column {
  key: string;
  label: string;
  title: string;
  /** Hyperparameter columns are the ones "differences only" may hide. */
  hyper: boolean;
  fmt: (v: Value) => string;
}

const num = (v: Value) => (v === null ? '—' : typeof v === 'number' ? String(v) : v);
const RESULT_COLUMNS: Column[] = [
  { key: 'task', label: 'task', title: 'Task name', hyper: false, fmt: num },
  { key: 'method', label: 'method', title: 'piggyback (the mask), or a baseline trained on the same data and budget', hyper: false, fmt: num },
  { key: 'dataset', label: 'dataset', title: 'Dataset the task trained on', hyper: false, fmt: num },
  { key: 'state', label: 'state', title: 'trained, or damaged (with the reason on hover)', hyper: false, fmt: num },
  { key: 'testAccuracy', label: 'test acc', title: 'Top-1 accuracy on the test split', hyper: false, fmt: (v) => (typeof v === 'number' ? pct(v, 2) : '—') },
  { key: 'sparsity', label: 'weights off', title: 'Fraction of masked weights the mask switches off', hyper: false, fmt: (v) => (typeof v === 'number' ? pct(v, 2) : '—') },
  { key: 'bytes', label: 'bytes', title: 'Bytes on disk (baselines: bytes a stored copy would need)', hyper: false, fmt: (v) => (typeof v === 'number' ? int(v) : '—') },
  { key: 'trainSeconds', label: 'train s', title: 'Training wall time in seconds (sum of epochs)', hyper: false, fmt: (v) => (typeof v === 'number' ? v.toFixed(1) : '—') },
  { key: 'trainImages', label: 'train images', title: 'Training images after caps and the validation hold-out', hyper: false, fmt: (v) => (typeof v === 'number' ? int(v) : '—') },
];
const HYPER_COLUMNS: Column[] = HYPERPARAMS.map((s) => ({
  key: s.key,
  label: s.key,
  title: s.doc,
  hyper: true,
  fmt: (v: Value) => (v === null ? (s.optional ? 'all' : '—') : String(v)),
}));
const COLUMNS = [...RESULT_COLUMNS, ...HYPER_COLUMNS];

export class RunsView {
  readonly el: HTMLElement;
  private readonly filter = h('input', { type: 'search', id: 'runs-filter', placeholder: 'Filter rows', 'aria-label': 'Filter runs by task, dataset or method', spellcheck: 'false' });
  private readonly diffBtn = h('button', { type: 'button', class: 'toggle', id: 'runs-diff', 'aria-pressed': 'false', text: 'Differences only' });
  private readonly count = h('span', { class: 'run-count', 'aria-live': 'polite' });
  private readonly wrap = h('div', { class: 'table-wrap' });
  private readonly confusion: ConfusionView;
  private stats: ProjectStats | undefined;
  private sortKey = 'task';
  private sortDesc = false;
  private diffOnly = false;

  constructor(private readonly ctx: ViewContext) {
    const csv = h('button', { type: 'button', 'data-export': 'csv', text: 'Export CSV' });
    csv.addEventListener('click', () => this.exportCsv());
    this.filter.addEventListener('input', () => this.render());
    this.diffBtn.addEventListener('click', () => {
      this.diffOnly = !this.diffOnly;
      this.render();
    });
    this.confusion = new ConfusionView(ctx);
    this.el = h(
      'section',
      { class: 'view', 'data-view': 'runs' },
      h('div', { class: 'toolbar', role: 'toolbar', 'aria-label': 'Runs table tools' }, this.filter, this.diffBtn, this.count, h('span', { class: 'spacer' }), csv),
      this.wrap,
      this.confusion.el,
    );
  }

  update(stats: ProjectStats | undefined): void {
    this.stats = stats;
    this.confusion.update(stats);
    this.render();
  }

  /** Rows after the filter, in the chosen order, and the columns to show. */
  private shown(): { rows: Row[]; cols: Column[] } {
    const f = this.filter.value.trim().toLowerCase();
    const rows = runRows(this.stats).filter((r) => f === '' || [r.task, r.method, String(r.values.dataset)].some((s) => s.toLowerCase().includes(f)));
    const key = this.sortKey;
    const dir = this.sortDesc ? -1 : 1;
    rows.sort((a, b) => {
      const x = a.values[key];
      const y = b.values[key];
      if (x === y) return 0;
      if (x === null || x === undefined) return 1; // unknowns last either way
      if (y === null || y === undefined) return -1;
      return (typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y))) * dir;
    });
    const cols = COLUMNS.filter((c) => !c.hyper || !this.diffOnly || rows.some((r) => (r.values[c.key] ?? null) !== (rows[0].values[c.key] ?? null)));
    return { rows, cols };
  }

  private render(): void {
    this.diffBtn.setAttribute('aria-pressed', String(this.diffOnly));
    const { rows, cols } = this.shown();
    const all = runRows(this.stats).length;
    const hidden = COLUMNS.length - cols.length;
    this.count.textContent = `${rows.length} of ${all} rows${this.diffOnly ? `, ${hidden} identical column${hidden === 1 ? '' : 's'} hidden` : ''}`;
    if (!all) {
      this.wrap.replaceChildren(h('p', { class: 'empty', text: 'No runs yet: train a task to see it here.' }));
      return;
    }
    const head = h(
      'tr',
      {},
      ...cols.map((c) => {
        const sorted = c.key === this.sortKey;
        const btn = h('button', { type: 'button', class: 'link sort', title: c.title, 'data-sort': c.key, text: `${c.label}${sorted ? (this.sortDesc ? ' ▼' : ' ▲') : ''}` });
        btn.addEventListener('click', () => {
          if (this.sortKey === c.key) this.sortDesc = !this.sortDesc;
          else {
            this.sortKey = c.key;
            this.sortDesc = false;
          }
          this.render();
          (this.wrap.querySelector(`button[data-sort="${CSS.escape(c.key)}"]`) as HTMLElement | null)?.focus();
        });
        return h('th', { scope: 'col', 'aria-sort': sorted ? (this.sortDesc ? 'descending' : 'ascending') : 'none', 'data-col': c.key }, btn);
      }),
    );
    const body = rows.map((r) => {
      const damage = this.stats?.tasks.find((t) => t.name === r.task)?.damage ?? undefined;
      return h(
        'tr',
        { 'data-task': r.task, 'data-method': r.method },
        ...cols.map((c) => {
          const v = r.values[c.key] ?? null;
          return h('td', { 'data-col': c.key, 'data-value': v === null ? '' : String(v), title: c.key === 'state' && damage ? damage : undefined, text: c.fmt(v) });
        }),
      );
    });
    this.wrap.replaceChildren(
      h('table', { class: 'data-table runs-table', 'data-table': 'runs' }, h('caption', { text: 'Runs: one row per task and baseline; click a column to sort' }), h('thead', {}, head), h('tbody', {}, ...body)),
    );
  }

  /** The table as shown: its rows and columns, raw values. */
  exportCsv(): void {
    const { rows, cols } = this.shown();
    exportCsv(this.diffOnly ? 'runs-differences' : 'runs', [cols.map((c) => c.key), ...rows.map((r) => cols.map((c) => r.values[c.key] ?? null))]);
  }
}
