/**
 * Re-threshold Task: the task's mask at other thresholds from its stored scores, with no
 * retraining. The worker sweeps thresholds between 0 and the mask scale and re-evaluates a
 * probe set; the quick pick lists sparsity, bits per weight and probe accuracy per threshold;
 * picking one saves it as a new task (the original is never altered).
 */
import * as vscode from 'vscode';
import type { ExtCtx } from '../context';
import { runWithProgress } from '../jobProgress';
import { backendSetting } from '../settings';
import type { TaskArgs } from './args';
import { pickTask, requireProject, validateTaskName } from './pickers';

export interface RethresholdArgs extends TaskArgs {
  /** Thresholds to evaluate (default: 9 between 0 and the mask scale, the trained one included). */
  thresholds?: number[];
  /** Save the first threshold's mask as this task without asking. */
  saveAs?: string;
}

export async function rethresholdTask(ctx: ExtCtx, args: RethresholdArgs): Promise<string | undefined> {
  const projectDir = await requireProject(ctx, args.project, args.nonInteractive);
  if (!projectDir) return undefined;
  const task = await pickTask(ctx, args.task, args.nonInteractive, 'Task to re-threshold');
  if (!task) return undefined;
  const t = ctx.model.stats?.tasks.find((x) => x.name === task);
  const scale = t?.options.maskScale ?? 1e-2;
  const trained = t?.options.threshold ?? 5e-3;
  const thresholds = args.thresholds ?? [...new Set([...Array.from({ length: 9 }, (_, i) => (scale * i) / 9), trained])].sort((a, b) => a - b);
  const run = (ts: number[], saveAs?: string) =>
    runWithProgress(ctx, { kind: 'rethreshold', req: { projectDir, task, thresholds: ts, saveAs, backend: backendSetting() } }, saveAs ? `saving "${saveAs}"` : `re-thresholding "${task}"`);
  if (args.saveAs) {
    await run(thresholds.slice(0, 1), args.saveAs);
    ctx.model.reload();
    return args.saveAs;
  }
  const r = await run(thresholds);
  const items = r.points.map((p) => ({
    label: `threshold ${Number(p.threshold.toPrecision(3))}${Math.abs(p.threshold - r.trainedThreshold) < 1e-12 ? ' (trained)' : ''}`,
    description: `${(100 * p.sparsity).toFixed(2)}% off · ${p.bitsPerMaskedWeight.toFixed(3)} bits/weight · probe accuracy ${(100 * p.probeAccuracy).toFixed(2)}%`,
    point: p,
  }));
  ctx.log.info(`re-threshold "${task}" on ${r.probe.count} ${r.probe.split} images:\n${items.map((i) => `  ${i.label}: ${i.description}`).join('\n')}`);
  if (args.nonInteractive) return undefined;
  const pick = await vscode.window.showQuickPick(items, {
    title: `Piggyback: "${task}" at other thresholds (probe: ${r.probe.count} ${r.probe.split} images; scores.bin ${r.scoresBytes} bytes)`,
    placeHolder: 'Pick a threshold to save its mask as a new task, or Escape',
  });
  if (!pick) return undefined;
  const existing = ctx.model.stats?.tasks.map((x) => x.name) ?? [];
  const name = await vscode.window.showInputBox({
    title: 'Piggyback: name of the new task',
    value: `${task}-t${Number(pick.point.threshold.toPrecision(2))}`.replace(/[^A-Za-z0-9_.-]/g, '_'),
    validateInput: (v) => validateTaskName(v, existing),
  });
  if (!name) return undefined;
  await run([pick.point.threshold], name);
  ctx.model.reload();
  void vscode.window.showInformationMessage(`Piggyback: saved "${task}" at threshold ${pick.point.threshold} as task "${name}" (${(100 * pick.point.sparsity).toFixed(2)}% off).`);
  return name;
}
