/**
 * Time left for a whole training run, from its TrainEvents: every remaining step of every
 * epoch at the recent step time, plus each epoch's own overhead (validation, mask statistics)
 * as measured so far. The first step of a run (kernel set-up, allocation) is not used as a
 * rate, so slow networks do not show a wild first estimate.
 */
import type { TrainEvent } from '../types';

export class RunClock {
  private epochs = 0;
  private stepsPerEpoch = 0;
  private done = 0;
  private lastAt: number | null = null;
  private stepsSeen = 0;
  private stepSeconds: number | null = null;
  private prevDone: number | null = null;
  private overheads: number[] = [];
  private lastEpochEndAt: number | null = null;

  constructor(private readonly now: () => number = () => performance.now()) {}

  onEvent(e: TrainEvent): void {
    const t = this.now();
    switch (e.type) {
      case 'start':
        this.epochs = e.epochs;
        this.stepsPerEpoch = e.stepsPerEpoch;
        this.done = 0;
        this.stepsSeen = 0;
        this.stepSeconds = null;
        this.prevDone = null;
        this.overheads = [];
        this.lastAt = t;
        this.lastEpochEndAt = null;
        break;
      case 'step': {
        const dt = this.lastAt === null ? 0 : (t - this.lastAt) / 1000;
        this.lastAt = t;
        this.stepsSeen++;
        this.done = (e.epoch - 1) * e.stepsPerEpoch + e.step;
        // Events may skip steps (the extension thins them): spread the time over the steps covered.
        if (this.stepsSeen > 1) {
          const covered = Math.max(1, this.done - (this.prevDone ?? this.done - 1));
          const per = dt / covered;
          this.stepSeconds = this.stepSeconds === null ? per : 0.7 * this.stepSeconds + 0.3 * per;
        }
        this.prevDone = this.done;
        break;
      }
      case 'epoch': {
        // Time from the last step to the end of the epoch: the validation pass and statistics.
        if (this.lastAt !== null) this.overheads.push(Math.max(0, (t - this.lastAt) / 1000));
        this.lastAt = t;
        this.lastEpochEndAt = t;
        break;
      }
      default:
        break;
    }
  }

  /** Seconds left for the run, or null until a step rate is known. */
  secondsLeft(): number | null {
    if (this.stepSeconds === null || !this.epochs) return null;
    const total = this.epochs * this.stepsPerEpoch;
    const epochsDone = this.lastEpochEndAt === null ? 0 : this.overheads.length;
    const overhead = this.overheads.length ? this.overheads.reduce((a, b) => a + b, 0) / this.overheads.length : 0;
    return Math.max(0, total - this.done) * this.stepSeconds + Math.max(0, this.epochs - epochsDone) * overhead;
  }
}

/** "2 h 05 min", "3 min 20 s", "12 s". */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
}
