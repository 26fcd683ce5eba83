/** `piggyback dynamics`: bits flipped per masked layer per epoch, and when each layer settled. */
import type { Command } from 'commander';
import { table } from './format';

export function addDynamicsCommand(program: Command): void {
  program
    .command('dynamics')
    .description('mask dynamics of a task from its history: bits flipped per layer per epoch, and the epoch after which each layer flips < 1% of its bits')
    .argument('<project>', 'mask project folder')
    .requiredOption('--task <name>', 'task name')
    .option('--json', 'machine-readable output')
    .action(async (project: string, o) => {
      const [{ openProject }, { readTaskMeta }, { maskDynamics }] = await Promise.all([
        import('../core/project/projectDir'), import('../core/project/taskFiles'), import('../core/analysis/dynamics'),
      ]);
      const h = openProject(project);
      const d = maskDynamics(readTaskMeta(project, o.task).history, h.manifest.layers);
      if (o.json) {
        process.stdout.write(`${JSON.stringify(d, null, 2)}\n`);
        return;
      }
      if (!d.perLayer) {
        process.stdout.write(`task "${o.task}" was trained before per-layer flips were recorded: retrain it to see its dynamics\n`);
        return;
      }
      const rows = d.layers.map((l) => [l.name, ...l.flips.map(String), l.settledAfterEpoch === null ? 'not yet' : String(l.settledAfterEpoch)]);
      process.stdout.write(`${table([['layer', ...d.epochs.map((e) => `epoch ${e}`), 'settled after'], ...rows])}\n`);
    });
}
