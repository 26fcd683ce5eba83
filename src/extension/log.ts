/** The "Piggyback" output channel: one timestamped line per thing worth knowing afterwards. */
import * as vscode from 'vscode';

export class Log implements vscode.Disposable {
  private readonly channel = vscode.window.createOutputChannel('Piggyback');

  info(message: string): void {
    this.channel.appendLine(`[${new Date().toISOString()}] ${message}`);
  }

  error(message: string): void {
    this.channel.appendLine(`[${new Date().toISOString()}] ERROR ${message}`);
  }

  show(): void {
    this.channel.show(true);
  }

  dispose(): void {
    this.channel.dispose();
  }
}
