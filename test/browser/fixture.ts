/** A small, fully known ProjectStats (3 tasks x 6 layers) for the webview tests. */
import { DEFAULT_TRAIN_OPTIONS, type EpochMetrics, type MaskedLayerInfo, type OverlapMatrices, type ProjectStats, type TaskStats } from '../../src/core/types';

export const LAYERS: MaskedLayerInfo[] = [
  { name: 'conv1', kind: 'conv2d', shape: [3, 3, 3, 16], size: 432 },
  { name: 'conv2', kind: 'conv2d', shape: [3, 3, 16, 32], size: 4608 },
  { name: 'dw3', kind: 'depthwise', shape: [3, 3, 32, 1], size: 288 },
  { name: 'conv4', kind: 'conv2d', shape: [1, 1, 32, 64], size: 2048 },
  { name: 'fc5', kind: 'dense', shape: [1024, 128], size: 131072 },
  { name: 'fc6', kind: 'dense', shape: [128, 10], size: 1280 },
];

export const TASK_NAMES = ['mnist', 'fashion', 'quickdraw'];

/** [task][layer]; deliberately uneven so the colour scale and rounding get exercised. */
export const SPARSITY: number[][] = [
  [0.0125, 0.0432, 0.1, 0.0871, 0.2315, 0.05],
  [0.0, 0.1234, 0.2667, 0.1502, 0.3389, 0.0977],
  [0.0417, 0.2049, 0.3125, 0.25, 0.4021, 0.1883],
];

const sym = (n: number, f: (i: number, j: number) => number) =>
  Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (i === j ? f(i, i) : f(Math.min(i, j), Math.max(i, j)))));

function overlapFor(l: number | null): OverlapMatrices {
  const size = l === null ? LAYERS.reduce((a, x) => a + x.size, 0) : LAYERS[l].size;
  const base = l === null ? 0.8 : 0.9 - 0.05 * l;
  return {
    jaccard: sym(3, (i, j) => (i === j ? 1 : Number((base - 0.07 * (i + j)).toFixed(4)))),
    hamming: sym(3, (i, j) => (i === j ? 0 : Math.round(size * (0.03 + 0.02 * (i + j)) + (l ?? 7)))),
  };
}

function history(t: number, epochs: number, withVal: boolean): EpochMetrics[] {
  return Array.from({ length: epochs }, (_, e) => ({
    epoch: e + 1,
    trainAccuracy: Number((0.6 + 0.1 * e + 0.02 * t).toFixed(3)),
    trainLoss: Number((1.2 - 0.3 * e).toFixed(3)),
    valAccuracy: withVal ? Number((0.55 + 0.1 * e + 0.015 * t).toFixed(3)) : null,
    layerSparsity: SPARSITY[t].map((s) => s * ((e + 1) / epochs)),
    bitsFlipped: 1000 * (t + 1) * (epochs - e),
    seconds: 2.5,
  }));
}

/** Per-step loss as task.json stores it: 3 epochs x 20 steps, bucketed by 4 (15 points). */
export function stepLoss(t: number, epochs: number, stepsPerEpoch: number) {
  const step: number[] = [];
  const loss: number[] = [];
  for (let s = 4; s <= epochs * stepsPerEpoch; s += 4) {
    step.push(s);
    loss.push(Number((2.3 * Math.exp(-s / 25) + 0.1 + 0.05 * t + 0.02 * ((s * 7) % 3)).toFixed(4)));
  }
  return { stride: 4, step, loss };
}

/** [true][predicted] test counts: 20 images per class, mostly right, class 3 confused with 5. */
export function confusion(t: number): number[][] {
  return Array.from({ length: 10 }, (_, i) =>
    Array.from({ length: 10 }, (_, j) => (i === j ? (i === 3 ? 12 - t : 18) : i === 3 && j === 5 ? 8 + t : (i + j + t) % 9 === 0 ? 1 : 0)),
  );
}

export function makeStats(): ProjectStats {
  const tasks: TaskStats[] = TASK_NAMES.map((name, t) => ({
    name,
    dataset: name,
    classNames: Array.from({ length: 10 }, (_, i) => `c${i}`),
    maskKind: 'binary',
    bnMode: 'frozen',
    testAccuracy: 0.9 + 0.02 * t,
    layerSparsity: SPARSITY[t].slice(),
    sparsity: SPARSITY[t].reduce((a, s, l) => a + s * LAYERS[l].size, 0) / LAYERS.reduce((a, x) => a + x.size, 0),
    bytes: 20000 + t,
    bitsPerMaskedWeight: 0.5,
    rawBitsPerMaskedWeight: 1,
    state: 'trained',
    damage: null,
    history: history(t, 3, t !== 2),
    stepLoss: t === 2 ? null : stepLoss(t, 3, 20),
    baselines:
      t === 0
        ? [{ method: 'finetune', testAccuracy: 0.991, trainSeconds: 30, history: [], bytesIfStored: 560000 }]
        : [],
    options: { ...DEFAULT_TRAIN_OPTIONS, epochs: 3, seed: 1 + t },
    dataLimits: { trainPerClass: 200, valFraction: 0.1 },
    trainImages: 1800,
    confusion: t === 2 ? null : confusion(t),
    layerNegated: null,
  }));
  return {
    dir: '/tmp/project',
    backbone: {
      modelPath: '/models/tiny-cnn/model.json',
      alias: null,
      missing: false,
      sha256: 'ab'.repeat(32),
      cutAt: null,
      inputShape: [28, 28, 1],
      totalParams: 141000,
      maskedParams: LAYERS.reduce((a, x) => a + x.size, 0),
    },
    layers: LAYERS,
    threshold: 5e-3,
    tasks,
    overlap: { overall: overlapFor(null), perLayer: LAYERS.map((_, l) => overlapFor(l)) },
  };
}

