/**
 * The mask-explorer WebviewPanel (heatmap, overlap, live curves). Scripts enabled,
 * local resources limited to dist/webview, every incoming message validated by
 * parseWebviewMessage; exports go through a save dialog chosen by the user.
 * Restored after a reload by the WebviewPanelSerializer registered in extension.ts.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import * as vscode from 'vscode';
import type { TrainEvent } from '../core/types';
import {
  parseWebviewMessage,
  parseWebviewState,
  type ExportMessage,
  type HostToWebview,
  type ViewId,
} from '../shared/protocol';
import { makeNonce, renderWebviewHtml } from '../shared/webviewHtml';
import { answerAnalysis, type AnalysisHostDeps } from './analysisHost';
import type { Log } from './log';
import type { ProjectModel } from './projectModel';
import type { JobRunner } from './jobRunner';
import { backendSetting } from './settings';
import { WorkerSession } from './workerSession';
import { validateTaskName } from './commands/pickers';
import type { RethresholdArgs } from './commands/rethreshold';
import type { CommandResult } from './commands/guard';

export const EXPLORER_VIEW_TYPE = 'piggyback.explorer';

export interface PanelDeps {
  extensionUri: vscode.Uri;
  model: ProjectModel;
  log: Log;
  /** Runs the analyses the explorer asks for (forgetting matrix, …) in a worker. */
  runner?: JobRunner;
}

function styleFile(webviewDir: string): string {
  try {
    const css = fs.readdirSync(webviewDir).filter((f) => f.endsWith('.css')).sort();
    return css.includes('main.css') ? 'main.css' : css.includes('webview.css') ? 'webview.css' : (css[0] ?? 'main.css');
  } catch {
    return 'main.css';
  }
}

export class ExplorerPanel implements vscode.Disposable {
  static current: ExplorerPanel | undefined;

  private ready = false;
  private readonly queue: HostToWebview[] = [];
  /** Events of the current/last training run, replayed to a webview that (re)loads mid-run. */
  private liveEvents: TrainEvent[] = [];
  private view: ViewId;
  private backend: string | undefined;
  private readonly subs: vscode.Disposable[] = [];
  /** The what-if slider's worker: started on the first move, kept while the panel is open. */
  private readonly session: WorkerSession;
  private sessionDir: string | undefined;

  static show(deps: PanelDeps, view: ViewId): ExplorerPanel {
    if (ExplorerPanel.current) {
      ExplorerPanel.current.panel.reveal(undefined, false);
      ExplorerPanel.current.setView(view);
      return ExplorerPanel.current;
    }
    const panel = vscode.window.createWebviewPanel(EXPLORER_VIEW_TYPE, 'Piggyback Masks', vscode.ViewColumn.Active, ExplorerPanel.options(deps.extensionUri));
    ExplorerPanel.current = new ExplorerPanel(panel, deps, view);
    return ExplorerPanel.current;
  }

  static revive(panel: vscode.WebviewPanel, deps: PanelDeps, state: unknown): ExplorerPanel {
    const s = parseWebviewState(state);
    ExplorerPanel.current?.dispose();
    panel.webview.options = ExplorerPanel.options(deps.extensionUri);
    ExplorerPanel.current = new ExplorerPanel(panel, deps, s.view);
    return ExplorerPanel.current;
  }

