/** Evaluate Mask: test accuracy of one task (its own dataset or another), in the worker. */
import * as vscode from 'vscode';
import type { EvalResult } from '../../core/types';
import type { ExtCtx } from '../context';
import { runWithProgress } from '../jobProgress';
import { backendSetting } from '../settings';
import type { EvaluateArgs } from './args';
import { pickTask, requireProject } from './pickers';

export async function evaluateMask(ctx: ExtCtx, args: EvaluateArgs): Promise<EvalResult | undefined> {
  const projectDir = await requireProject(ctx, args.project, args.nonInteractive);
  if (!projectDir) return undefined;
  const task = await pickTask(ctx, args.task, args.nonInteractive, 'Task to evaluate');
  if (!task) return undefined;
  const r = await runWithProgress(
    ctx,
    { kind: 'evaluate', req: { projectDir, task, dataset: args.dataset, testLimit: args.testLimit, backend: backendSetting() } },
    `evaluating "${task}"`,
  );
  const names = ctx.model.stats?.tasks.find((t) => t.name === task)?.classNames ?? [];
  ctx.log.info(
    `evaluate "${task}": accuracy ${(r.accuracy * 100).toFixed(2)}% on ${r.count} images in ${r.seconds.toFixed(1)} s (${r.imagesPerSecond.toFixed(0)} img/s)\n` +
      r.perClassAccuracy.map((a, i) => `  ${names[i] ?? i}: ${(a * 100).toFixed(1)}%`).join('\n') +
      `\n  confusion [true][predicted]:\n` +
      r.confusion.map((row) => '    ' + row.join('\t')).join('\n'),
  );
  ctx.model.reload();
  void vscode.window
    .showInformationMessage(
      `Piggyback: "${task}" test accuracy ${(r.accuracy * 100).toFixed(2)}% on ${r.count} images (${r.imagesPerSecond.toFixed(0)} images/s).`,
      'Per-class details',
    )
    .then((c) => {
      if (c) ctx.log.show();
    });
  return r;
}