/** VS Code-like theme variables (subset of Dark Modern / Light Modern) applied by the test page. */
export const THEMES = {
  dark: {
    bodyClass: 'vscode-dark',
    vars: {
      '--vscode-editor-foreground': '#cccccc',
      '--vscode-editor-background': '#1f1f1f',
      '--vscode-focusBorder': '#0078d4',
      '--vscode-descriptionForeground': '#9d9d9d',
      '--vscode-font-family': 'system-ui, "DejaVu Sans", sans-serif',
      '--vscode-font-size': '13px',
      '--vscode-charts-foreground': '#cccccc',
      '--vscode-charts-lines': 'rgba(204, 204, 204, 0.25)',
      '--vscode-charts-blue': '#3794ff',
      '--vscode-charts-orange': '#d18616',
      '--vscode-charts-green': '#89d185',
      '--vscode-charts-purple': '#b180d7',
      '--vscode-charts-red': '#f14c4c',
      '--vscode-charts-yellow': '#cca700',
      '--vscode-button-background': '#0078d4',
      '--vscode-button-foreground': '#ffffff',
      '--vscode-button-secondaryBackground': '#313131',
      '--vscode-button-secondaryForeground': '#cccccc',
      '--vscode-button-secondaryHoverBackground': '#3c3c3c',
      '--vscode-panel-border': '#2b2b2b',
      '--vscode-panelTitle-activeBorder': '#0078d4',
      '--vscode-panelTitle-activeForeground': '#cccccc',
      '--vscode-panelTitle-inactiveForeground': '#9d9d9d',
      '--vscode-textLink-foreground': '#4daafc',
      '--vscode-dropdown-background': '#313131',
      '--vscode-dropdown-foreground': '#cccccc',
      '--vscode-dropdown-border': '#3c3c3c',
      '--vscode-editorHoverWidget-background': '#202020',
      '--vscode-editorHoverWidget-foreground': '#cccccc',
      '--vscode-editorHoverWidget-border': '#454545',
    },
  },
  light: {
    bodyClass: 'vscode-light',
    vars: {
      '--vscode-editor-foreground': '#3b3b3b',
      '--vscode-editor-background': '#ffffff',
      '--vscode-focusBorder': '#005fb8',
      '--vscode-descriptionForeground': '#616161',
      '--vscode-font-family': 'system-ui, "DejaVu Sans", sans-serif',
      '--vscode-font-size': '13px',
      '--vscode-charts-foreground': '#3b3b3b',
      '--vscode-charts-lines': 'rgba(59, 59, 59, 0.2)',
      '--vscode-charts-blue': '#1a85ff',
      '--vscode-charts-orange': '#d18616',
      '--vscode-charts-green': '#388a34',
      '--vscode-charts-purple': '#652d90',
      '--vscode-charts-red': '#e51400',
      '--vscode-charts-yellow': '#bf8803',
      '--vscode-button-background': '#005fb8',
      '--vscode-button-foreground': '#ffffff',
      '--vscode-button-secondaryBackground': '#e5e5e5',
      '--vscode-button-secondaryForeground': '#3b3b3b',
      '--vscode-button-secondaryHoverBackground': '#cccccc',
      '--vscode-panel-border': '#e5e5e5',
      '--vscode-panelTitle-activeBorder': '#005fb8',
      '--vscode-panelTitle-activeForeground': '#3b3b3b',
      '--vscode-panelTitle-inactiveForeground': '#616161',
      '--vscode-textLink-foreground': '#005fb8',
      '--vscode-dropdown-background': '#ffffff',
      '--vscode-dropdown-foreground': '#3b3b3b',
      '--vscode-dropdown-border': '#cecece',
      '--vscode-editorHoverWidget-background': '#f8f8f8',
      '--vscode-editorHoverWidget-foreground': '#3b3b3b',
      '--vscode-editorHoverWidget-border': '#c8c8c8',
    },
  },
} as const;
export type ThemeName = keyof typeof THEMES;
