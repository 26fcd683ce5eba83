/**
 * The "Mask Inspector" tree: Backbone -> tasks (accuracy, sparsity, bytes, state)
 * -> masked layers (shape, params, sparsity %). Empty (so the welcome view shows)
 * when no project is open.
 */
import * as vscode from 'vscode';
import type { MaskedLayerInfo, ProjectStats, TaskStats } from '../core/types';
import * as fmt from './format';
import type { ProjectModel } from './projectModel';
import { differingKeys, differingText } from './hyperModel';
import { backboneName } from './backboneName';

export type InspectorNode =
  | { kind: 'backbone'; stats: ProjectStats }
  | { kind: 'task'; stats: ProjectStats; task: TaskStats }
  | { kind: 'layer'; stats: ProjectStats; task: TaskStats; layer: MaskedLayerInfo; index: number }
  | { kind: 'message'; label: string; detail?: string; command?: vscode.Command; icon?: string };

/** What task-item context-menu commands receive. */
export function taskOfNode(x: unknown): { project: string; task: string } | undefined {
  if (x && typeof x === 'object' && (x as InspectorNode).kind === 'task') {
    const n = x as Extract<InspectorNode, { kind: 'task' }>;
    return { project: n.stats.dir, task: n.task.name };
  }
  return undefined;
}

export function taskDescription(t: TaskStats): string {
  if (t.state === 'failed') return `damaged: ${t.damage ?? 'unreadable'}`;
  const acc = t.testAccuracy === null ? 'acc –' : `acc ${fmt.pct(t.testAccuracy)}`;
  return `${acc} · ${fmt.pct(t.sparsity)} off · ${fmt.bytes(t.bytes)} · ${t.state}`;
}

/** The task's tooltip: its numbers, then every option that differs between this project's runs. */
export function taskTooltip(t: TaskStats, all: readonly TaskStats[]): string {
  const keys = differingKeys(all);
  const others = all.filter((x) => x.state !== 'failed' && x.name !== t.name).length;
  return [
    `**${t.name}** on \`${t.dataset}\` (${t.classNames.length} classes)`,
    `test accuracy ${fmt.pct(t.testAccuracy, 2)}, ${fmt.pct(t.sparsity, 2)} of masked weights off`,
    `${fmt.bytes(t.bytes)} on disk, ${fmt.fixed(t.bitsPerMaskedWeight)} bits per masked weight`,
    `${t.maskKind} mask, BN ${t.bnMode}, ${t.options.epochs} epochs, batch ${t.options.batchSize}, threshold ${t.options.threshold}`,
    keys.length ? `**Differs between runs:** ${differingText(t, keys)}` : others ? 'Same options and data caps as every other task.' : '',
  ].filter(Boolean).join('\n\n');
}

export function layerDescription(layer: MaskedLayerInfo, sparsity: number | undefined): string {
  return `${fmt.shape(layer.shape)} · ${fmt.count(layer.size)} params · ${fmt.pct(sparsity)} off`;
}

