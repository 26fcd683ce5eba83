/** What Export Report writes: the Markdown summary and the CSV tables beside it (no VS Code here, so tests can call it). */
import * as fs from 'node:fs';
import type { ProjectStats } from '../core/types';
import * as fmt from './format';
import { differingKeys, runValues } from './hyperModel';
import { curvesTable, overlapTable, runsTable, sparsityTable, toCsv, type Cell } from '../shared/reportTables';

/** Writes <report>-runs.csv, -sparsity.csv, -overlap-jaccard.csv, -overlap-hamming.csv and -curves.csv beside the report; returns their paths. */
export function writeReportCsvs(stats: ProjectStats, reportPath: string): string[] {
  const base = reportPath.replace(/\.(md|json)$/i, '');
  const tables: Array<[string, Cell[][]]> = [
    ['runs', runsTable(stats)],
    ['sparsity', sparsityTable(stats)],
    ['overlap-jaccard', overlapTable(stats, 'jaccard')],
    ['overlap-hamming', overlapTable(stats, 'hamming')],
    ['curves', curvesTable(stats)],
  ];
  return tables.map(([name, rows]) => {
    const file = `${base}-${name}.csv`;
    fs.writeFileSync(file, toCsv(rows));
    return file;
  });
}


export function markdownReport(s: ProjectStats): string {
  const L: string[] = [];
  const b = s.backbone;
  L.push(`# Piggyback mask report`, '');
  L.push(`Project: \`${s.dir}\`  `, `Backbone: \`${b.modelPath}\`${b.cutAt ? ` cut at \`${b.cutAt}\`` : ''} (sha256 \`${b.sha256.slice(0, 16)}…\`)  `);
  L.push(`Input ${fmt.shape(b.inputShape)}; ${b.totalParams.toLocaleString('en-US')} parameters, ${b.maskedParams.toLocaleString('en-US')} masked in ${s.layers.length} layers; threshold ${s.threshold}`, '');
  L.push('## Tasks', '', '| task | dataset | classes | test acc | weights off | bytes | bits / masked weight | state |', '|---|---|---|---|---|---|---|---|');
  for (const t of s.tasks) {
    L.push(`| ${t.name} | ${t.dataset} | ${t.classNames.length} | ${fmt.pct(t.testAccuracy, 2)} | ${fmt.pct(t.sparsity, 2)} | ${t.bytes} | ${fmt.fixed(t.bitsPerMaskedWeight)} | ${t.state === 'failed' ? `damaged: ${t.damage}` : t.state} |`);
  }
  L.push('', '## Sparsity per layer (fraction of masked weights switched off)', '');
  L.push(`| layer | shape | params | ${s.tasks.map((t) => t.name).join(' | ')} |`, `|---|---|---|${s.tasks.map(() => '---|').join('')}`);
  s.layers.forEach((l, i) => {
    L.push(`| ${l.name} | ${fmt.shape(l.shape)} | ${l.size} | ${s.tasks.map((t) => fmt.pct(t.layerSparsity[i], 2)).join(' | ')} |`);
  });
  if (s.tasks.length > 1) {
    L.push('', '## Mask overlap (Jaccard of kept weights, all layers)', '');
    L.push(`| | ${s.tasks.map((t) => t.name).join(' | ')} |`, `|---|${s.tasks.map(() => '---|').join('')}`);
    s.overlap.overall.jaccard.forEach((row, i) => L.push(`| ${s.tasks[i].name} | ${row.map((v) => fmt.fixed(v)).join(' | ')} |`));
  }
  const keys = differingKeys(s.tasks);
  if (keys.length) {
    L.push('', '## Options that differ between tasks', '');
    L.push(`| task | ${keys.join(' | ')} |`, `|---|${keys.map(() => '---|').join('')}`);
    for (const t of s.tasks.filter((x) => x.state !== 'failed')) {
      const v = runValues(t);
      L.push(`| ${t.name} | ${keys.map((k) => String(v[k] ?? 'all')).join(' | ')} |`);
    }
  }
  const withBaselines = s.tasks.filter((t) => t.baselines.length);
  if (withBaselines.length) {
    L.push('', '## Baselines', '', '| task | method | test acc | bytes if stored |', '|---|---|---|---|');
    for (const t of withBaselines) {
      L.push(`| ${t.name} | piggyback | ${fmt.pct(t.testAccuracy, 2)} | ${t.bytes} |`);
      for (const r of t.baselines) L.push(`| ${t.name} | ${r.method} | ${fmt.pct(r.testAccuracy, 2)} | ${r.bytesIfStored} |`);
    }
  }
  L.push('');
  return L.join('\n');
}

