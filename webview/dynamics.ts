/**
 * Mask dynamics: layers x epochs, each cell the fraction of the layer's mask bits that flipped
 * in that epoch, from the task history already in the state. Each row says when the layer
 * settled (core/analysis/dynamics.ts decides, the same rule as `piggyback dynamics`).
 */
import type { ProjectStats } from '../src/core/types';
import { maskDynamics, SETTLE_FRACTION, type MaskDynamics } from '../src/core/analysis/dynamics';
import { h, int, labelledSelect, pct } from './dom';
import { makeScale, niceMax } from './colorScale';
import { MatrixGrid, type MatrixSpec } from './matrixGrid';
import { renderLegend } from './legend';
import { matrixToCanvas } from './matrixCanvas';
import { exportButtons, exportCsv, exportPng } from './exportChart';
import type { ViewContext } from './viewContext';

export const settledText = (e: number | null): string => (e === null ? 'not settled' : `settled after epoch ${e}`);

export class DynamicsView {
  readonly el: HTMLElement;
  private readonly grid = new MatrixGrid();
  private readonly body = h('div', { class: 'view-body' });
  private readonly task = labelledSelect('dynamics-task', 'Task', []);
  private stats: ProjectStats | undefined;
  private shown: { task: string; d: MaskDynamics } | undefined;
  private spec: MatrixSpec | undefined;

  constructor(private readonly ctx: ViewContext) {
    this.task.select.addEventListener('change', () => {
      ctx.state.dynamicsTask = this.task.select.value;
      ctx.persist();
      this.render();
    });
    const [png, csv] = exportButtons(() => this.exportPng(), () => this.exportCsv());
    this.el = h(
      'section',
      { class: 'view', 'data-view': 'dynamics' },
      h('div', { class: 'toolbar', role: 'toolbar', 'aria-label': 'Mask dynamics tools' }, this.task.el, h('span', { class: 'spacer' }), png, csv),
      h('p', {
        class: 'hint',
        text: `Fraction of each layer\u2019s mask bits that flipped in each epoch (epoch 1: from the all-ones start). A layer has settled after epoch N when every later epoch flips fewer than ${pct(SETTLE_FRACTION, 0)} of its bits. Arrow keys move between cells.`,
      }),
      this.body,
    );
  }

  update(stats: ProjectStats | undefined): void {
    this.stats = stats;
    this.render();
  }

  private render(): void {
    const s = this.stats;
    const tasks = s?.tasks.filter((t) => t.history.length > 0) ?? [];
    this.task.select.replaceChildren(...tasks.map((t) => h('option', { value: t.name, text: t.name })));
    if (!s || tasks.length === 0) {
      this.shown = this.spec = undefined;
      this.body.replaceChildren(h('p', { class: 'empty', text: 'No task has a training history yet: train a task to see how its mask changed per epoch.' }));
      return;
    }
    const withLayers = tasks.find((t) => maskDynamics(t.history, s.layers).perLayer);
    const t = tasks.find((x) => x.name === this.ctx.state.dynamicsTask) ?? withLayers ?? tasks[0];
    this.task.select.value = t.name;
    const d = maskDynamics(t.history, s.layers);
    if (!d.perLayer) {
      this.shown = this.spec = undefined;
      this.body.replaceChildren(h('p', { class: 'empty', text: `Task "${t.name}" was trained before per-layer flips were recorded: retrain it to see its dynamics.` }));
      return;
    }
    this.shown = { task: t.name, d };
    const values = d.layers.map((l) => l.flipFraction.slice());
    const max = niceMax(Math.max(0, ...values.flat()));
    const scale = makeScale(0, max);
    this.spec = {
      label: `Bits flipped per layer and epoch, task ${t.name}`,
      rowLabels: d.layers.map((l) => `${l.name} · ${settledText(l.settledAfterEpoch)}`),
      colLabels: d.epochs.map((e) => `epoch ${e}`),
      values,
      scale,
      showCellText: d.epochs.length <= 30,
      cellText: (v) => (v * 100).toFixed(1),
      describe: (r, c) => {
        const l = d.layers[r];
        return `${t.name}, ${l.name}, epoch ${d.epochs[c]}: ${int(l.flips[c])} of ${int(l.size)} bits flipped (${pct(l.flipFraction[c], 2)}); ${settledText(l.settledAfterEpoch)}`;
      },
    };
    this.grid.render(this.spec);
    this.body.replaceChildren(renderLegend(scale, 'Bits flipped in the epoch', (v) => pct(v, max < 0.1 ? 1 : 0)), this.grid.el);
    this.grid.restoreFocus();
  }

  exportPng(): void {
    if (!this.spec || !this.shown) return;
    exportPng(`mask-dynamics-${this.shown.task}`, matrixToCanvas(this.spec, `Bits flipped per layer and epoch: ${this.shown.task}`, (v) => pct(v, 0), this.ctx.theme()));
  }

  exportCsv(): void {
    if (!this.shown) return;
    const { task, d } = this.shown;
    exportCsv(`mask-dynamics-${task}`, [
      ['layer', 'weights', ...d.epochs.map((e) => `flipped epoch ${e}`), 'settled after epoch'],
      ...d.layers.map((l) => [l.name, l.size, ...l.flips, l.settledAfterEpoch]),
    ]);
  }
}
