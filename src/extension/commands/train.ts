/**
 * Train Mask: project (open / create with the embedded backbone / browse) -> dataset
 * -> task name -> hyperparameters (editable) -> training in the worker with live
 * curves in the explorer. Any argument given skips its dialog.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { TaskStats, TrainOptions } from '../../core/types';
import type { ExtCtx } from '../context';
import { ExplorerPanel } from '../explorerPanel';
import { runWithProgress } from '../jobProgress';
import { findWorkspaceProjects, isProjectDir, resolveUserPath } from '../projectModel';
import { backendSetting, budgetFromSettings, trainOptionsFromSettings } from '../settings';
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

interface Hyper {
  options: TrainOptions;
  trainPerClass?: number;
  testLimit?: number;
}

type HyperKey = keyof TrainOptions | 'trainPerClass' | 'testLimit';

const HYPER_DOC: Record<HyperKey, string> = {
  epochs: 'training epochs',
  batchSize: 'images per step',
  lrMask: 'Adam learning rate of the mask scores',
  lrHead: 'Adam learning rate of the classifier head',
  lrDecayEvery: 'decay the learning rates every N epochs (0 = never)',
  lrDecayFactor: 'learning-rate decay factor',
  maskKind: 'binary {0,1} or ternary {-1,0,+1}',
  bnMode: 'batch norm: frozen (backbone\'s) or trainable (per task)',
  threshold: 'keep a weight when its score > threshold',
  maskScale: 'initial mask score',
  seed: 'random seed',
  trainPerClass: 'cap on training images per class (empty = all)',
  testLimit: 'cap on test images (empty = all)',
};

const INT_KEYS: HyperKey[] = ['epochs', 'batchSize', 'lrDecayEvery', 'seed', 'trainPerClass', 'testLimit'];

function valueOf(h: Hyper, k: HyperKey): string {
  const v = k === 'trainPerClass' || k === 'testLimit' ? h[k] : h.options[k];
  return v === undefined ? 'all' : String(v);
}

interface HyperItem extends vscode.QuickPickItem {
  key?: HyperKey;
  start?: boolean;
}

/** Shows the hyperparameters; picking one edits it; "Start training" returns them. */
async function confirmHyper(title: string, h: Hyper): Promise<Hyper | undefined> {
  for (;;) {
    const keys = Object.keys(HYPER_DOC) as HyperKey[];
    const items: HyperItem[] = [
      { label: '$(play) Start training', description: `${h.options.epochs} epoch${h.options.epochs === 1 ? '' : 's'}, batch ${h.options.batchSize}`, start: true, alwaysShow: true },
      { label: 'hyperparameters (pick one to edit)', kind: vscode.QuickPickItemKind.Separator },
      ...keys.map((k) => ({ label: `${k} = ${valueOf(h, k)}`, description: HYPER_DOC[k], key: k })),
    ];
    const pick = await vscode.window.showQuickPick(items, { title, placeHolder: 'Enter starts training; pick a line to change it (defaults come from the piggyback.* settings)' });
    if (!pick) return undefined;
    if (pick.start) return h;
    const k = pick.key!;
    if (k === 'maskKind' || k === 'bnMode') {
      const vals = k === 'maskKind' ? ['binary', 'ternary'] : ['frozen', 'trainable'];
      const v = await vscode.window.showQuickPick(vals, { title: `${k}: ${HYPER_DOC[k]}` });
      if (v) h = { ...h, options: { ...h.options, [k]: v } };
      continue;
    }
    const optional = k === 'trainPerClass' || k === 'testLimit';
    const input = await vscode.window.showInputBox({
      title: `${k}: ${HYPER_DOC[k]}`,
      value: valueOf(h, k) === 'all' ? '' : valueOf(h, k),
      validateInput: (s) => {
        const t = s.trim();
        if (!t && optional) return undefined;
        const n = Number(t);
        if (!t || !Number.isFinite(n)) return 'Enter a number';
        if (INT_KEYS.includes(k) && !Number.isInteger(n)) return 'Enter a whole number';
        if (k !== 'seed' && k !== 'threshold' && k !== 'lrDecayEvery' && n <= 0) return 'Must be greater than 0';
        if (k === 'lrDecayEvery' && n < 0) return 'Must be 0 or more';
        return undefined;
      },
    });
    if (input === undefined) continue;
    const t = input.trim();
    if (optional) h = { ...h, [k]: t ? Number(t) : undefined };
    else h = { ...h, options: { ...h.options, [k]: Number(t) } };
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

  const budget = budgetFromSettings();
  let hyper: Hyper = {
    options: {
      ...trainOptionsFromSettings(),
      ...(args.options ?? {}),
      ...(args.epochs !== undefined ? { epochs: args.epochs } : {}),
      ...(args.batchSize !== undefined ? { batchSize: args.batchSize } : {}),
    },
    trainPerClass: args.trainPerClass ?? budget.trainPerClass,
    testLimit: args.testLimit ?? budget.testLimit,
  };
  if (!args.nonInteractive) {
    const h = await confirmHyper(`Piggyback: train "${task}" on ${path.basename(dataset)}`, hyper);
    if (!h) return undefined;
    hyper = h;
  }

  if (args.showExplorer !== false) {
    try {
      ExplorerPanel.show({ extensionUri: ctx.extensionUri, model: ctx.model, log: ctx.log }, 'curves');
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
