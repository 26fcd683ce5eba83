/**
 * WAI-ARIA tabs with automatic activation: one tab stop for the whole tab list, arrows move
 * between tabs, Home/End jump, and the matching panel is shown immediately.
 */
import { h } from './dom';

export interface TabDef<Id extends string> {
  id: Id;
  label: string;
  panel: HTMLElement;
}

export class Tabs<Id extends string> {
  readonly el: HTMLElement;
  private readonly buttons: HTMLButtonElement[];
  private current: Id;

  constructor(
    private readonly defs: TabDef<Id>[],
    initial: Id,
    private readonly onChange: (id: Id) => void,
  ) {
    this.current = initial;
    this.buttons = defs.map((d) => {
      const b = h('button', {
        role: 'tab',
        id: `tab-${d.id}`,
        class: 'tab',
        type: 'button',
        'aria-controls': `panel-${d.id}`,
        text: d.label,
      });
      b.addEventListener('click', () => this.select(d.id, true));
      d.panel.id = `panel-${d.id}`;
      d.panel.setAttribute('role', 'tabpanel');
      d.panel.setAttribute('aria-labelledby', b.id);
      d.panel.tabIndex = -1;
      return b;
    });
    this.el = h('div', { role: 'tablist', class: 'tablist', 'aria-label': 'Mask explorer views' }, ...this.buttons);
    this.el.addEventListener('keydown', (e) => this.onKey(e));
    this.apply();
  }

  get selected(): Id {
    return this.current;
  }

  select(id: Id, focus = false): void {
    const changed = id !== this.current;
    this.current = id;
    this.apply();
    if (focus) this.buttons[this.index()].focus();
    if (changed) this.onChange(id);
  }

  private index(): number {
    return Math.max(0, this.defs.findIndex((d) => d.id === this.current));
  }

  private apply(): void {
    this.defs.forEach((d, i) => {
      const on = d.id === this.current;
      const b = this.buttons[i];
      b.setAttribute('aria-selected', String(on));
      b.tabIndex = on ? 0 : -1;
      d.panel.hidden = !on;
    });
  }

  private onKey(e: KeyboardEvent): void {
    const n = this.defs.length;
    const i = this.index();
    const next =
      e.key === 'ArrowRight' ? (i + 1) % n
      : e.key === 'ArrowLeft' ? (i - 1 + n) % n
      : e.key === 'Home' ? 0
      : e.key === 'End' ? n - 1
      : -1;
    if (next < 0) return;
    e.preventDefault();
    this.select(this.defs[next].id, true);
  }
}
