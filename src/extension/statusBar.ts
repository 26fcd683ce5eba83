/** Status bar item for the running job: what runs and how far; click to cancel. */
import * as vscode from 'vscode';
import type { JobRunner } from './jobRunner';

export class JobStatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('piggyback.job', vscode.StatusBarAlignment.Left, 50);
  private readonly sub: vscode.Disposable;

  constructor(runner: JobRunner) {
    this.item.name = 'Piggyback job';
    this.item.command = 'piggyback.cancelJob';
    this.sub = runner.onDidChange((job) => {
      void vscode.commands.executeCommand('setContext', 'piggyback.jobRunning', !!job);
      if (job) {
        this.item.text = `$(sync~spin) Piggyback: ${job.title}`;
        this.item.tooltip = `${job.title}: click to cancel`;
        this.item.show();
      } else {
        this.item.hide();
      }
    });
  }

  /** Progress detail next to the title, e.g. 'epoch 1/2 · step 5/40'. */
  detail(title: string, detail: string): void {
    this.item.text = `$(sync~spin) Piggyback: ${title} · ${detail}`;
  }

  dispose(): void {
    this.sub.dispose();
    this.item.dispose();
  }
}
