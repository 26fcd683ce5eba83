/**
 * The project the inspector and explorer show: which folder, its stats (read from disk
 * without TF.js), and a FileSystemWatcher so CLI runs and other windows show up live.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { readProjectStats } from '../core/project/stats';
import type { ProjectStats } from '../core/types';
import { errorLine } from './jobErrors';
import type { Log } from './log';
import { projectPathSetting } from './settings';

export { MANIFEST_FILE as MANIFEST } from '../core/project/manifest';
import { MANIFEST_FILE as MANIFEST } from '../core/project/manifest';
const STATE_KEY = 'piggyback.projectDir';

export function isProjectDir(dir: string): boolean {
  try {
    return fs.statSync(path.join(dir, MANIFEST)).isFile();
  } catch {
    return false;
  }
}

/** Workspace folders' piggyback.json projects, shallowest first, first workspace folder first. */
export async function findWorkspaceProjects(): Promise<string[]> {
  const folders = vscode.workspace.workspaceFolders ?? [];
  const found: string[] = [];
  for (const f of folders) if (isProjectDir(f.uri.fsPath)) found.push(f.uri.fsPath);
  const uris = await vscode.workspace.findFiles(`{${MANIFEST},*/${MANIFEST},*/*/${MANIFEST}}`, '**/node_modules/**', 50);
  const rank = (p: string): [number, number] => {
    const wf = vscode.workspace.getWorkspaceFolder(vscode.Uri.file(p));
    return [wf ? wf.index : 99, p.split(path.sep).length];
  };
  const dirs = uris.map((u) => path.dirname(u.fsPath)).filter((d) => !found.includes(d));
  dirs.sort((a, b) => {
    const [wa, da] = rank(a);
    const [wb, db] = rank(b);
    return wa - wb || da - db || a.localeCompare(b);
  });
  return [...found, ...dirs];
}

export function resolveUserPath(p: string): string {
  if (path.isAbsolute(p)) return path.normalize(p);
  const base = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? process.cwd();
  return path.resolve(base, p);
}

export class ProjectModel implements vscode.Disposable {
  private _dir: string | undefined;
  private _stats: ProjectStats | undefined;
  private _error: string | undefined;
  private watcher: vscode.FileSystemWatcher | undefined;
  private readonly wsWatcher: vscode.FileSystemWatcher;
  private debounce: NodeJS.Timeout | undefined;
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChange = this.changed.event;
  private readonly subs: vscode.Disposable[] = [];

  constructor(
    private readonly memento: vscode.Memento,
    private readonly log: Log,
  ) {
    // A project created in the workspace (e.g. by the CLI) is picked up when none is open.
    this.wsWatcher = vscode.workspace.createFileSystemWatcher(`**/${MANIFEST}`);
    const onManifest = (): void => {
      if (!this._dir) void this.autoDetect();
      else this.scheduleReload();
    };
    this.subs.push(this.wsWatcher.onDidCreate(onManifest), this.wsWatcher.onDidChange(onManifest), this.wsWatcher.onDidDelete(onManifest));
  }

  get dir(): string | undefined {
    return this._dir;
  }
  get stats(): ProjectStats | undefined {
    return this._stats;
  }
  /** One line when the open project could not be read. */
  get error(): string | undefined {
    return this._error;
  }

  /** Setting piggyback.projectPath, else the last project used here, else the first one in the workspace. */
  async autoDetect(): Promise<void> {
    const fromSetting = projectPathSetting();
    if (fromSetting) {
      this.setDir(resolveUserPath(fromSetting));
      return;
    }
    const remembered = this.memento.get<string>(STATE_KEY);
    if (remembered && isProjectDir(remembered)) {
      this.setDir(remembered);
      return;
    }
    const found = await findWorkspaceProjects();
    if (found.length) this.setDir(found[0]);
    else this.setDir(undefined);
  }

  setDir(dir: string | undefined): void {
    const norm = dir ? path.resolve(dir) : undefined;
    if (norm !== this._dir) {
      this._dir = norm;
      void this.memento.update(STATE_KEY, norm);
      this.watcher?.dispose();
      this.watcher = undefined;
      if (norm) {
        this.watcher = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(vscode.Uri.file(norm), '**/*'));
        this.watcher.onDidChange(() => this.scheduleReload());
        this.watcher.onDidCreate(() => this.scheduleReload());
        this.watcher.onDidDelete(() => this.scheduleReload());
        this.log.info(`project: ${norm}`);
      }
    }
    this.reload();
  }

  /** Re-reads the project from disk now. */
  reload(): void {
    if (this.debounce) clearTimeout(this.debounce);
    this.debounce = undefined;
    this._stats = undefined;
    this._error = undefined;
    if (this._dir) {
      if (!isProjectDir(this._dir)) {
        this._error = `${this._dir} is not a Piggyback project (no ${MANIFEST}) (create one with "Piggyback: Create Mask Project")`;
      } else {
        try {
          this._stats = readProjectStats(this._dir);
        } catch (e) {
          this._error = errorLine(e);
          this.log.error(`reading ${this._dir}: ${this._error}`);
        }
      }
    }
    void vscode.commands.executeCommand('setContext', 'piggyback.hasProject', !!this._dir);
    this.changed.fire();
  }

  scheduleReload(delayMs = 300): void {
    if (this.debounce) clearTimeout(this.debounce);
    this.debounce = setTimeout(() => this.reload(), delayMs);
  }

  dispose(): void {
    if (this.debounce) clearTimeout(this.debounce);
    this.watcher?.dispose();
    this.wsWatcher.dispose();
    for (const s of this.subs) s.dispose();
    this.changed.dispose();
  }
}
