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
    // There is no undo: Cancel comes first, so Enter keeps the task.
    const cancel: vscode.MessageItem = { title: 'Cancel', isCloseAffordance: true };
    const del: vscode.MessageItem = { title: 'Delete' };
    const ok = await vscode.window.showWarningMessage(
      `Delete task "${task}"?`,
      { modal: true, detail: 'Its mask, head and history are removed from the project; this cannot be undone. The backbone and the other tasks are not touched.' },
      cancel,
      del,
    );
    if (ok !== del) return undefined;
  }
  await runWithProgress(ctx, { kind: 'deleteTask', projectDir, task }, `deleting "${task}"`);
  ctx.model.reload();
  void vscode.window.showInformationMessage(`Piggyback: deleted task "${task}".`);
  return task;
}
