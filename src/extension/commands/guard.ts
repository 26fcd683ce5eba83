/** Turns thrown errors into one clear notification; commands return a result object for scripted callers. */
import * as vscode from 'vscode';
import type { ExtCtx } from '../context';
import { errorLine, errorStack, isCancelled } from '../jobErrors';

export type CommandResult<T> = { ok: true; value: T } | { ok: false; cancelled: boolean; error: string };

export function guarded<T>(ctx: ExtCtx, what: string, fn: (arg: unknown) => Promise<T | undefined>): (arg?: unknown) => Promise<CommandResult<T | undefined>> {
  return async (arg?: unknown) => {
    try {
      return { ok: true, value: await fn(arg) };
    } catch (e) {
      const line = errorLine(e);
      if (isCancelled(e)) {
        ctx.log.info(`${what} cancelled: ${line}`);
        void vscode.window.showInformationMessage(`Piggyback: ${what} cancelled; nothing was saved and the project is unchanged.`);
        return { ok: false, cancelled: true, error: line };
      }
      ctx.log.error(`${what} failed: ${line}${errorStack(e) ? `\n${errorStack(e)}` : ''}`);
      void vscode.window.showErrorMessage(`Piggyback: ${what} failed: ${line}`, 'Show Log').then((c) => {
        if (c === 'Show Log') ctx.log.show();
      });
      return { ok: false, cancelled: false, error: line };
    }
  };
}
