/** Dialog steps shared by several commands: project, task, dataset, task name. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { listBuiltinDatasets } from '../../core/data/builtin';
import { checkDatasetSpec } from '../../core/data';
import { isPiggybackError } from '../../core/errors';
import type { ExtCtx } from '../context';
import { isProjectDir, resolveUserPath } from '../projectModel';
import { UserError } from './userError';

export const TASK_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export function validateTaskName(name: string, existing: string[]): string | undefined {
  if (!name) return 'Give the task a name';
  if (!TASK_NAME_RE.test(name)) return 'Use letters, digits, "_", "-" or "." (start with a letter or digit, at most 64 characters)';
  if (existing.includes(name)) return `A task named "${name}" already exists in this project: pick another name or delete it first`;
  return undefined;
}

/** The open project's folder, from args or the model; asks to open one when none is known. */
export async function requireProject(ctx: ExtCtx, project: string | undefined, nonInteractive?: boolean): Promise<string | undefined> {
  if (project) {
    const dir = resolveUserPath(project);
    if (!isProjectDir(dir)) throw new UserError(`${dir} is not a Piggyback project (no piggyback.json)`, 'open a folder created by "Piggyback: Create Mask Project"');
    if (ctx.model.dir !== dir) ctx.model.setDir(dir);
    return dir;
  }
  if (ctx.model.dir && isProjectDir(ctx.model.dir)) return ctx.model.dir;
  if (nonInteractive) throw new UserError('no Piggyback project is open', 'pass {project} or run "Piggyback: Open Mask Project"');
  const choice = await vscode.window.showWarningMessage('No Piggyback mask project is open.', 'Open Mask Project…', 'Create Mask Project…');
  if (choice === 'Open Mask Project…') await vscode.commands.executeCommand('piggyback.openProject');
  else if (choice === 'Create Mask Project…') await vscode.commands.executeCommand('piggyback.createProject');
  return ctx.model.dir && isProjectDir(ctx.model.dir) ? ctx.model.dir : undefined;
}

/** A task of the open project: from args, or a quick pick. */
export async function pickTask(ctx: ExtCtx, task: string | undefined, nonInteractive: boolean | undefined, placeHolder: string): Promise<string | undefined> {
  const stats = ctx.model.stats;
  const names = stats?.tasks.map((t) => t.name) ?? [];
  if (task) {
    if (stats && !names.includes(task)) throw new UserError(`no task named "${task}" in ${stats.dir}`, names.length ? `tasks: ${names.join(', ')}` : 'train one with "Piggyback: Train Mask"');
    return task;
  }
  if (nonInteractive) throw new UserError('no task given', 'pass {task}');
  if (!stats || !names.length) throw new UserError('this project has no tasks yet', 'train one with "Piggyback: Train Mask"');
  if (names.length === 1) return names[0];
  const pick = await vscode.window.showQuickPick(
    stats.tasks.map((t) => ({ label: t.name, description: `${t.dataset} · acc ${t.testAccuracy === null ? '–' : (t.testAccuracy * 100).toFixed(1) + '%'}` })),
    { placeHolder, title: 'Piggyback: pick a task' },
  );
  return pick?.label;
}

interface DatasetItem extends vscode.QuickPickItem {
  value?: string;
  browse?: 'idx' | 'images';
  unavailableHint?: string;
}

/** Built-in datasets plus "IDX folder…" and "Image folder…". */
export async function pickDataset(): Promise<string | undefined> {
  let builtins: ReturnType<typeof listBuiltinDatasets> = [];
  try {
    builtins = listBuiltinDatasets();
  } catch {
    builtins = [];
  }
  const items: DatasetItem[] = builtins.map((d) =>
    d.available
      ? { label: d.id, description: d.title, detail: d.description, value: d.id }
      : { label: `$(circle-slash) ${d.id}`, description: `${d.title} (not installed)`, detail: d.hint, unavailableHint: d.hint },
  );
  items.push(
    { label: '', kind: vscode.QuickPickItemKind.Separator },
    { label: '$(folder) IDX folder…', description: 'MNIST-style train/t10k idx files', browse: 'idx' },
    { label: '$(file-media) Image folder…', description: 'one subfolder of PNG/JPEG images per class', browse: 'images' },
  );
  const pick = await vscode.window.showQuickPick(items, { title: 'Piggyback: dataset for the new task', placeHolder: 'Pick a built-in dataset or a folder', matchOnDescription: true });
  if (!pick) return undefined;
  if (pick.unavailableHint !== undefined) {
    void vscode.window.showWarningMessage(`Piggyback: that dataset is not installed here. ${pick.unavailableHint}`);
    return undefined;
  }
  if (pick.browse) {
    for (;;) {
      const dir = await browseDatasetFolder(pick.browse);
      if (!dir) return undefined;
      // Checked now, not after the name, the hyperparameters and Start (issue #9.5).
      const problem = datasetFolderProblem(dir);
      if (!problem) return dir;
      const again = await vscode.window.showErrorMessage(`Piggyback: ${problem}`, 'Pick another folder');
      if (again !== 'Pick another folder') return undefined;
    }
  }
  return pick.value;
}

/** Why a picked folder is no dataset (what was found there), or undefined when it is one. */
export function datasetFolderProblem(dir: string): string | undefined {
  try {
    checkDatasetSpec(dir);
    return undefined;
  } catch (e) {
    if (isPiggybackError(e)) return e.oneLine();
    throw e;
  }
}

async function browseDatasetFolder(kind: 'idx' | 'images'): Promise<string | undefined> {
  const uris = await vscode.window.showOpenDialog({
    canSelectFiles: false,
    canSelectFolders: true,
    canSelectMany: false,
    openLabel: kind === 'idx' ? 'Use IDX folder' : 'Use image folder',
    title: kind === 'idx' ? 'Folder with train/t10k IDX files' : 'Folder with one subfolder per class',
    defaultUri: vscode.workspace.workspaceFolders?.[0]?.uri,
  });
  return uris?.[0]?.fsPath;
}

/** A folder name that does not exist yet: <base>/<stem>, <stem>-2, ... */
export function freshDir(base: string, stem: string): string {
  let d = path.join(base, stem);
  for (let i = 2; fs.existsSync(d); i++) d = path.join(base, `${stem}-${i}`);
  return d;
}
