/** What every view gets from main.ts: shared persisted state and the current theme. */
import type { WebviewState } from '../src/shared/protocol';
import type { Theme } from './theme';

export interface ViewContext {
  readonly state: WebviewState;
  /** Call after mutating state so the webview can be restored after a reload. */
  persist(): void;
  theme(): Theme;
}

/** Kernel shape as people write it, e.g. 3×3×16×32. */
export function shapeText(shape: number[]): string {
  return shape.join('×');
}
