/** Run Baselines: classifier-only and full fine-tuning on a task's data and settings (the paper's comparison). */
import * as vscode from 'vscode';
import type { BaselineResult } from '../../core/types';
import type { ExtCtx } from '../context';
import { ExplorerPanel } from '../explorerPanel';
import * as fmt from '../format';
import { runWithProgress } from '../jobProgress';
import { backendSetting } from '../settings';
import type { BaselineArgs } from './args';
import { pickTask, requireProject } from './pickers';

type Method = 'classifier' | 'finetune';

export async function runBaselines(ctx: ExtCtx, args: BaselineArgs): Promise<BaselineResult[] | undefined> {
  const projectDir = await requireProject(ctx, args.project, args.nonInteractive);
  if (!projectDir) return undefined;
  const task = await pickTask(ctx, args.task, args.nonInteractive, 'Task whose data the baselines train on');
  if (!task) return undefined;
  const ts = ctx.model.stats?.tasks.find((t) => t.name === task);

  let methods: Method[] | undefined = args.methods;
  if (!methods) {
    if (args.nonInteractive) methods = ['classifier', 'finetune'];
    else {
      const picks = await vscode.window.showQuickPick(
        [
          { label: 'classifier', description: 'train only a new head on frozen features', picked: true },
          { label: 'finetune', description: 'train the whole network (a full copy per task)', picked: true },
        ],
        { canPickMany: true, title: `Piggyback: baselines for "${task}"` },
      );
      if (!picks?.length) return undefined;
      methods = picks.map((p) => p.label as Method);
    }
  }
  if (args.showExplorer !== false) ExplorerPanel.show({ extensionUri: ctx.extensionUri, model: ctx.model, log: ctx.log, runner: ctx.runner }, 'curves');
  // Baselines train on the task's own data with its own hyperparameters and data limits.
  const results = await runWithProgress(
    ctx,
    { kind: 'baselines', req: { projectDir, task, methods, backend: backendSetting() } },
    `baselines for "${task}"`,
  );
  ctx.model.reload();
  const line = results.map((r) => `${r.method} ${fmt.pct(r.testAccuracy, 2)} (${fmt.bytes(r.bytesIfStored)})`).join(', ');
  ctx.log.info(`baselines "${task}": ${line}; piggyback ${fmt.pct(ts?.testAccuracy, 2)} (${fmt.bytes(ts?.bytes ?? NaN)})`);
  void vscode.window.showInformationMessage(`Piggyback: baselines for "${task}": ${line}; piggyback ${fmt.pct(ts?.testAccuracy, 2)}.`);
  return results;
}