export class InspectorTree implements vscode.TreeDataProvider<InspectorNode>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<InspectorNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly sub: vscode.Disposable;

  constructor(private readonly model: ProjectModel) {
    this.sub = model.onDidChange(() => this.changed.fire(undefined));
  }

  getChildren(node?: InspectorNode): InspectorNode[] {
    if (!node) {
      if (!this.model.dir) return [];
      const stats = this.model.stats;
      if (!stats) {
        return [
          {
            kind: 'message',
            label: 'Project could not be read',
            detail: this.model.error ?? 'unknown error',
            icon: 'error',
            command: { title: 'Open Mask Project', command: 'piggyback.openProject' },
          },
        ];
      }
      const nodes: InspectorNode[] = [{ kind: 'backbone', stats }];
      if (stats.backbone.missing) {
        nodes.unshift({
          kind: 'message',
          label: 'Backbone missing: Relink Backbone…',
          detail: `no model.json at ${stats.backbone.modelPath}`,
          icon: 'warning',
          command: { title: 'Relink Backbone', command: 'piggyback.relinkBackbone', arguments: [{ project: stats.dir }] },
        });
      }
      return nodes;
    }
    if (node.kind === 'backbone') {
      if (!node.stats.tasks.length) {
        return [
          {
            kind: 'message',
            label: 'No tasks yet: Train Mask…',
            icon: 'play',
            command: { title: 'Train Mask', command: 'piggyback.trainMask', arguments: [{ project: node.stats.dir }] },
          },
        ];
      }
      return node.stats.tasks.map((task) => ({ kind: 'task' as const, stats: node.stats, task }));
    }
    if (node.kind === 'task') {
      if (node.task.state === 'failed') return [];
      return node.stats.layers.map((layer, index) => ({ kind: 'layer' as const, stats: node.stats, task: node.task, layer, index }));
    }
    return [];
  }

  /** Needed by TreeView.reveal (piggyback.revealTask). */
  getParent(node: InspectorNode): InspectorNode | undefined {
    if (node.kind === 'task') return { kind: 'backbone', stats: node.stats };
    if (node.kind === 'layer') return { kind: 'task', stats: node.stats, task: node.task };
    return undefined;
  }

  getTreeItem(node: InspectorNode): vscode.TreeItem {
    switch (node.kind) {
      case 'backbone': {
        const b = node.stats.backbone;
        const label = backboneName(b);
        const item = new vscode.TreeItem(`Backbone: ${label}${b.missing ? ' (missing)' : ''}`, vscode.TreeItemCollapsibleState.Expanded);
        item.id = `backbone:${node.stats.dir}`;
        item.description = `${fmt.count(b.totalParams)} params · ${fmt.count(b.maskedParams)} masked · ${node.stats.tasks.length} task${node.stats.tasks.length === 1 ? '' : 's'}`;
        item.iconPath = new vscode.ThemeIcon(b.missing ? 'warning' : 'circuit-board');
        item.contextValue = 'piggyback.backbone';
        item.tooltip = new vscode.MarkdownString(
          [
            `**Project** \`${node.stats.dir}\``,
            `**Model** \`${b.modelPath}\`${b.cutAt ? ` (cut at \`${b.cutAt}\`)` : ''}${b.missing ? ' — **missing**: run *Piggyback: Relink Backbone*' : ''}`,
            `**Input** ${fmt.shape(b.inputShape)}`,
            `**Parameters** ${b.totalParams.toLocaleString('en-US')} total, ${b.maskedParams.toLocaleString('en-US')} masked in ${node.stats.layers.length} layers`,
            `**Threshold** ${node.stats.threshold}`,
            `**sha256** \`${b.sha256.slice(0, 16)}…\``,
          ].join('\n\n'),
        );
        return item;
      }
      case 'task': {
        const t = node.task;
        const item = new vscode.TreeItem(t.name, vscode.TreeItemCollapsibleState.Collapsed);
        item.id = `task:${node.stats.dir}:${t.name}`;
        item.description = taskDescription(t);
        item.contextValue = 'piggyback.task';
        item.iconPath = new vscode.ThemeIcon(t.state === 'trained' ? 'pass' : t.state === 'training' ? 'sync~spin' : 'error');
        item.tooltip = t.state === 'failed' ? new vscode.MarkdownString(`**${t.name}** is damaged: ${t.damage ?? 'unreadable'}`) : new vscode.MarkdownString(taskTooltip(t, node.stats.tasks));
        return item;
      }
      case 'layer': {
        const s = node.task.layerSparsity[node.index];
        const item = new vscode.TreeItem(node.layer.name, vscode.TreeItemCollapsibleState.None);
        item.id = `layer:${node.stats.dir}:${node.task.name}:${node.layer.name}`;
        item.description = layerDescription(node.layer, s);
        item.contextValue = 'piggyback.layer';
        item.iconPath = new vscode.ThemeIcon(node.layer.kind === 'dense' ? 'symbol-array' : 'symbol-module');
        item.tooltip = `${node.layer.kind} ${fmt.shape(node.layer.shape)}: ${node.layer.size.toLocaleString('en-US')} weights, ${fmt.pct(s, 2)} switched off for ${node.task.name}`;
        return item;
      }
      case 'message': {
        const item = new vscode.TreeItem(node.label, vscode.TreeItemCollapsibleState.None);
        item.description = node.detail;
        item.tooltip = node.detail;
        item.command = node.command;
        if (node.icon) item.iconPath = new vscode.ThemeIcon(node.icon);
        return item;
      }
    }
  }

  dispose(): void {
    this.sub.dispose();
    this.changed.dispose();
  }
}
