/**
 * Run colours. Each task gets one slot for as long as it exists in its project: the slot
 * picks a colour from the Okabe-Ito palette (distinguishable with every common colour-vision
 * deficiency) and, past eight tasks, a point marker, so no two tasks ever look alike. Slots
 * are kept across renders, reloads and deletions of other tasks (persisted per project).
 */
import type { Theme } from './theme';

/** Okabe & Ito (2008), minus black, which the theme's foreground replaces as the eighth colour. */
export const OKABE_ITO = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#56B4E9', '#D55E00', '#F0E442'] as const;
export const PALETTE_SIZE = OKABE_ITO.length + 1;
export const MARKERS = ['circle', 'rect', 'triangle', 'rectRot', 'crossRot', 'star'] as const;
export type Marker = (typeof MARKERS)[number];

export function slotColor(slot: number, theme: Theme): string {
  const i = slot % PALETTE_SIZE;
  return i < OKABE_ITO.length ? OKABE_ITO[i] : theme.fg;
}

export function slotMarker(slot: number): Marker {
  return MARKERS[Math.floor(slot / PALETTE_SIZE) % MARKERS.length];
}

/**
 * Slots for `names` (in project order): a name keeps its previous slot; a new one takes the
 * lowest free slot. Names no longer present give their slot back.
 */
export function assignSlots(names: readonly string[], previous: Readonly<Record<string, number>>): Record<string, number> {
  const out: Record<string, number> = {};
  const used = new Set<number>();
  for (const n of names) {
    const s = previous[n];
    if (Number.isInteger(s) && s >= 0 && !used.has(s)) {
      out[n] = s;
      used.add(s);
    }
  }
  let next = 0;
  for (const n of names) {
    if (n in out) continue;
    while (used.has(next)) next++;
    out[n] = next;
    used.add(next);
  }
  return out;
}
