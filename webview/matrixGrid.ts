/**
 * A colour-coded matrix as an ARIA grid (heatmap and overlap views share it).
 *
 * Drawn as real DOM cells rather than on a canvas so that screen readers, keyboard focus
 * and tests can reach every value: each cell carries its exact number in data-value.
 * One roving tab stop: Tab enters the grid at the last focused cell, arrows move.
 */
import { announce, h } from './dom';
import { rgbCss, textOn, type ColorScale } from './colorScale';

/** What an unknown cell shows. */
export const UNKNOWN_TEXT = '–';

export interface MatrixSpec {
  /** Used as the grid's accessible name and a CSS/data hook. */
  label: string;
  rowLabels: string[];
  colLabels: string[];
  /** Longer column header titles (hover), e.g. layer shape. */
  colTitles?: string[];
  /** null = unknown (a damaged task): drawn hatched with a dash, never coloured as a value. */
  values: Array<Array<number | null>>;
  scale: ColorScale;
  /** Short text inside a cell. */
  cellText(v: number): string;
  /** Cell text by position, when it is not a function of the coloured value (confusion counts). */
  cellTextAt?(r: number, c: number): string;
  /** Full description for tooltip and live region. */
  describe(r: number, c: number): string;
  showCellText: boolean;
  onActivate?(r: number, c: number): void;
  /** Row headers become buttons when set (e.g. open the task). */
  onRowHeader?(r: number): void;
  rowHeaderHint?: string;
}

export class MatrixGrid {
  readonly el: HTMLElement;
  private readonly tooltip: HTMLElement;
  private cells: HTMLTableCellElement[][] = [];
  private spec: MatrixSpec | undefined;
  private pos = { r: 0, c: 0 };
  private refocus = false;

  constructor() {
    this.tooltip = h('div', { class: 'tooltip', role: 'tooltip', hidden: true });
    this.el = h('div', { class: 'matrix-wrap' });
  }

  get position(): { r: number; c: number } {
    return { ...this.pos };
  }

  render(spec: MatrixSpec): void {
    const hadFocus = this.el.contains(document.activeElement);
    // The cells under a hover or focus are replaced: their tooltip goes (focus puts it back below).
    this.tooltip.hidden = true;
    this.spec = spec;
    const nr = spec.rowLabels.length;
    const nc = spec.colLabels.length;
    this.pos = { r: Math.min(this.pos.r, Math.max(0, nr - 1)), c: Math.min(this.pos.c, Math.max(0, nc - 1)) };

    const table = h('table', {
      role: 'grid',
      class: `matrix${spec.showCellText ? '' : ' compact'}`,
      'aria-label': spec.label,
      'aria-rowcount': nr + 1,
      'aria-colcount': nc + 1,
    });
    const head = h('tr', { role: 'row' }, h('td', { class: 'corner', role: 'presentation' }));
    spec.colLabels.forEach((name, c) => {
      head.append(
        h('th', { role: 'columnheader', scope: 'col', class: 'colhead', title: spec.colTitles?.[c] ?? name },
          h('span', { text: name })),
      );
    });
    table.append(h('thead', {}, head));
    const body = h('tbody');
    this.cells = spec.values.map((row, r) => {
      const rh = h('th', { role: 'rowheader', scope: 'row', class: 'rowhead' });
      if (spec.onRowHeader) {
        const b = h('button', { type: 'button', class: 'link', text: spec.rowLabels[r], title: spec.rowHeaderHint ?? '' });
        b.addEventListener('click', () => spec.onRowHeader?.(r));
        rh.append(b);
      } else rh.textContent = spec.rowLabels[r];
      const tr = h('tr', { role: 'row' }, rh);
      const cells = row.map((v, c) => {
        const text = v === null ? UNKNOWN_TEXT : spec.cellTextAt ? spec.cellTextAt(r, c) : spec.cellText(v);
        const td = h('td', {
          role: 'gridcell',
          class: v === null ? 'cell unknown' : 'cell',
          tabindex: -1,
          'data-row': r,
          'data-col': c,
          'data-value': String(v),
          text: spec.showCellText ? text : '',
        });
        if (v !== null) {
          // CSSOM writes are allowed by the CSP (style attributes are not).
          const rgb = spec.scale.color(v);
          td.style.backgroundColor = rgbCss(rgb);
          td.style.color = textOn(rgb);
        }
        if (!spec.showCellText) td.setAttribute('aria-label', v === null ? 'unknown' : text);
        td.addEventListener('mouseenter', () => this.showTooltip(r, c));
        td.addEventListener('mouseleave', () => this.hideTooltipUnlessFocused());
        td.addEventListener('click', () => {
          this.focusCell(r, c);
          spec.onActivate?.(r, c);
        });
        tr.append(td);
        return td;
      });
      body.append(tr);
      return cells;
    });
    table.append(body);
    table.addEventListener('keydown', (e) => this.onKey(e));
    // Focus moving anywhere but another cell (a row header button is inside the table too) takes the tooltip away.
    table.addEventListener('focusout', (e) => {
      const to = e.relatedTarget;
      if (!(to instanceof HTMLElement && to.classList.contains('cell') && table.contains(to))) this.tooltip.hidden = true;
    });

    this.el.replaceChildren(table, this.tooltip);
    this.setTabStop();
    this.refocus = hadFocus && nr > 0 && nc > 0;
    if (this.refocus) this.focusCell(this.pos.r, this.pos.c);
  }

