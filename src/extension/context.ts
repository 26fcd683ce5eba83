/** What every command needs, built once in activate(). */
import type * as vscode from 'vscode';
import type { InspectorNode, InspectorTree } from './inspectorTree';
import type { JobRunner } from './jobRunner';
import type { Log } from './log';
import type { ProjectModel } from './projectModel';
import type { JobStatusBar } from './statusBar';

export interface ExtCtx {
  extensionUri: vscode.Uri;
  extensionPath: string;
  /** models/reference-cnn/model.json inside the extension. */
  embeddedModelPath: string;
  model: ProjectModel;
  runner: JobRunner;
  log: Log;
  tree: InspectorTree;
  treeView: vscode.TreeView<InspectorNode>;
  statusBar: JobStatusBar;
}
