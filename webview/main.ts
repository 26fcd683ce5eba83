/**
 * Webview entry: restores persisted state, builds the tabbed views, and routes
 * validated host messages to them. Bundled by esbuild into one IIFE; defines no globals.
 */
import type { ProjectStats } from '../src/core/types';
import { parseHostMessage, parseWebviewState, type ViewId, type WebviewState } from '../src/shared/protocol';
import { h, int } from './dom';
import { Tabs } from './tabs';
import { HeatmapView } from './heatmap';
import { OverlapView } from './overlap';
import { CurvesView } from './curves';
import { RunsView } from './runs';
import { DynamicsView } from './dynamics';
import { ForgettingView } from './forgetting';
import { WhatIfView } from './whatIf';
import { InferenceView } from './inference';
import { onThemeChange, readTheme, type Theme } from './theme';
import { loadRawState, post, saveState } from './vscodeApi';
import type { ViewContext } from './viewContext';
import { onAnalysisReply } from './analysisClient';

function reportError(err: unknown): void {
  const message = err instanceof Error ? `${err.message}\n${err.stack ?? ''}` : String(err);
  post({ type: 'error', message });
}

function start(): void {
  const state: WebviewState = parseWebviewState(loadRawState());
  let theme: Theme = readTheme();
  const ctx: ViewContext = { state, persist: () => saveState(state), theme: () => theme };

  const heatmap = new HeatmapView(ctx);
  const overlap = new OverlapView(ctx);
  const curves = new CurvesView(ctx);
  const runs = new RunsView(ctx);
  const dynamics = new DynamicsView(ctx);
  const forgetting = new ForgettingView(ctx);
  const whatIf = new WhatIfView(ctx);
  const inference = new InferenceView(ctx);
  const panels: Record<ViewId, HTMLElement> = {
    heatmap: h('div', { class: 'panel' }, heatmap.el),
    overlap: h('div', { class: 'panel' }, overlap.el),
    curves: h('div', { class: 'panel' }, curves.el),
    runs: h('div', { class: 'panel' }, runs.el),
    dynamics: h('div', { class: 'panel' }, dynamics.el),
    forgetting: h('div', { class: 'panel' }, forgetting.el),
    whatif: h('div', { class: 'panel' }, whatIf.el),
    inference: h('div', { class: 'panel' }, inference.el),
  };
  const notice = h('p', { class: 'notice', role: 'status', 'aria-live': 'polite' });
  const tabs = new Tabs<ViewId>(
    [
      { id: 'heatmap', label: 'Sparsity heatmap', panel: panels.heatmap },
      { id: 'overlap', label: 'Task overlap', panel: panels.overlap },
      { id: 'curves', label: 'Training curves', panel: panels.curves },
      { id: 'runs', label: 'Runs', panel: panels.runs },
      { id: 'dynamics', label: 'Mask dynamics', panel: panels.dynamics },
      { id: 'forgetting', label: 'Forgetting', panel: panels.forgetting },
      { id: 'whatif', label: 'Threshold what-if', panel: panels.whatif },
      { id: 'inference', label: 'Task inference', panel: panels.inference },
    ],
    state.view,
    (id) => {
      state.view = id;
      // "Saved …" belongs to the view it was exported from.
      notice.textContent = '';
      ctx.persist();
      // Chart.js measures its container, so it is created the first time its tab is visible.
      if (id === 'curves') curves.mount();
      if (id === 'whatif') whatIf.mount();
    },
  );
  const header = h('header', { class: 'header' });
  const app = document.getElementById('app') ?? document.body.appendChild(h('div', { id: 'app' }));
  app.replaceChildren(header, tabs.el, panels.heatmap, panels.overlap, panels.curves, panels.runs, panels.dynamics, panels.forgetting, panels.whatif, panels.inference, notice);
  app.removeAttribute('aria-busy');

  const setStats = (stats: ProjectStats | undefined) => {
    renderHeader(header, stats, state.backend);
    heatmap.update(stats);
    overlap.update(stats);
    curves.update(stats);
    runs.update(stats);
    dynamics.update(stats);
    forgetting.update(stats);
    whatIf.update(stats);
    inference.update(stats);
  };
  if (state.view === 'curves') curves.mount();
  if (state.view === 'whatif') whatIf.mount();
  setStats(state.stats);

  window.addEventListener('message', (ev: MessageEvent) => {
    const msg = parseHostMessage(ev.data);
    if (!msg) {
      // Not ours or malformed: never act on unchecked data, but never fail silently on a state either.
      if (ev.data && typeof ev.data === 'object' && (ev.data as { type?: unknown }).type === 'state') {
        notice.textContent = 'The project statistics could not be shown: they failed validation (see the Piggyback output channel).';
      }
      return;
    }
    try {
      switch (msg.type) {
        case 'state':
          if (msg.stats.dir !== state.stats?.dir) notice.textContent = '';
          state.stats = msg.stats;
          if (msg.backend !== undefined) state.backend = msg.backend;
          ctx.persist();
          setStats(msg.stats);
          break;
        case 'trainEvent':
          curves.onTrainEvent(msg.event);
          break;
        case 'show':
          tabs.select(msg.view);
          break;
        case 'exportResult':
          notice.textContent = msg.ok ? `Saved ${msg.file}` : `Export failed: ${msg.message ?? msg.file}`;
          break;
        case 'analysisResult':
        case 'analysisError':
          onAnalysisReply(msg);
          break;
      }
    } catch (err) {
      reportError(err);
    }
  });

  onThemeChange(() => {
    theme = readTheme();
    curves.applyTheme(theme);
    whatIf.applyTheme(theme);
  });
  ctx.persist();
  post({ type: 'ready' });
}

function renderHeader(el: HTMLElement, s: ProjectStats | undefined, backend: string | undefined): void {
  if (!s) {
    el.replaceChildren(h('h1', { text: 'Piggyback Mask Explorer' }), h('p', { class: 'meta', text: 'Waiting for project statistics…' }));
    return;
  }
  const model = s.backbone.modelPath.split(/[\\/]/).filter(Boolean).slice(-2).join('/');
  const parts = [
    `backbone ${model || s.backbone.modelPath}`,
    `${s.tasks.length} task${s.tasks.length === 1 ? '' : 's'}`,
    ...(s.tasks.some((t) => t.state === 'failed') ? [`${s.tasks.filter((t) => t.state === 'failed').length} damaged`] : []),
    ...(s.backbone.missing ? ['backbone missing'] : []),
    `${s.layers.length} masked layers (${int(s.backbone.maskedParams)} of ${int(s.backbone.totalParams)} weights)`,
    `threshold ${s.threshold}`,
    ...(backend ? [`backend ${backend}`] : []),
  ];
  el.replaceChildren(h('h1', { text: 'Piggyback Mask Explorer' }), h('p', { class: 'meta', title: s.dir, text: parts.join(' · ') }));
}

window.addEventListener('error', (e) => reportError(e.error ?? e.message));
window.addEventListener('unhandledrejection', (e) => reportError(e.reason));
try {
  start();
} catch (err) {
  reportError(err);
}
