/**
 * Measures the extension host's event-loop delay while a job runs (perf_hooks
 * monitorEventLoopDelay): proof that training in the worker leaves the host responsive.
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

/** Delay beyond the sampling interval, i.e. how late the host's event loop ran a due timer. */
export interface EventLoopStats {
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  meanMs: number;
  samples: number;
  /** The sampling interval (already subtracted from the numbers above). */
  resolutionMs: number;
  /** What was running while these were measured, e.g. 'train fashion'. */
  during: string;
  /** True while the job is still running (numbers so far). */
  running: boolean;
}

/** Sampling interval. The histogram records each timer's full interval, so this is subtracted. */
const RESOLUTION_MS = 10;
const ms = (ns: number): number => Math.round(Math.max(0, ns / 1e6 - RESOLUTION_MS) * 1000) / 1000;

export class EventLoopMonitor {
  private hist: IntervalHistogram | undefined;
  private label = '';
  private last: EventLoopStats | undefined;

  start(label: string): void {
    this.stop();
    this.label = label;
    this.hist = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
    this.hist.enable();
  }

  /** Stops measuring and keeps the numbers as the latest stats. */
  stop(): EventLoopStats | undefined {
    if (!this.hist) return undefined;
    this.hist.disable();
    this.last = this.read(this.hist, false);
    this.hist = undefined;
    return this.last;
  }

  /** Current numbers of a running measurement, else the last finished one. */
  stats(): EventLoopStats | undefined {
    return this.hist ? this.read(this.hist, true) : this.last;
  }

  private read(h: IntervalHistogram, running: boolean): EventLoopStats {
    const n = h.count;
    return {
      p50Ms: n ? ms(h.percentile(50)) : 0,
      p99Ms: n ? ms(h.percentile(99)) : 0,
      maxMs: n ? ms(h.max) : 0,
      meanMs: n ? ms(h.mean) : 0,
      resolutionMs: RESOLUTION_MS,
      samples: n,
      during: this.label,
      running,
    };
  }

  static format(s: EventLoopStats): string {
    return `event loop delay during ${s.during}${s.running ? ' (so far)' : ''}: p50 ${s.p50Ms.toFixed(2)} ms, p99 ${s.p99Ms.toFixed(2)} ms, max ${s.maxMs.toFixed(2)} ms (${s.samples} samples)`;
  }
}
