/**
 * The reproduce run's progress line: which backbone, task, method and epoch it is on, and an
 * ETA for the whole run. The ETA sums the work left (epochs x training images of every
 * (backbone, task, method) still to run) at the seconds per image measured so far for that
 * backbone and method; before a method has run on a backbone it is guessed from that
 * backbone's Piggyback rate (or the first backbone's) and a fixed cost ratio.
 */
import { loadDataset } from '../../core/data';
import { formatDuration } from '../../core/train/eta';
import type { TrainEvent } from '../../core/types';
import type { ReproducePlan } from './plan';
import { isPilotMethod, pilotMethod } from './pilot';

export interface SplitCounts {
  train: number;
  val: number;
  test: number;
}

/** Cost of one training image relative to Piggyback on the same backbone (measured on vgg6, 28 px). */
const METHOD_COST: Record<string, number> = { piggyback: 1, 'piggyback-51-steps': 1, classifier: 0.08, finetune: 2 };

/** A head-rate pilot is a short Piggyback run: it costs what Piggyback costs per image. */
const family = (method: string): string => (isPilotMethod(method) ? 'piggyback' : method);

interface Work {
  arch: string;
  task: string;
  method: string;
  units: number;
  done: number;
  seconds: number;
}

export class RunProgress {
  private readonly work: Work[] = [];
  private readonly splits = new Map<string, SplitCounts>();
  private current: Work | null = null;
  private startedAt = 0;
  private lastPrint = 0;

  constructor(private readonly log: (line: string) => void, private readonly now: () => number = () => performance.now()) {}

  /** Loads every task's split sizes (same loader, limits and seed as the engine). */
  async prepare(plan: ReproducePlan): Promise<void> {
    const p = plan.protocol;
    const count = async (dataset: string, trainPerClass: number | undefined, testLimit: number | undefined): Promise<SplitCounts> => {
      const d = await loadDataset(dataset, { height: 28, width: 28, channels: 1 }, { trainPerClass, testLimit, valFraction: p.valFraction, seed: p.seed });
      return { train: d.train.count, val: d.val?.count ?? 0, test: d.test.count };
    };
    for (const a of plan.archs) {
      for (const t of a.tasks) {
        const main = await count(t.dataset, t.trainPerClass, t.testLimit);
        const sel = p.headRateSelection;
        // As backboneRun: a selection needs two candidates, else no pilot runs.
        for (const lr of sel && sel.candidates.length >= 2 ? sel.candidates : []) {
          this.splits.set(`${a.id}|${t.dataset}|${pilotMethod(lr)}`, main);
          this.work.push({ arch: a.id, task: t.dataset, method: pilotMethod(lr), units: (sel?.epochs ?? 0) * main.train, done: 0, seconds: 0 });
        }
        for (const m of ['piggyback', 'classifier', 'finetune']) {
          this.splits.set(`${a.id}|${t.dataset}|${m}`, main);
          this.work.push({ arch: a.id, task: t.dataset, method: m, units: p.epochs * main.train, done: 0, seconds: 0 });
        }
        if (p.short) {
          const short = await count(t.dataset, p.short.trainPerClass, t.testLimit);
          this.splits.set(`${a.id}|${t.dataset}|piggyback-51-steps`, short);
          this.work.push({ arch: a.id, task: t.dataset, method: 'piggyback-51-steps', units: p.short.epochs * short.train, done: 0, seconds: 0 });
        }
      }
    }
  }

  counts(arch: string, task: string, method: string): SplitCounts {
    return this.splits.get(`${arch}|${task}|${method}`) ?? { train: 0, val: 0, test: 0 };
  }

  currentMethod(): string {
    return this.current?.method ?? '';
  }

  onEvent(arch: string, task: string, method: string, e: TrainEvent): void {
    const t = this.now();
    if (e.type === 'start') {
      this.current = this.work.find((w) => w.arch === arch && w.task === task && w.method === method) ?? null;
      this.startedAt = t;
      return;
    }
    const w = this.current;
    if (!w) return;
    if (e.type === 'step' || e.type === 'epoch') {
      const epochs = Math.max(1, w.units / Math.max(1, this.counts(arch, task, method).train));
      const stepsPerEpoch = e.type === 'step' ? e.stepsPerEpoch : 0;
      const fraction = e.type === 'step' ? ((e.epoch - 1) * stepsPerEpoch + e.step) / (epochs * stepsPerEpoch) : e.epoch / epochs;
      w.done = Math.min(w.units, fraction * w.units);
      w.seconds = (t - this.startedAt) / 1000;
    }
    if (e.type === 'epoch' || (e.type === 'step' && t - this.lastPrint > 15_000)) {
      this.lastPrint = t;
      const epochs = Math.round(w.units / Math.max(1, this.counts(arch, task, method).train));
      const val = e.type === 'epoch' && e.valAccuracy !== null ? `, val ${(100 * e.valAccuracy).toFixed(1)}%` : '';
      const at = e.type === 'epoch' ? `epoch ${e.epoch}/${epochs}${val}` : `epoch ${e.epoch}/${epochs} step ${e.step}/${e.stepsPerEpoch}`;
      const eta = this.secondsLeft();
      this.log(`  [${arch}] ${task} · ${method} · ${at} · ETA ${eta === null ? '?' : formatDuration(eta)} for the whole run`);
    }
  }

  /** Seconds per unit of work for a (backbone, method), measured or guessed. */
  private rate(arch: string, method: string): number | null {
    const measured = (a: string, m: string) => {
      const ws = this.work.filter((w) => w.arch === a && family(w.method) === family(m) && w.done > 0);
      const done = ws.reduce((s, w) => s + w.done, 0);
      return done > 0 ? ws.reduce((s, w) => s + w.seconds, 0) / done : null;
    };
    const own = measured(arch, method);
    if (own !== null) return own;
    const pb = measured(arch, 'piggyback') ?? this.work.map((w) => measured(w.arch, 'piggyback')).find((r) => r !== null) ?? null;
    return pb === null ? null : pb * (METHOD_COST[method] ?? 1);
  }

  secondsLeft(): number | null {
    let s = 0;
    for (const w of this.work) {
      if (w.done >= w.units) continue;
      const r = this.rate(w.arch, w.method);
      if (r === null) return null;
      s += (w.units - w.done) * r;
    }
    return s;
  }

  /** Marks a (backbone, task, method) finished (its last epoch event may not cover rounding). */
  finish(arch: string, task: string, method: string): void {
    const w = this.work.find((x) => x.arch === arch && x.task === task && x.method === method);
    if (w) w.done = w.units;
  }
}
