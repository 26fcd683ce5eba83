/**
 * Train Mask: project (open / create with the embedded backbone / browse) -> dataset
 * -> task name -> hyperparameters (editable) -> training in the worker with live
 * curves in the explorer. Any argument given skips its dialog.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { DEFAULT_TRAIN_OPTIONS, type TaskStats } from '../../core/types';
import { hyperSpec, rangeText, type HyperKey } from '../../core/hyperparams';
import { differingKeys, differingText, estimateRun, formatDuration, hyperRows, hyperValue, parseHyperInput, presetFromTask, withHyper, type Hyper } from '../hyperModel';
import type { ExtCtx } from '../context';
import { ExplorerPanel } from '../explorerPanel';
import { runWithProgress } from '../jobProgress';
import { findWorkspaceProjects, isProjectDir, resolveUserPath } from '../projectModel';
import { backendSetting, hyperFromSettings } from '../settings';
import type { TrainArgs } from './args';
import { pickDataset, validateTaskName } from './pickers';
import { createProjectFlow, openProject } from './project';
import { UserError } from './userError';
import { pct } from '../format';

interface ProjectItem extends vscode.QuickPickItem {
  action: 'use' | 'embedded' | 'browseModel' | 'open';
  dir?: string;
}

/** Existing project, or create/open one. */
async function resolveTrainProject(ctx: ExtCtx, args: TrainArgs): Promise<string | undefined> {
  if (args.project) {
    const dir = resolveUserPath(args.project);
    if (isProjectDir(dir)) {
      if (ctx.model.dir !== dir) ctx.model.setDir(dir);
      return dir;
    }
    if (args.nonInteractive || args.model) {
      await createProjectFlow(ctx, { project: dir, model: args.model, nonInteractive: true });
      return dir;
    }
  }
  if (!args.project && ctx.model.dir && isProjectDir(ctx.model.dir)) return ctx.model.dir;
  const found = args.project ? [] : await findWorkspaceProjects();
  if (found.length && !args.project) {
    ctx.model.setDir(found[0]);
    return found[0];
  }
  if (args.nonInteractive) throw new UserError('no Piggyback project in the workspace', 'pass {project}');
  const base = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  const items: ProjectItem[] = [
    {
      label: '$(circuit-board) New project on the embedded reference CNN',
      description: args.project ?? (base ? 'in this workspace' : ''),
      detail: 'The small backbone shipped with the extension; good for MNIST-style 28×28 data',
      action: 'embedded',
    },
    { label: '$(file) New project from a model.json…', detail: 'Any TF.js LayersModel as the frozen backbone', action: 'browseModel' },
    { label: '$(folder-opened) Open an existing project folder…', action: 'open' },
  ];
  const pick = await vscode.window.showQuickPick(items, { title: 'Piggyback: no mask project is open', placeHolder: 'Where should the new task live?' });
  if (!pick) return undefined;
  if (pick.action === 'open') return openProject(ctx, {});
  const stats = await createProjectFlow(ctx, {
    project: args.project,
    model: pick.action === 'embedded' ? ctx.embeddedModelPath : undefined,
  });
  return stats?.dir;
}

interface HyperItem extends vscode.QuickPickItem {
  key?: HyperKey;
  start?: boolean;
  like?: TaskStats | 'pick';
}

/** "like task X": the project's readable tasks, the last one first. */
async function pickLikeTask(tasks: readonly TaskStats[]): Promise<TaskStats | undefined> {
  const keys = differingKeys(tasks);
  const items = [...tasks].reverse().map((t) => ({
    label: t.name,
    description: `${t.dataset} · ${t.options.epochs} epochs · ${t.testAccuracy === null ? 'acc –' : `acc ${pct(t.testAccuracy, 2)}`}`,
    detail: keys.length ? differingText(t, keys) : undefined,
    task: t,
  }));
  return (await vscode.window.showQuickPick(items, { title: 'Piggyback: set up the run like task…', matchOnDescription: true, matchOnDetail: true }))?.task;
}

/** Shows the hyperparameters (from the one table); picking one edits it; "Start training" returns them. */
async function confirmHyper(title: string, h: Hyper, projectThreshold: number, tasks: readonly TaskStats[], dataset: string): Promise<Hyper | undefined> {
  const readable = tasks.filter((t) => t.state !== 'failed');
  const last = readable[readable.length - 1];
  for (;;) {
    const est = estimateRun(h, dataset, readable);
    const items: HyperItem[] = [
      {
        label: '$(play) Start training',
        description: `${h.options.epochs} epoch${h.options.epochs === 1 ? '' : 's'}, batch ${h.options.batchSize}${est.seconds === null ? '' : ` · about ${formatDuration(est.seconds)}`}`,
        detail: est.basis,
        start: true,
        alwaysShow: true,
      },
      ...(last
        ? [
            { label: `$(history) Like the last run: ${last.name}`, description: `${last.dataset} · ${last.options.epochs} epochs, batch ${last.options.batchSize}`, like: last },
            ...(readable.length > 1 ? [{ label: '$(copy) Like task…', description: 'its options and data caps', like: 'pick' as const }] : []),
          ]
        : []),
      { label: 'hyperparameters (pick one to edit)', kind: vscode.QuickPickItemKind.Separator },
      ...hyperRows(h, projectThreshold).map((r) => ({ label: r.label, description: r.description, key: r.editable ? r.key : undefined })),
    ];
    const pick = await vscode.window.showQuickPick(items, { title, placeHolder: 'Enter starts training; pick a line to change it (defaults come from the piggyback.* settings)' });
    if (!pick) return undefined;
    if (pick.start) return h;
    if (pick.like) {
      const t = pick.like === 'pick' ? await pickLikeTask(readable) : pick.like;
      if (t) h = presetFromTask(t, h);
      continue;
    }
    if (!pick.key) continue;
    const k = pick.key;
    const spec = hyperSpec(k);
    if (spec.type === 'enum') {
      const v = await vscode.window.showQuickPick([...spec.choices!], { title: `${k}: ${spec.doc}` });
      if (v) h = withHyper(h, k, v);
      continue;
    }
    const cur = hyperValue(h, k);
    const input = await vscode.window.showInputBox({
      title: `${k}: ${spec.doc}`,
      prompt: `${rangeText(spec)}${spec.optional ? '; empty = all' : ''}`,
      value: cur === undefined ? '' : String(cur),
      validateInput: (text) => {
        const r = parseHyperInput(k, text);
        return 'error' in r ? r.error : undefined;
      },
    });
    if (input === undefined) continue;
    const r = parseHyperInput(k, input);
    if (!('error' in r)) h = withHyper(h, k, r.value);
  }
}

