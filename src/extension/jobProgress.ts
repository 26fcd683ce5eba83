/**
 * Runs a job with a cancellable progress notification, status-bar detail and live
 * TrainEvents forwarded to the explorer webview.
 */
import * as vscode from 'vscode';
import type { TrainEvent } from '../core/types';
import type { ExtCtx } from './context';
import { ExplorerPanel } from './explorerPanel';
import type { JobRequest, JobResults } from './workerProtocol';
import { RunClock, formatDuration } from '../core/train/eta';

export function describeEvent(e: TrainEvent, totalEpochs: number): string | undefined {
  switch (e.type) {
    case 'start':
      return `${e.method} on ${e.backend}: ${e.epochs} epoch${e.epochs === 1 ? '' : 's'} × ${e.stepsPerEpoch} steps`;
    case 'step':
      return `epoch ${e.epoch}/${totalEpochs} · step ${e.step}/${e.stepsPerEpoch} · loss ${e.loss.toFixed(3)}`;
    case 'epoch':
      return `epoch ${e.epoch}/${totalEpochs} done · train ${(e.trainAccuracy * 100).toFixed(1)}%${e.valAccuracy === null ? '' : ` · val ${(e.valAccuracy * 100).toFixed(1)}%`}`;
    case 'done':
      return `test accuracy ${(e.testAccuracy * 100).toFixed(2)}%`;
    default:
      return undefined;
  }
}

export function runWithProgress<K extends JobRequest['kind']>(
  ctx: ExtCtx,
  job: Extract<JobRequest, { kind: K }>,
  title: string,
  opts: { onEvent?: (e: TrainEvent) => void } = {},
): Promise<JobResults[K]> {
  return Promise.resolve(
    vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Piggyback: ${title}`, cancellable: true },
      (progress, token) => {
        let totalSteps = 0;
        let epochs = 0;
        const clock = new RunClock();
        let doneSteps = 0;
        let reported = 0;
        return ctx.runner.run(job, {
          title,
          token,
          onEvent: (e) => {
            clock.onEvent(e);
            if (e.type === 'start') {
              epochs = e.epochs;
              totalSteps = Math.max(1, e.epochs * e.stepsPerEpoch);
              doneSteps = 0;
              reported = 0;
            }
            if (e.type === 'step') doneSteps = (e.epoch - 1) * e.stepsPerEpoch + e.step;
            if (e.type === 'epoch' && totalSteps) doneSteps = Math.round((e.epoch / Math.max(1, epochs)) * totalSteps);
            const base = describeEvent(e, epochs);
            const left = clock.secondsLeft();
            const msg = base && (e.type === 'step' || e.type === 'epoch') && left !== null ? `${base} · ${formatDuration(left)} left` : base;
            let increment: number | undefined;
            if (totalSteps) {
              const pct = Math.min(100, (doneSteps / totalSteps) * 100);
              if (pct > reported) {
                increment = pct - reported;
                reported = pct;
              }
            }
            if (msg) {
              progress.report({ message: msg, increment });
              ctx.statusBar.detail(title, msg);
            }
            if (e.type === 'epoch' || e.type === 'start') ctx.log.info(`${title}: ${msg}`);
            ExplorerPanel.current?.trainEvent(e);
            opts.onEvent?.(e);
          },
        });
      },
    ),
  );
}
