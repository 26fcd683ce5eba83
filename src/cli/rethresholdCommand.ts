/** `piggyback rethreshold`: a task's mask at other thresholds from its stored scores, no retraining. */
import type { Command } from 'commander';
import { InvalidArgumentError, Option } from 'commander';
import { pct, table } from './format';

function thresholds(o: { threshold?: string; sweep?: string }): number[] {
  if (o.sweep) {
    const m = /^([^:]+):([^:]+):(\d+)$/.exec(o.sweep);
    if (!m) throw new InvalidArgumentError('--sweep takes from:to:count, e.g. 0:0.009:10');
    const [a, b, n] = [Number(m[1]), Number(m[2]), Number(m[3])];
    if (!Number.isFinite(a) || !Number.isFinite(b) || n < 2 || n > 200) throw new InvalidArgumentError('--sweep from:to:count needs numbers and 2..200 points');
    return Array.from({ length: n }, (_, i) => a + ((b - a) * i) / (n - 1));
  }
  const t = Number(o.threshold);
  if (o.threshold === undefined || !Number.isFinite(t)) throw new InvalidArgumentError('give --threshold X or --sweep from:to:count');
  return [t];
}

export function addRethresholdCommand(program: Command, backendOption: () => Option, cancellation: () => AbortSignal): void {
  program
    .command('rethreshold')
    .description("re-binarise a task's stored scores at another threshold (no retraining): per-layer sparsity, bits per weight, probe accuracy")
    .argument('<project>', 'mask project folder')
    .requiredOption('--task <name>', 'task whose scores to re-threshold')
    .option('--threshold <x>', 'one threshold in [0, mask scale)')
    .option('--sweep <from:to:count>', 'evenly spaced thresholds: the accuracy-sparsity curve')
    .option('--probe <n>', 'probe images (the validation split, else test)', '512')
    .option('--save-as <name>', 'store the mask at --threshold as a new task (the original is never altered)')
    .addOption(backendOption())
    .option('--json', 'machine-readable output')
    .action(async (project: string, o) => {
      const ts = thresholds(o);
      if (o.saveAs && ts.length !== 1) throw new InvalidArgumentError('--save-as goes with one --threshold');
      const { rethresholdTask } = await import('../core/engine');
      const r = await rethresholdTask({ projectDir: project, task: o.task, thresholds: ts, probeLimit: Number(o.probe), saveAs: o.saveAs, backend: o.backend }, cancellation());
      if (o.json) {
        process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
        return;
      }
      const lines = [
        `task "${r.task}" (trained at threshold ${r.trainedThreshold}; scores.bin ${r.scoresBytes} bytes), probe: ${r.probe.count} ${r.probe.split} images`,
        table([['threshold', 'weights off', 'bits/weight', 'probe accuracy'], ...r.points.map((p) => [String(Number(p.threshold.toPrecision(4))), pct(p.sparsity, 2), p.bitsPerMaskedWeight.toFixed(3), pct(p.probeAccuracy, 2)])]),
      ];
      if (r.savedAs) lines.push(`saved the mask at threshold ${ts[0]} as task "${r.savedAs}"`);
      process.stdout.write(`${lines.join('\n')}\n`);
    });
}
