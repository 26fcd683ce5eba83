/**
 * Theme colours for the canvas parts (Chart.js, PNG export). CSS handles the DOM parts by
 * itself through var(--vscode-*); canvases cannot, so we read the same variables at runtime
 * and re-read them whenever VS Code switches theme (it rewrites the <html> style and the
 * body class).
 */
export type ThemeKind = 'light' | 'dark' | 'high-contrast' | 'high-contrast-light';

export interface Theme {
  kind: ThemeKind;
  fg: string;
  bg: string;
  muted: string;
  grid: string;
  focus: string;
  border: string;
  font: string;
  /** One colour per task; high-contrast themes get the same VS Code chart colours. */
  series: string[];
}

function cssVar(style: CSSStyleDeclaration, name: string, fallback: string): string {
  return style.getPropertyValue(name).trim() || fallback;
}

export function themeKind(): ThemeKind {
  const c = document.body.classList;
  if (c.contains('vscode-high-contrast-light')) return 'high-contrast-light';
  if (c.contains('vscode-high-contrast')) return 'high-contrast';
  if (c.contains('vscode-light')) return 'light';
  return 'dark';
}

export function readTheme(): Theme {
  const s = getComputedStyle(document.body);
  const kind = themeKind();
  const light = kind === 'light' || kind === 'high-contrast-light';
  // Fallbacks only matter outside VS Code (e.g. a page opened by hand); VS Code always defines these.
  const fg = cssVar(s, '--vscode-editor-foreground', light ? '#333333' : '#cccccc');
  const bg = cssVar(s, '--vscode-editor-background', light ? '#ffffff' : '#1e1e1e');
  const contrast = cssVar(s, '--vscode-contrastBorder', '');
  const chartNames = ['blue', 'orange', 'green', 'purple', 'red', 'yellow'];
  const chartFallback = ['#3794ff', '#d18616', '#89d185', '#b180d7', '#f14c4c', '#cca700'];
  return {
    kind,
    fg,
    bg,
    muted: cssVar(s, '--vscode-descriptionForeground', fg),
    grid: cssVar(s, '--vscode-charts-lines', light ? 'rgba(0,0,0,0.15)' : 'rgba(255,255,255,0.15)'),
    focus: cssVar(s, '--vscode-focusBorder', '#007fd4'),
    border: contrast || cssVar(s, '--vscode-panel-border', cssVar(s, '--vscode-widget-border', 'rgba(128,128,128,0.35)')),
    font: cssVar(s, '--vscode-font-family', 'system-ui, sans-serif'),
    series: chartNames.map((n, i) => cssVar(s, `--vscode-charts-${n}`, chartFallback[i])),
  };
}

/** Calls back (at most once per frame) when VS Code changes theme class or theme variables. */
export function onThemeChange(cb: () => void): void {
  let queued = false;
  const fire = () => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => {
      queued = false;
      cb();
    });
  };
  const mo = new MutationObserver(fire);
  mo.observe(document.documentElement, { attributes: true, attributeFilter: ['style', 'class'] });
  mo.observe(document.body, { attributes: true, attributeFilter: ['class', 'data-vscode-theme-kind'] });
}
