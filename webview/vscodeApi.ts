/**
 * Typed wrapper around the VS Code webview API. acquireVsCodeApi may be called only once
 * per page, so every module goes through this one instance.
 */
import type { WebviewState, WebviewToHost } from '../src/shared/protocol';

interface VsCodeApi {
  postMessage(msg: unknown): void;
  getState(): unknown;
  setState(state: unknown): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

const api: VsCodeApi = acquireVsCodeApi();

export function post(msg: WebviewToHost): void {
  api.postMessage(msg);
}

export function loadRawState(): unknown {
  return api.getState();
}

export function saveState(state: WebviewState): void {
  api.setState(state);
}
