/** Show Sparsity Heatmap / Compare Task Masks: open the explorer webview on a view. */
import type { ViewId } from '../../shared/protocol';
import type { ExtCtx } from '../context';
import { ExplorerPanel } from '../explorerPanel';
import type { TaskArgs } from './args';
import { requireProject } from './pickers';
import { UserError } from './userError';

export async function showView(ctx: ExtCtx, args: TaskArgs, view: ViewId): Promise<boolean> {
  const dir = await requireProject(ctx, args.project, args.nonInteractive);
  if (!dir) return false;
  if (!ctx.model.stats) throw new UserError(`could not read the project: ${ctx.model.error ?? dir}`);
  if (view === 'overlap' && ctx.model.stats.tasks.length < 2) {
    // Still useful (the matrix is 1x1), but say why there is little to compare.
    ctx.log.info('compare: the project has fewer than two tasks');
  }
  ExplorerPanel.show({ extensionUri: ctx.extensionUri, model: ctx.model, log: ctx.log, runner: ctx.runner }, view);
  return true;
}
