/** Export Report: the project's numbers as Markdown (or JSON), through a save dialog. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ProjectStats } from '../../core/types';
import type { ExtCtx } from '../context';
import { markdownReport, writeReportCsvs } from '../reportFiles';
import { resolveUserPath } from '../projectModel';
import type { ReportArgs } from './args';
import { requireProject } from './pickers';
import { UserError } from './userError';

export { markdownReport } from '../reportFiles';

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
  // The tables behind every chart, beside the summary (PNGs come from each view's Export PNG).
  const written = [out, ...writeReportCsvs(stats, out)];
  ctx.log.info(`report written: ${written.join(', ')}`);
  const where = path.dirname(out);
  void vscode.window.showInformationMessage(`Piggyback: report written to ${where}: ${written.map((f) => path.basename(f)).join(', ')}`, 'Open', 'Reveal').then((c) => {
    if (c === 'Open') void vscode.window.showTextDocument(vscode.Uri.file(out!));
    if (c === 'Reveal') void vscode.commands.executeCommand('revealFileInOS', vscode.Uri.file(out!));
  });
  return out;
}
