/** Open Mask Project / Create Mask Project. */
import { MOBILENET_ALIAS, mobilenetAvailable } from '../../core/model/nsfwjsMobilenet';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ProjectStats } from '../../core/types';
import type { ExtCtx } from '../context';
import { runWithProgress } from '../jobProgress';
import { isProjectDir, MANIFEST, resolveUserPath } from '../projectModel';
import { backendSetting } from '../settings';
import type { CommonArgs, CreateProjectArgs } from './args';
import { freshDir } from './pickers';
import { UserError } from './userError';

export async function openProject(ctx: ExtCtx, args: CommonArgs): Promise<string | undefined> {
  let dir = args.project ? resolveUserPath(args.project) : undefined;
  if (!dir) {
    if (args.nonInteractive) throw new UserError('no project folder given', 'pass {project}');
    const uris = await vscode.window.showOpenDialog({
      canSelectFiles: false,
      canSelectFolders: true,
      canSelectMany: false,
      openLabel: 'Open Mask Project',
      title: 'Folder containing piggyback.json',
      defaultUri: vscode.workspace.workspaceFolders?.[0]?.uri,
    });
    dir = uris?.[0]?.fsPath;
    if (!dir) return undefined;
  }
  if (!isProjectDir(dir)) {
    throw new UserError(`${dir} is not a Piggyback project (no ${MANIFEST})`, 'pick the folder that holds piggyback.json, or run "Piggyback: Create Mask Project"');
  }
  ctx.model.setDir(dir);
  if (ctx.model.error) throw new UserError(`could not read the project: ${ctx.model.error}`);
  void vscode.commands.executeCommand('piggyback.inspector.focus');
  return dir;
}

interface BackboneItem extends vscode.QuickPickItem {
  pick: 'embedded' | 'mobilenet' | 'browse';
}

/** Picks backbone and folder (unless given) and creates the project in the worker. */
export async function createProjectFlow(ctx: ExtCtx, args: CreateProjectArgs): Promise<ProjectStats | undefined> {
  let modelPath = args.model ? resolveUserPath(args.model) : undefined;
  if (!modelPath) {
    if (args.nonInteractive) modelPath = ctx.embeddedModelPath;
    else {
      const items: BackboneItem[] = [
        { label: '$(circuit-board) Embedded reference CNN', description: 'small CNN shipped with the extension (28×28 grayscale)', pick: 'embedded' },
        ...(mobilenetAvailable()
          ? [{ label: '$(device-camera) MobileNetV2 (ImageNet)', description: 'from npm nsfwjs, 32×32 RGB, cut before its fine-tuned top', pick: 'mobilenet' as const }]
          : []),
        { label: '$(file) Browse for a model.json…', description: 'any TF.js LayersModel', pick: 'browse' },
      ];
      const b = await vscode.window.showQuickPick(items, { title: 'Piggyback: backbone for the new project', placeHolder: 'The backbone stays frozen; each task learns a binary mask over it' });
      if (!b) return undefined;
      if (b.pick === 'embedded') modelPath = ctx.embeddedModelPath;
      else if (b.pick === 'mobilenet') modelPath = MOBILENET_ALIAS;
      else {
        const uris = await vscode.window.showOpenDialog({
          canSelectFiles: true,
          canSelectFolders: false,
          canSelectMany: false,
          openLabel: 'Use as backbone',
          title: 'TF.js LayersModel model.json',
          filters: { 'TF.js model': ['json'] },
          defaultUri: vscode.workspace.workspaceFolders?.[0]?.uri,
        });
        modelPath = uris?.[0]?.fsPath;
        if (!modelPath) return undefined;
      }
    }
  }
  if (modelPath !== MOBILENET_ALIAS && !fs.existsSync(modelPath)) throw new UserError(`model file not found: ${modelPath}`, 'pick a TF.js model.json');

  let projectDir = args.project ? resolveUserPath(args.project) : undefined;
  if (!projectDir) {
    const base = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
    if (args.nonInteractive) {
      if (!base) throw new UserError('no project folder given and no workspace folder is open', 'pass {project}');
      projectDir = freshDir(base, 'mask-project');
    } else if (base) {
      const suggestion = freshDir(base, 'mask-project');
      const input = await vscode.window.showInputBox({
        title: 'Piggyback: project folder',
        prompt: 'Folder for piggyback.json and the task masks (created if missing; relative paths are inside the workspace)',
        value: path.relative(base, suggestion),
        validateInput: (v) => {
          if (!v.trim()) return 'Give a folder';
          const d = resolveUserPath(v.trim());
          if (isProjectDir(d)) return 'That folder already holds a Piggyback project: use "Open Mask Project"';
          return undefined;
        },
      });
      if (!input) return undefined;
      projectDir = resolveUserPath(input.trim());
    } else {
      const uris = await vscode.window.showOpenDialog({ canSelectFiles: false, canSelectFolders: true, canSelectMany: false, openLabel: 'Create project here' });
      projectDir = uris?.[0]?.fsPath;
      if (!projectDir) return undefined;
    }
  }
  if (isProjectDir(projectDir)) throw new UserError(`${projectDir} already holds a Piggyback project`, 'open it with "Piggyback: Open Mask Project"');

  const existed = fs.existsSync(projectDir);
  let stats: ProjectStats;
  try {
    stats = await runWithProgress(
      ctx,
      { kind: 'createProject', req: { projectDir, modelPath, cutAt: args.cutAt, backend: backendSetting() } },
      `creating project ${path.basename(projectDir)}`,
    );
  } catch (e) {
    // Leave the disk as it was: remove a folder this failed attempt created.
    if (!existed && fs.existsSync(projectDir)) fs.rmSync(projectDir, { recursive: true, force: true });
    throw e;
  }
  ctx.model.setDir(projectDir);
  void vscode.window.showInformationMessage(
    `Piggyback: created project ${path.basename(projectDir)} with ${stats.layers.length} masked layers (${stats.backbone.maskedParams.toLocaleString('en-US')} weights).`,
  );
  return stats;
}
