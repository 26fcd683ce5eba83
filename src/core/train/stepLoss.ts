/**
 * Keeps a training run's per-step loss in bounded space for task.json: consecutive steps are
 * averaged into buckets of `stride` steps; when MAX_STEP_LOSS_POINTS buckets are full,
 * neighbouring buckets merge pairwise and the stride doubles. The mean over any whole number
 * of buckets is the exact mean loss of those steps, and the series stays evenly spaced.
 */
import { MAX_STEP_LOSS_POINTS, type StepLossSeries } from '../types';

export class StepLossRecorder {
  private stride = 1;
  private readonly steps: number[] = [];
  private readonly losses: number[] = [];
  private sum = 0;
  private n = 0;
  private last = 0;

  constructor(private readonly maxPoints = MAX_STEP_LOSS_POINTS) {
    if (!Number.isInteger(maxPoints) || maxPoints < 2 || maxPoints % 2 !== 0) throw new RangeError(`maxPoints must be an even integer >= 2, got ${maxPoints}`);
  }

  /** `step` is the global step (1-based, increasing) whose loss this is. */
  push(step: number, loss: number): void {
    this.sum += loss;
    this.n++;
    this.last = step;
    if (this.n < this.stride) return;
    this.steps.push(this.last);
    this.losses.push(this.sum / this.n);
    this.sum = 0;
    this.n = 0;
    if (this.steps.length === this.maxPoints) this.halve();
  }

  private halve(): void {
    const half = this.steps.length / 2;
    for (let i = 0; i < half; i++) {
      this.steps[i] = this.steps[2 * i + 1];
      this.losses[i] = (this.losses[2 * i] + this.losses[2 * i + 1]) / 2;
    }
    this.steps.length = half;
    this.losses.length = half;
    this.stride *= 2;
  }

  /** The series so far, the unfinished last bucket included as a point of its own. */
  series(): StepLossSeries {
    const step = this.steps.slice();
    const loss = this.losses.slice();
    if (this.n > 0) {
      step.push(this.last);
      loss.push(this.sum / this.n);
    }
    return { stride: this.stride, step, loss };
  }
}

/** A stored series is sound: same lengths, bounded, steps increasing whole numbers, finite losses. */
export function isStepLossSeries(v: unknown, maxPoints = 4 * MAX_STEP_LOSS_POINTS): v is StepLossSeries {
  if (typeof v !== 'object' || v === null) return false;
  const s = v as StepLossSeries;
  if (!Number.isInteger(s.stride) || s.stride < 1 || !Array.isArray(s.step) || !Array.isArray(s.loss)) return false;
  if (s.step.length !== s.loss.length || s.step.length > maxPoints) return false;
  for (let i = 0; i < s.step.length; i++) {
    const x = s.step[i];
    if (!Number.isInteger(x) || x < 1 || (i > 0 && x <= s.step[i - 1])) return false;
    if (typeof s.loss[i] !== 'number' || !Number.isFinite(s.loss[i])) return false;
  }
  return true;
}
