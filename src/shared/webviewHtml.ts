/**
 * The mask-explorer webview page. Pure string building (no vscode import) so tests can
 * serve the exact page VS Code shows.
 *
 * The CSP allows only our own bundle (by nonce) and our own stylesheet (by origin).
 * No inline styles are needed: the UI and Chart.js set styles through the CSSOM
 * (element.style.x = ...), which style-src does not govern.
 */
import { randomBytes } from 'crypto';

export interface WebviewHtmlOptions {
  /** webview.cspSource: the origin the webview serves local resources from. */
  cspSource: string;
  nonce: string;
  scriptUri: string;
  styleUri: string;
  title: string;
}

/** 128 random bits, base64url (CSP nonces must be unguessable per page load). */
export function makeNonce(): string {
  return randomBytes(16).toString('base64url');
}

const escapeHtml = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);

/** Nonce and CSP source are spliced into a header, so refuse anything that could break out of it. */
function checkCspToken(name: string, v: string, re: RegExp): string {
  if (!re.test(v)) throw new Error(`renderWebviewHtml: invalid ${name}: ${JSON.stringify(v)}`);
  return v;
}

export function buildCsp(cspSource: string, nonce: string): string {
  return [
    "default-src 'none'",
    `img-src ${cspSource} data: blob:`,
    `style-src ${cspSource}`,
    `script-src 'nonce-${nonce}'`,
    `font-src ${cspSource}`,
    "base-uri 'none'",
    "form-action 'none'",
  ].join('; ');
}

export function renderWebviewHtml(o: WebviewHtmlOptions): string {
  const nonce = checkCspToken('nonce', o.nonce, /^[A-Za-z0-9+/_=-]{16,}$/);
  // Host sources, or the one keyword some hosts include ('self' in code-server); never 'unsafe-*'.
  const cspSource = checkCspToken('cspSource', o.cspSource, /^(?:'self'|[^\s;,'"]+)(?: (?:'self'|[^\s;,'"]+))*$/);
  const csp = buildCsp(cspSource, nonce);
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp.replace(/[&<>"]/g, escapeHtml)}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${escapeHtml(o.styleUri)}">
<title>${escapeHtml(o.title)}</title>
</head>
<body>
<div id="app" class="app" aria-busy="true"><p class="empty">Loading mask statistics…</p></div>
<script nonce="${escapeHtml(nonce)}" src="${escapeHtml(o.scriptUri)}"></script>
</body>
</html>
`;
}
