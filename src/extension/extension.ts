/**
 * Extension entry (dist/extension.js). Registers the commands, the Mask Inspector tree
 * and the explorer webview serializer. No TF.js here: engine work runs in dist/worker.js
 * through JobRunner; the host only reads projects from disk (src/core/project).
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { deleteTask } from './commands/deleteTask';
import { relinkBackbone } from './commands/relink';
import { rethresholdTask, type RethresholdArgs } from './commands/rethreshold';
import { evaluateMask } from './commands/evaluate';
import { guarded } from './commands/guard';
import { normaliseArgs, type BaselineArgs, type CreateProjectArgs, type DeleteArgs, type EvaluateArgs, type RelinkArgs, type ReportArgs, type TaskArgs, type TrainArgs } from './commands/args';
import { runBaselines } from './commands/baselines';
import { createProjectFlow, openProject } from './commands/project';
import { exportReport } from './commands/report';
import { trainMask } from './commands/train';
import { showView } from './commands/views';
import type { ExtCtx } from './context';
import { EventLoopMonitor, type EventLoopStats } from './eventLoopMonitor';
import { EXPLORER_VIEW_TYPE, ExplorerPanel } from './explorerPanel';
import { InspectorTree, type InspectorNode } from './inspectorTree';
import { JobRunner } from './jobRunner';
import { Log } from './log';
import { ProjectModel } from './projectModel';
import { storeNotices } from '../core/project/projectDir';
import { JobStatusBar } from './statusBar';

export function activate(context: vscode.ExtensionContext): { ctx: ExtCtx } {
  const log = new Log();
  const runner = new JobRunner(path.join(context.extensionPath, 'dist', 'worker.js'), log);
  const model = new ProjectModel(context.workspaceState, log);
  const tree = new InspectorTree(model);
  const treeView = vscode.window.createTreeView<InspectorNode>('piggyback.inspector', { treeDataProvider: tree, showCollapseAll: true });
  const statusBar = new JobStatusBar(runner);
  context.subscriptions.push(log, runner, model, tree, treeView, statusBar);

  const ctx: ExtCtx = {
    extensionUri: context.extensionUri,
    extensionPath: context.extensionPath,
    embeddedModelPath: path.join(context.extensionPath, 'models', 'reference-cnn', 'model.json'),
    model,
    runner,
    log,
    tree,
    treeView,
    statusBar,
  };
  // Repairs made while opening a project (adopted or removed task folders) are logged, never silent.
  storeNotices.sink = (line) => log.info(line);
  log.info(`activated ${context.extension.id} ${String(context.extension.packageJSON.version)} (node ${process.version})`);

  const reg = (id: string, fn: (arg?: unknown) => unknown): void => {
    context.subscriptions.push(vscode.commands.registerCommand(id, fn));
  };
  const panelDeps = { extensionUri: context.extensionUri, model, log, runner };

  reg('piggyback.trainMask', guarded(ctx, 'Train Mask', (a) => trainMask(ctx, normaliseArgs<TrainArgs>(a))));
  reg('piggyback.evaluateMask', guarded(ctx, 'Evaluate Mask', (a) => evaluateMask(ctx, normaliseArgs<EvaluateArgs>(a))));
  reg('piggyback.showHeatmap', guarded(ctx, 'Show Sparsity Heatmap', (a) => showView(ctx, normaliseArgs<TaskArgs>(a), 'heatmap')));
  reg('piggyback.compareMasks', guarded(ctx, 'Compare Task Masks', (a) => showView(ctx, normaliseArgs<TaskArgs>(a), 'overlap')));
  reg('piggyback.runBaselines', guarded(ctx, 'Run Baselines', (a) => runBaselines(ctx, normaliseArgs<BaselineArgs>(a))));
  reg('piggyback.exportReport', guarded(ctx, 'Export Report', (a) => exportReport(ctx, normaliseArgs<ReportArgs>(a))));
  reg('piggyback.openProject', guarded(ctx, 'Open Mask Project', (a) => openProject(ctx, normaliseArgs<TaskArgs>(a))));
  reg('piggyback.createProject', guarded(ctx, 'Create Mask Project', (a) => createProjectFlow(ctx, normaliseArgs<CreateProjectArgs>(a))));
  reg('piggyback.deleteTask', guarded(ctx, 'Delete Task', (a) => deleteTask(ctx, normaliseArgs<DeleteArgs>(a))));
  reg('piggyback.rethresholdTask', guarded(ctx, 'Re-threshold Task', (a) => rethresholdTask(ctx, normaliseArgs<RethresholdArgs>(a))));
  reg('piggyback.relinkBackbone', guarded(ctx, 'Relink Backbone', (a) => relinkBackbone(ctx, normaliseArgs<RelinkArgs>(a))));
  reg('piggyback.refresh', async () => {
    if (!model.dir) await model.autoDetect();
    else model.reload();
  });
  reg('piggyback.cancelJob', async () => {
    const job = runner.running;
    if (!job) {
      void vscode.window.showInformationMessage('Piggyback: no job is running.');
      return false;
    }
    return runner.cancelCurrent();
  });
  reg('piggyback.showLog', () => log.show());
  reg('piggyback.revealTask', async (name?: unknown) => {
    const stats = model.stats;
    const t = stats?.tasks.find((x) => x.name === name);
    if (!stats || !t) return;
    await treeView.reveal({ kind: 'task', stats, task: t }, { expand: true, focus: false, select: true });
  });
  /** {p50Ms,p99Ms,maxMs,...} of the host event loop during the last (or running) job; shown unless {silent:true}. */
  reg('piggyback.debug.eventLoopStats', (a?: unknown) => {
    const s: EventLoopStats | undefined = runner.loopMonitor.stats();
    const silent = !!(a && typeof a === 'object' && (a as { silent?: boolean }).silent);
    if (!silent) {
      void vscode.window.showInformationMessage(
        s
          ? `Piggyback: ${EventLoopMonitor.format(s)} [p50Ms=${s.p50Ms} p99Ms=${s.p99Ms} maxMs=${s.maxMs}]`
          : 'Piggyback: no job has been measured yet (event loop delay is measured while a job runs).',
      );
    }
    if (s) log.info(EventLoopMonitor.format(s));
    return s ? { p50Ms: s.p50Ms, p99Ms: s.p99Ms, maxMs: s.maxMs, meanMs: s.meanMs, samples: s.samples, during: s.during, running: s.running } : undefined;
  });

  context.subscriptions.push(
    vscode.window.registerWebviewPanelSerializer(EXPLORER_VIEW_TYPE, {
      async deserializeWebviewPanel(panel: vscode.WebviewPanel, state: unknown) {
        if (!model.dir) {
          const dir = state && typeof state === 'object' ? (state as { stats?: { dir?: unknown } }).stats?.dir : undefined;
          if (typeof dir === 'string') model.setDir(dir);
          else await model.autoDetect();
        }
        ExplorerPanel.revive(panel, panelDeps, state);
      },
    }),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('piggyback.projectPath')) void model.autoDetect();
    }),
    { dispose: () => ExplorerPanel.current?.dispose() },
  );

  void model.autoDetect();
  return { ctx };
}

export function deactivate(): void {
  /* everything is in context.subscriptions */
}
