/**
 * Relink Backbone: points the open project at another copy of its backbone (the project or
 * the model moved). The worker loads the copy and refuses it unless its weights (sha256) and
 * masked layers are the ones the masks were learned on.
 */
import * as vscode from 'vscode';
import type { ExtCtx } from '../context';
import { runWithProgress } from '../jobProgress';
import { backendSetting } from '../settings';
import type { RelinkArgs } from './args';
import { requireProject } from './pickers';

export async function relinkBackbone(ctx: ExtCtx, args: RelinkArgs): Promise<string | undefined> {
  const projectDir = await requireProject(ctx, args.project, args.nonInteractive);
  if (!projectDir) return undefined;
  let model = args.model;
  if (!model) {
    if (args.nonInteractive) throw new Error('relinkBackbone: no model given');
    const picked = await vscode.window.showOpenDialog({
      title: 'Relink Backbone: the model.json of the backbone this project was made on',
      canSelectMany: false,
      filters: { 'TF.js model': ['json'] },
      openLabel: 'Relink',
    });
    if (!picked?.length) return undefined;
    model = picked[0].fsPath;
  }
  const stats = await runWithProgress(ctx, { kind: 'relink', req: { projectDir, modelPath: model, backend: backendSetting() } }, 'checking and relinking the backbone');
  ctx.model.reload();
  void vscode.window.showInformationMessage(`Piggyback: the project now uses ${stats.backbone.alias ?? stats.backbone.modelPath} (same weights and layers).`);
  return stats.backbone.modelPath;
}
