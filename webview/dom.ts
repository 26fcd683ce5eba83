/** Tiny element builder: the UI is small enough that a framework would cost more than it saves. */

type Attrs = Record<string, string | number | boolean | undefined>;
type Child = Node | string | null | undefined | false;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    // Never set 'style' as an attribute: the CSP blocks it. Styles go through el.style.
    if (k === 'style') throw new Error('use el.style, not a style attribute (CSP)');
    if (k === 'class') el.className = String(v);
    else if (k === 'text') el.textContent = String(v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, ...children);
  return el;
}

export function append(el: Element, ...children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.append(typeof c === 'string' ? document.createTextNode(c) : c);
  }
}

export function clear(el: Element): void {
  while (el.firstChild) el.removeChild(el.firstChild);
}

export const pct = (v: number, digits = 1): string => `${(v * 100).toFixed(digits)}%`;
export const int = (v: number): string => Math.round(v).toLocaleString('en-US');

/** Announces text to screen readers through one shared polite live region. */
let liveRegion: HTMLElement | undefined;
export function announce(text: string): void {
  if (!liveRegion) {
    liveRegion = h('div', { class: 'sr-only', 'aria-live': 'polite', 'aria-atomic': 'true', id: 'live-region' });
    document.body.append(liveRegion);
  }
  liveRegion.textContent = text;
}

/** A labelled <select> for a toolbar. */
export function labelledSelect(id: string, label: string, options: Array<[string, string]>): { el: HTMLElement; select: HTMLSelectElement } {
  const sel = h('select', { id }, ...options.map(([v, t]) => h('option', { value: v, text: t })));
  return { select: sel, el: h('label', { for: id, class: 'select-label' }, `${label} `, sel) };
}
