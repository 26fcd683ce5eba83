/** `piggyback similarity`: linear CKA per layer between two tasks, beside their masks' Jaccard. */
import type { Command, Option } from 'commander';
import { InvalidArgumentError } from 'commander';
import { table } from './format';

export function addSimilarityCommand(program: Command, backendOption: () => Option): void {
  program
    .command('similarity')
    .description("functional similarity of two tasks: linear CKA of their masked networks' activations at every masked layer, next to bit overlap (Jaccard)")
    .argument('<project>', 'mask project folder')
    .requiredOption('--tasks <a,b>', 'the two tasks')
    .option('--probe-from <a|b>', "whose validation images to probe with", 'a')
    .option('--probe <n>', 'probe images (2-512)', '256')
    .addOption(backendOption())
    .option('--json', 'machine-readable output')
    .action(async (project: string, o) => {
      const names = String(o.tasks).split(',').map((s) => s.trim());
      if (names.length !== 2 || !names[0] || !names[1]) throw new InvalidArgumentError('--tasks takes two task names: a,b');
      const { taskSimilarity } = await import('../core/engine');
      const r = await taskSimilarity({ projectDir: project, taskA: names[0], taskB: names[1], probeFrom: String(o.probeFrom).toLowerCase() === 'b' ? 'B' : 'A', probeLimit: Number(o.probe), backend: o.backend });
      if (o.json) {
        process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
        return;
      }
      process.stdout.write(
        `${r.taskA} vs ${r.taskB} on ${r.probe.count} ${r.probe.split} images of ${r.probe.task} (${r.seconds.toFixed(1)} s)\n` +
          `${table([['layer', 'CKA (function)', 'Jaccard (bits)'], ...r.layers.map((l) => [l.name, l.cka.toFixed(4), l.jaccard === null ? '-' : l.jaccard.toFixed(4)])])}\n`,
      );
    });
}

export function addInferTaskCommand(program: Command, backendOption: () => Option): void {
  program
    .command('infer-task')
    .description("experiment (SupSup-style): for each task's test images, which task's mask and head is most confident (lowest normalised entropy); a true x inferred task matrix")
    .argument('<project>', 'mask project folder')
    .option('--tasks <list>', 'comma-separated tasks (default: all)')
    .option('--per-task <n>', 'test images per task', '100')
    .addOption(backendOption())
    .option('--json', 'machine-readable output')
    .action(async (project: string, o) => {
      const { inferTasks } = await import('../core/engine');
      const r = await inferTasks({ projectDir: project, tasks: o.tasks ? String(o.tasks).split(',').map((s) => s.trim()) : undefined, perTask: Number(o.perTask), backend: o.backend });
      if (o.json) {
        process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
        return;
      }
      process.stdout.write(
        `${table([['true \\ inferred', ...r.tasks], ...r.tasks.map((t, i) => [t, ...r.confusion[i].map(String)])])}\n` +
          `own task inferred for ${(100 * r.accuracy).toFixed(1)}% of ${r.imagesPerTask.reduce((a, b) => a + b, 0)} images\n`,
      );
    });
}
