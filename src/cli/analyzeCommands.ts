/**
 * `piggyback analyze …`, `piggyback export` and `piggyback import-mask`: analyses and
 * exchange formats over a project's stored masks (issue #10). Registered by buildProgram.
 */
import type { Command } from 'commander';
import { PiggybackError } from '../core/errors';
import type { LayerFilterReport } from '../core/project/filters';
import { pct, table } from './format';

function print(json: boolean, value: unknown, human: () => string): void {
  process.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : `${human()}\n`);
}

/** Human rendering of a filter report: filters x tasks, then the diff or the kernel positions. */
export function formatFilterReport(r: LayerFilterReport): string {
  const l = r.layer;
  const out: string[] = [];
  out.push(`layer ${l.name} (${l.kind} [${l.shape.join(',')}]): ${r.filters} filters of ${r.weightsPerFilter} weights`);
  for (const s of r.skipped) out.push(`skipped task ${s.task}: ${s.reason}`);
  if (r.tasks.length === 0) {
    out.push('no readable task: train one first');
    return out.join('\n');
  }
  const dead = r.tasks.map((t) => new Set(t.dead));
  const rows = [['filter', ...r.tasks.map((t) => t.task)]];
  for (let f = 0; f < r.filters; f++) {
    rows.push([String(f), ...r.tasks.map((t, i) => (dead[i].has(f) ? 'dead' : pct(t.fraction[f], 1)))]);
  }
  out.push('kept per filter ("dead": no weight kept, the filter outputs its bias alone):');
  out.push(table(rows));
  out.push(`dead filters: ${r.tasks.map((t) => `${t.task} ${t.dead.length}/${r.filters}`).join(', ')}`);
  if (r.diff) {
    const d = r.diff;
    out.push('');
    out.push(`diff of ${d.a} and ${d.b}, weights per filter:`);
    const drows = [['filter', 'both', `${d.a} only`, `${d.b} only`, 'neither']];
    for (let f = 0; f < r.filters; f++) drows.push([String(f), String(d.both[f]), String(d.aOnly[f]), String(d.bOnly[f]), String(d.neither[f])]);
    const sum = (a: number[]) => a.reduce((s, v) => s + v, 0);
    drows.push(['total', String(sum(d.both)), String(sum(d.aOnly)), String(sum(d.bOnly)), String(sum(d.neither))]);
    out.push(table(drows));
  }
  if (r.positions && r.kernel) {
    const [kh, kw] = r.kernel;
    const p = r.positions;
    out.push('');
    out.push(`task ${p.task}: kept weights at each kernel position (rows y, columns x), out of ${p.perPosition} per position:`);
    const width = String(p.perPosition).length;
    for (let f = 0; f < r.filters; f++) {
      const grid = Array.from({ length: kh }, (_, y) => p.kept[f].slice(y * kw, (y + 1) * kw).map((v) => String(v).padStart(width)).join(' '));
      out.push(`filter ${String(f).padStart(String(r.filters - 1).length)}: ${grid.join(' | ')}`);
    }
  }
  return out.join('\n');
}

function parsePair(v: string): [string, string] {
  const parts = v.split(',').map((s) => s.trim());
  if (parts.length !== 2 || !parts[0] || !parts[1]) {
    throw new PiggybackError('BAD_ARGUMENT', `--diff takes two task names separated by a comma, got ${JSON.stringify(v)}`, 'e.g. --diff mnist,fashion');
  }
  return [parts[0], parts[1]];
}

export function registerAnalysisCommands(program: Command): void {
  const analyze = program.command('analyze').description('analyses of stored masks beyond `stats` (see `analyze --help`)');

  analyze
    .command('filters')
    .description('per output filter of a layer: kept fraction for every task, dead filters; a filter-level diff of two tasks; kept count per kernel position for one task')
    .argument('<project>', 'mask project folder')
    .requiredOption('--layer <name>', 'masked layer (as `stats` lists them)')
    .option('--task <name>', 'also show the kept count at each kernel position of every filter for this task (conv and depthwise layers)')
    .option('--diff <a,b>', 'also show, per filter, the weights kept by both tasks, by a only and by b only')
    .option('--json', 'machine-readable output')
    .action(async (project: string, o) => {
      const { analyzeLayerFilters } = await import('../core/project/filters');
      const r = analyzeLayerFilters(project, o.layer, { diff: o.diff ? parsePair(o.diff) : undefined, positionsOf: o.task });
      print(o.json, r, () => formatFilterReport(r));
    });
}
