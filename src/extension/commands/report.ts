/** Export Report: the project's numbers as Markdown (or JSON), through a save dialog. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ProjectStats } from '../../core/types';
import type { ExtCtx } from '../context';
import * as fmt from '../format';
import { differingKeys, runValues } from '../hyperModel';
import { resolveUserPath } from '../projectModel';
import type { ReportArgs } from './args';
import { requireProject } from './pickers';
import { UserError } from './userError';

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

export async function exportReport(ctx: ExtCtx, args: ReportArgs): Promise<string | undefined> {
  const dir = await requireProject(ctx, args.project, args.nonInteractive);
  if (!dir) return undefined;
  ctx.model.reload();
  const stats = ctx.model.stats;
  if (!stats) throw new UserError(`could not read the project: ${ctx.model.error ?? dir}`);
  let out = args.path ? resolveUserPath(args.path) : undefined;
  if (!out) {
    if (args.nonInteractive) throw new UserError('no output path given', 'pass {path}');
    const uri = await vscode.window.showSaveDialog({
      title: 'Export Piggyback report',
      saveLabel: 'Export report',
      defaultUri: vscode.Uri.file(path.join(dir, 'piggyback-report.md')),
      filters: { Markdown: ['md'], JSON: ['json'] },
    });
    out = uri?.fsPath;
    if (!out) return undefined;
  }
  const text = out.toLowerCase().endsWith('.json') ? JSON.stringify(stats, null, 2) + '\n' : markdownReport(stats);
  fs.writeFileSync(out, text);
  ctx.log.info(`report written: ${out}`);
  void vscode.window.showInformationMessage(`Piggyback: report written to ${path.basename(out)}`, 'Open').then((c) => {
    if (c) void vscode.window.showTextDocument(vscode.Uri.file(out!));
  });
  return out;
}