  static options(extensionUri: vscode.Uri): vscode.WebviewPanelOptions & vscode.WebviewOptions {
    return {
      enableScripts: true,
      retainContextWhenHidden: true,
      localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'dist', 'webview')],
    };
  }

  private constructor(
    readonly panel: vscode.WebviewPanel,
    private readonly deps: PanelDeps,
    view: ViewId,
  ) {
    this.view = view;
    const workerPath = path.join(deps.extensionUri.fsPath, 'dist', 'worker.js');
    this.session = new WorkerSession(() => new Worker(workerPath, { resourceLimits: { maxOldGenerationSizeMb: 4096 }, stdout: false, stderr: false }), deps.log);
    // A tab icon gets no currentColor: one drawn for each theme, or it is black on dark themes.
    panel.iconPath = {
      light: vscode.Uri.joinPath(deps.extensionUri, 'media', 'piggyback-light.svg'),
      dark: vscode.Uri.joinPath(deps.extensionUri, 'media', 'piggyback-dark.svg'),
    };
    const webviewDir = vscode.Uri.joinPath(deps.extensionUri, 'dist', 'webview');
    const w = panel.webview;
    const page = {
      cspSource: w.cspSource,
      nonce: makeNonce(),
      scriptUri: w.asWebviewUri(vscode.Uri.joinPath(webviewDir, 'main.js')).toString(),
      styleUri: w.asWebviewUri(vscode.Uri.joinPath(webviewDir, styleFile(webviewDir.fsPath))).toString(),
      title: 'Piggyback Masks',
    };
    w.html = renderWebviewHtml(page);
    this.subs.push(
      w.onDidReceiveMessage((m: unknown) => void this.onMessage(m)),
      deps.model.onDidChange(() => {
        // Another project: the worker's caches are of no use, free them.
        if (deps.model.dir !== this.sessionDir) this.session.reset();
        this.sessionDir = deps.model.dir;
        this.postState();
      }),
      panel.onDidDispose(() => this.dispose()),
    );
  }

  setView(view: ViewId): void {
    this.view = view;
    this.post({ type: 'show', view });
  }

  trainEvent(e: TrainEvent): void {
    if (e.type === 'start') {
      this.liveEvents = [];
      this.backend = e.backend;
    }
    // Keep every epoch, but only a bounded tail of steps.
    this.liveEvents.push(e);
    if (this.liveEvents.length > 5000) this.liveEvents = this.liveEvents.filter((x, i) => x.type !== 'step' || i > this.liveEvents.length - 1000);
    this.post({ type: 'trainEvent', event: e });
  }

  postState(): void {
    const stats = this.deps.model.stats;
    if (!stats) return;
    this.post(this.backend ? { type: 'state', stats, backend: this.backend } : { type: 'state', stats });
  }

  private post(m: HostToWebview): void {
    if (!this.ready) {
      // Only the latest state matters; everything else keeps its order.
      if (m.type === 'state') {
        const i = this.queue.findIndex((q) => q.type === 'state');
        if (i >= 0) this.queue.splice(i, 1);
      }
      this.queue.push(m);
      return;
    }
    void this.panel.webview.postMessage(m);
  }

  private async onMessage(raw: unknown): Promise<void> {
    const m = parseWebviewMessage(raw);
    if (!m) {
      this.deps.log.error(`webview sent an invalid message; ignored: ${JSON.stringify(raw)?.slice(0, 200)}`);
      return;
    }
    switch (m.type) {
      case 'ready': {
        this.ready = true;
        this.queue.length = 0;
        const stats = this.deps.model.stats;
        if (stats) void this.panel.webview.postMessage(this.backend ? { type: 'state', stats, backend: this.backend } : { type: 'state', stats });
        for (const e of this.liveEvents) void this.panel.webview.postMessage({ type: 'trainEvent', event: e } satisfies HostToWebview);
        void this.panel.webview.postMessage({ type: 'show', view: this.view } satisfies HostToWebview);
        break;
      }
      case 'export':
        await this.export(m);
        break;
      case 'openTask':
        await vscode.commands.executeCommand('piggyback.revealTask', m.task);
        break;
      case 'error':
        this.deps.log.error(`webview: ${m.message}`);
        break;
      case 'analyze':
        this.post(await answerAnalysis(m.id, m.request, this.analysisDeps()));
        break;
      case 'saveThreshold':
        await this.saveThreshold(m.task, m.threshold);
        break;
    }
  }

  private analysisDeps(): AnalysisHostDeps {
    const runner = this.deps.runner;
    return {
      projectDir: () => this.deps.model.dir,
      log: this.deps.log,
      backend: backendSetting,
      runJob: runner ? (job, title) => runner.run(job, { title }) : undefined,
      callWorker: (job) => this.session.call(job),
      maskEntries: () => {
        const s = this.deps.model.stats;
        return s ? s.backbone.maskedParams * s.tasks.length : 0;
      },
    };
  }

  /** "Save as task…" from the what-if: a name, then the Re-threshold command's save path (the original task is never altered). */
  private async saveThreshold(task: string, threshold: number): Promise<void> {
    const existing = this.deps.model.stats?.tasks.map((t) => t.name) ?? [];
    const name = await vscode.window.showInputBox({
      title: `Piggyback: save "${task}" at threshold ${threshold} as a new task`,
      value: `${task}-t${Number(threshold.toPrecision(2))}`.replace(/[^A-Za-z0-9_.-]/g, '_'),
      validateInput: (v) => validateTaskName(v, existing),
    });
    if (!name) return;
    const args: RethresholdArgs = { project: this.deps.model.dir, task, thresholds: [threshold], saveAs: name };
    // The command shows its own errors; its result names the new task when it saved one.
    const r = await vscode.commands.executeCommand<CommandResult<string | undefined>>('piggyback.rethresholdTask', args);
    if (r?.ok && r.value) void vscode.window.showInformationMessage(`Piggyback: saved "${task}" at threshold ${threshold} as task "${r.value}" ("${task}" is unchanged).`);
  }

  private async export(m: ExportMessage): Promise<void> {
    const base = this.deps.model.dir ?? vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
    const target = await vscode.window.showSaveDialog({
      title: `Export ${m.format.toUpperCase()}`,
      saveLabel: `Export ${m.format.toUpperCase()}`,
      defaultUri: base ? vscode.Uri.file(path.join(base, m.file)) : undefined,
      filters: m.format === 'png' ? { 'PNG image': ['png'] } : { 'CSV table': ['csv'] },
    });
    if (!target) {
      this.post({ type: 'exportResult', file: m.file, ok: false, message: 'export cancelled' });
      return;
    }
    try {
      const data = m.format === 'png' ? Buffer.from(m.data, 'base64') : Buffer.from(m.data, 'utf8');
      await vscode.workspace.fs.writeFile(target, data);
      this.deps.log.info(`exported ${target.fsPath} (${data.length} bytes)`);
      this.post({ type: 'exportResult', file: target.fsPath, ok: true });
      // Name the folder too, and offer to show the file.
      void vscode.window.showInformationMessage(`Piggyback: exported ${path.basename(target.fsPath)} to ${path.dirname(target.fsPath)}`, 'Reveal').then((c) => {
        if (c) void vscode.commands.executeCommand('revealFileInOS', target);
      });
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      this.post({ type: 'exportResult', file: target.fsPath, ok: false, message: msg });
      void vscode.window.showErrorMessage(`Piggyback: could not write ${target.fsPath}: ${msg}`);
    }
  }

  dispose(): void {
    if (ExplorerPanel.current === this) ExplorerPanel.current = undefined;
    for (const s of this.subs.splice(0)) s.dispose();
    this.session.dispose();
    this.panel.dispose();
  }
}