  /**
   * Views re-insert el after render (replaceChildren), which drops focus: call this after, so a
   * keyboard user keeps the cell (and its tooltip) through live updates.
   */
  restoreFocus(): void {
    if (this.refocus && this.el.isConnected && !this.el.contains(document.activeElement)) this.focusCell(this.pos.r, this.pos.c);
    this.refocus = false;
  }

  focusCell(r: number, c: number): void {
    const cell = this.cells[r]?.[c];
    if (!cell || !this.spec) return;
    this.pos = { r, c };
    this.setTabStop();
    cell.focus();
    const text = this.spec.describe(r, c);
    this.showTooltip(r, c);
    announce(text);
  }

  /** Marks the cell whose details are shown elsewhere (e.g. the overlap pair). */
  select(r: number, c: number): void {
    this.cells.forEach((row, i) => row.forEach((td, j) => td.setAttribute('aria-selected', String(i === r && j === c))));
  }

  private setTabStop(): void {
    this.cells.forEach((row, r) => row.forEach((td, c) => (td.tabIndex = r === this.pos.r && c === this.pos.c ? 0 : -1)));
  }

  private onKey(e: KeyboardEvent): void {
    const t = e.target as HTMLElement;
    if (!t.classList.contains('cell') || !this.spec) return;
    const nr = this.cells.length;
    const nc = this.cells[0]?.length ?? 0;
    let { r, c } = this.pos;
    switch (e.key) {
      case 'ArrowRight': c = Math.min(nc - 1, c + 1); break;
      case 'ArrowLeft': c = Math.max(0, c - 1); break;
      case 'ArrowDown': r = Math.min(nr - 1, r + 1); break;
      case 'ArrowUp': r = Math.max(0, r - 1); break;
      case 'Home': c = 0; if (e.ctrlKey) r = 0; break;
      case 'End': c = nc - 1; if (e.ctrlKey) r = nr - 1; break;
      case 'Enter':
      case ' ':
        e.preventDefault();
        this.spec.onActivate?.(r, c);
        return;
      case 'Escape':
        this.tooltip.hidden = true;
        return;
      default:
        return;
    }
    e.preventDefault();
    this.focusCell(r, c);
  }

  private showTooltip(r: number, c: number): void {
    const cell = this.cells[r]?.[c];
    if (!cell || !this.spec) return;
    this.tooltip.textContent = this.spec.describe(r, c);
    this.tooltip.hidden = false;
    // Place below-right of the cell, inside the scrollable wrapper's coordinate space.
    const wrap = this.el.getBoundingClientRect();
    const box = cell.getBoundingClientRect();
    const left = Math.min(box.left - wrap.left + this.el.scrollLeft, this.el.scrollWidth - this.tooltip.offsetWidth - 4);
    this.tooltip.style.left = `${Math.max(0, left)}px`;
    this.tooltip.style.top = `${box.bottom - wrap.top + this.el.scrollTop + 4}px`;
  }

  private hideTooltipUnlessFocused(): void {
    const f = this.cells[this.pos.r]?.[this.pos.c];
    if (f && document.activeElement === f) this.showTooltip(this.pos.r, this.pos.c);
    else this.tooltip.hidden = true;
  }
}
