/** Delete Task: removes one task's files; the backbone and other tasks are untouched. */
import * as vscode from 'vscode';
import type { ExtCtx } from '../context';
import { runWithProgress } from '../jobProgress';
import type { DeleteArgs } from './args';
import { pickTask, requireProject } from './pickers';

export async function deleteTask(ctx: ExtCtx, args: DeleteArgs): Promise<string | undefined> {
  const projectDir = await requireProject(ctx, args.project, args.nonInteractive);
  if (!projectDir) return undefined;
  const task = await pickTask(ctx, args.task, args.nonInteractive, 'Task to delete');
  if (!task) return undefined;
  if (args.confirm !== false && !args.nonInteractive) {
    const ok = await vscode.window.showWarningMessage(
      `Delete task "${task}"?`,
      { modal: true, detail: 'Its mask, head and history are removed from the project. The backbone and the other tasks are not touched.' },
      'Delete',
    );
    if (ok !== 'Delete') return undefined;
  }
  await runWithProgress(ctx, { kind: 'deleteTask', projectDir, task }, `deleting "${task}"`);
  ctx.model.reload();
  void vscode.window.showInformationMessage(`Piggyback: deleted task "${task}".`);
  return task;
}
