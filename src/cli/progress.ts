/**
 * Turns engine TrainEvents into what a terminal user wants: a progress bar over the steps of
 * each epoch (stderr, only on a TTY) with the time left for the whole run, one line per
 * epoch, and without a TTY (CI logs, slow networks) a progress line every 30 s. With --json
 * nothing is drawn.
 */
import { SingleBar, Presets } from 'cli-progress';
import type { TrainEvent } from '../core/types';
import { RunClock, formatDuration } from '../core/train/eta';

/** Without a TTY, at most one progress line this often. */
const PLAIN_EVERY_MS = 30_000;

export function progressPrinter(opts: { json: boolean; quiet?: boolean }): (e: TrainEvent) => void {
  if (opts.json || opts.quiet) return () => {};
  const tty = Boolean(process.stderr.isTTY);
  let bar: SingleBar | null = null;
  let epochs = 0;
  let method = '';
  const clock = new RunClock();
  let lastPlain = Date.now();
  const left = (): string => {
    const s = clock.secondsLeft();
    return s === null ? 'estimating' : `${formatDuration(s)} left`;
  };
  const stop = () => {
    bar?.stop();
    bar = null;
  };
  return (e) => {
    clock.onEvent(e);
    switch (e.type) {
      case 'start':
        epochs = e.epochs;
        method = e.method;
        process.stderr.write(`${method} "${e.task}": ${e.epochs} epochs x ${e.stepsPerEpoch} steps on ${e.backend}\n`);
        break;
      case 'step':
        if (!tty) {
          if (Date.now() - lastPlain >= PLAIN_EVERY_MS) {
            lastPlain = Date.now();
            process.stderr.write(`  epoch ${e.epoch}/${epochs} step ${e.step}/${e.stepsPerEpoch} loss ${e.loss.toFixed(4)}, ${left()} (whole run)\n`);
          }
          break;
        }
        if (!bar) {
          bar = new SingleBar(
            { format: `  epoch ${e.epoch}/${epochs} [{bar}] {value}/{total} steps | loss {loss} | {left} (whole run)`, hideCursor: true, stream: process.stderr },
            Presets.shades_classic,
          );
          bar.start(e.stepsPerEpoch, 0, { loss: '-', left: 'estimating' });
        }
        bar.update(e.step, { loss: e.loss.toFixed(4), left: left() });
        break;
      case 'epoch': {
        stop();
        const val = e.valAccuracy === null ? '' : ` val ${(100 * e.valAccuracy).toFixed(2)}%`;
        const sp = e.layerSparsity.length ? ` | mean layer sparsity ${(100 * mean(e.layerSparsity)).toFixed(1)}% | ${e.bitsFlipped} bits flipped` : '';
        process.stderr.write(`  epoch ${e.epoch}/${epochs}: loss ${e.trainLoss.toFixed(4)} train ${(100 * e.trainAccuracy).toFixed(2)}%${val}${sp} (${e.seconds.toFixed(1)} s)\n`);
        break;
      }
      case 'done':
        stop();
        break;
      case 'cancelled':
      case 'error':
        stop();
        break;
    }
  };
}

function mean(a: number[]): number {
  return a.length ? a.reduce((x, y) => x + y, 0) / a.length : 0;
}