export interface TrainResult {
  task: TaskStats;
  seconds: number;
}

export async function trainMask(ctx: ExtCtx, args: TrainArgs): Promise<TrainResult | undefined> {
  const projectDir = await resolveTrainProject(ctx, args);
  if (!projectDir) return undefined;
  const existing = ctx.model.stats?.dir === projectDir ? ctx.model.stats.tasks.map((t) => t.name) : [];

  let dataset = args.dataset;
  if (dataset && (dataset.includes('/') || dataset.includes(path.sep) || dataset.startsWith('.'))) dataset = resolveUserPath(dataset);
  if (!dataset) {
    if (args.nonInteractive) throw new UserError('no dataset given', 'pass {dataset}: a built-in id or a folder');
    dataset = await pickDataset();
    if (!dataset) return undefined;
  }

  let task = args.task;
  if (task) {
    const bad = validateTaskName(task, args.overwrite ? [] : existing);
    if (bad) throw new UserError(`invalid task name "${task}": ${bad}`);
  } else {
    if (args.nonInteractive) throw new UserError('no task name given', 'pass {task}');
    const stem = path.basename(dataset).replace(/[^A-Za-z0-9_.-]+/g, '-').replace(/^[^A-Za-z0-9]+/, '') || 'task';
    let suggestion = stem;
    for (let i = 2; existing.includes(suggestion); i++) suggestion = `${stem}-${i}`;
    task = await vscode.window.showInputBox({
      title: 'Piggyback: name of the new task',
      prompt: `Dataset: ${dataset}`,
      value: suggestion,
      validateInput: (v) => validateTaskName(v.trim(), existing),
    });
    task = task?.trim();
    if (!task) return undefined;
  }

  const fromSettings = hyperFromSettings();
  for (const line of fromSettings.invalid) ctx.log.error(line);
  const { threshold: _projectOwned, ...given } = args.options ?? {};
  let hyper: Hyper = {
    options: {
      ...fromSettings.options,
      ...given,
      ...(args.epochs !== undefined ? { epochs: args.epochs } : {}),
      ...(args.batchSize !== undefined ? { batchSize: args.batchSize } : {}),
    },
    trainPerClass: args.trainPerClass ?? fromSettings.trainPerClass,
    testLimit: args.testLimit ?? fromSettings.testLimit,
    valFraction: fromSettings.valFraction,
  };
  const projectThreshold = ctx.model.stats?.dir === projectDir ? ctx.model.stats.threshold : DEFAULT_TRAIN_OPTIONS.threshold;
  if (!args.nonInteractive) {
    const tasks = ctx.model.stats?.dir === projectDir ? ctx.model.stats.tasks : [];
    const h = await confirmHyper(`Piggyback: train "${task}" on ${path.basename(dataset)}`, hyper, projectThreshold, tasks, dataset);
    if (!h) return undefined;
    hyper = h;
  }

  if (args.showExplorer !== false) {
    try {
      ExplorerPanel.show({ extensionUri: ctx.extensionUri, model: ctx.model, log: ctx.log, runner: ctx.runner }, 'curves');
    } catch (e) {
      // The live view is a convenience: training goes on without it.
      ctx.log.error(`could not open the explorer: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
    }
  }
  const t0 = Date.now();
  ctx.log.info(`train "${task}" on ${dataset} in ${projectDir}: ${JSON.stringify({ ...hyper.options, trainPerClass: hyper.trainPerClass, testLimit: hyper.testLimit })}`);
  try {
    const stats = await runWithProgress(
      ctx,
      {
        kind: 'train',
        req: {
          projectDir,
          task,
          dataset,
          options: hyper.options,
          trainPerClass: hyper.trainPerClass,
          testLimit: hyper.testLimit,
          valFraction: hyper.valFraction,
          overwrite: args.overwrite,
          backend: backendSetting(),
        },
      },
      `training "${task}"`,
    );
    const seconds = (Date.now() - t0) / 1000;
    ctx.model.reload();
    const s = ctx.runner.loopMonitor.stats();
    void vscode.window.showInformationMessage(
      `Piggyback: trained "${task}" in ${seconds.toFixed(1)} s: test accuracy ${stats.testAccuracy === null ? '–' : (stats.testAccuracy * 100).toFixed(2) + '%'}, ${pct(stats.sparsity, 2)} of masked weights off${s ? ` (host event loop p99 ${s.p99Ms.toFixed(1)} ms)` : ''}.`,
    );
    return { task: stats, seconds };
  } finally {
    ctx.model.reload();
  }
}
