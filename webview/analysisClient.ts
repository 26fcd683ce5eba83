/**
 * Sends 'analyze' requests to the host and routes the replies. A channel keeps only its latest
 * request: a reply to an older one (the user moved on, e.g. another cell or slider position)
 * is dropped, so a slow answer never overwrites a newer one.
 */
import type { AnalysisErrorMessage, AnalysisRequest, AnalysisResult, AnalysisResultMessage } from '../src/shared/protocol';
import { post } from './vscodeApi';

type Handlers = { ok(r: AnalysisResult): void; fail(message: string): void };

let nextId = 1;
const pending = new Map<number, Handlers>();

export class AnalysisChannel {
  private latest = 0;

  /** Sends req; exactly one of ok/fail runs, and only if no later send() happened on this channel. */
  send(req: AnalysisRequest, ok: (r: AnalysisResult) => void, fail: (message: string) => void): number {
    const id = nextId++;
    if (this.latest) pending.delete(this.latest);
    this.latest = id;
    pending.set(id, { ok, fail });
    post({ type: 'analyze', id, request: req });
    return id;
  }

  /** Forget the outstanding request (its reply will be dropped). */
  cancel(): void {
    pending.delete(this.latest);
    this.latest = 0;
  }

  get busy(): boolean {
    return pending.has(this.latest);
  }

  /**
   * A button's long job: one at a time, the button stays enabled (a disabled button drops
   * keyboard focus) but says aria-busy; `working` shows in the status line, an error replaces it.
   */
  runFromButton(button: HTMLElement, status: HTMLElement, working: string, req: AnalysisRequest, ok: (r: AnalysisResult) => void): void {
    if (this.busy) return;
    button.setAttribute('aria-busy', 'true');
    status.textContent = working;
    this.send(
      req,
      (r) => {
        button.removeAttribute('aria-busy');
        ok(r);
      },
      (message) => {
        button.removeAttribute('aria-busy');
        status.textContent = message;
      },
    );
  }
}

/** main.ts calls this for every validated analysisResult / analysisError. */
export function onAnalysisReply(m: AnalysisResultMessage | AnalysisErrorMessage): void {
  const h = pending.get(m.id);
  if (!h) return; // stale or unknown: dropped
  pending.delete(m.id);
  if (m.type === 'analysisResult') h.ok(m.result);
  else h.fail(m.message);
}
