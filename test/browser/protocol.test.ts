/** Protocol validators and page CSP (no browser needed). */
import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { parseHostMessage, parseWebviewMessage, parseWebviewState, DEFAULT_WEBVIEW_STATE } from '../../src/shared/protocol';
import { makeNonce, renderWebviewHtml } from '../../src/shared/webviewHtml';
import { makeStats } from './fixture';

describe('protocol', () => {
  it('accepts well-formed host messages and rejects malformed ones', () => {
    const stats = makeStats();
    assert.deepEqual(parseHostMessage({ type: 'state', stats, backend: 'cpu' }), { type: 'state', stats, backend: 'cpu' });
    assert.equal(parseHostMessage({ type: 'state', stats: { ...stats, tasks: [{ ...stats.tasks[0], layerSparsity: [0.1] }] } }), undefined, 'sparsity length must match layers');
    const bad = structuredClone(stats);
    bad.overlap.perLayer[1].jaccard[0] = [1, Number.NaN, 0];
    assert.equal(parseHostMessage({ type: 'state', stats: bad }), undefined, 'NaN rejected');
    assert.equal(parseHostMessage({ type: 'show', view: 'curves' })?.type, 'show');
    assert.equal(parseHostMessage({ type: 'show', view: 'other' }), undefined);
    const step = { type: 'step', task: 'a', epoch: 1, step: 2, stepsPerEpoch: 10, loss: 0.5 };
    assert.deepEqual(parseHostMessage({ type: 'trainEvent', event: step }), { type: 'trainEvent', event: step });
    assert.equal(parseHostMessage({ type: 'trainEvent', event: { ...step, loss: '0.5' } }), undefined);
    assert.equal(parseHostMessage({ type: 'trainEvent', event: { type: 'epoch', task: 'a', epoch: 1 } }), undefined);
    assert.equal(parseHostMessage(null), undefined);
  });

  it('validates webview messages field by field', () => {
    assert.deepEqual(parseWebviewMessage({ type: 'ready' }), { type: 'ready' });
    assert.deepEqual(parseWebviewMessage({ type: 'openTask', task: 'mnist' }), { type: 'openTask', task: 'mnist' });
    assert.equal(parseWebviewMessage({ type: 'openTask', task: 3 }), undefined);
    const csv = { type: 'export', file: 'a.csv', format: 'csv', data: 'x,y\r\n' };
    assert.deepEqual(parseWebviewMessage(csv), csv);
    assert.equal(parseWebviewMessage({ ...csv, file: '../a.csv' }), undefined, 'no paths');
    assert.equal(parseWebviewMessage({ ...csv, file: 'a.png' }), undefined, 'extension matches format');
    assert.equal(parseWebviewMessage({ type: 'export', file: 'a.png', format: 'png', data: 'not base64!' }), undefined);
    assert.equal(parseWebviewMessage({ type: 'export', file: 'a.png', format: 'png', data: 'iVBORw0K' })?.type, 'export');
    assert.deepEqual(parseWebviewMessage({ type: 'error', message: 'x' }), { type: 'error', message: 'x' });
    assert.equal(parseWebviewMessage({ type: 'nope' }), undefined);
  });

  it('restores state field by field', () => {
    assert.deepEqual(parseWebviewState(undefined), DEFAULT_WEBVIEW_STATE);
    const s = parseWebviewState({ view: 'overlap', overlapMetric: 'hamming', overlapLayer: 99, heatmapTable: 'yes', stats: makeStats() });
    assert.equal(s.view, 'overlap');
    assert.equal(s.overlapMetric, 'hamming');
    assert.equal(s.overlapLayer, -1, 'out-of-range layer dropped');
    assert.equal(s.heatmapTable, false);
    assert.equal(s.stats?.tasks.length, 3);
  });
});

describe('webview html', () => {
  it('has a strict CSP with a nonce and no unsafe sources', () => {
    const nonce = makeNonce();
    assert.match(nonce, /^[A-Za-z0-9_-]{22}$/);
    assert.notEqual(makeNonce(), nonce);
    const html = renderWebviewHtml({ cspSource: 'https://x.vscode-cdn.net', nonce, scriptUri: 'https://x/main.js', styleUri: 'https://x/w.css', title: 'A <b>' });
    const csp = /Content-Security-Policy" content="([^"]+)"/.exec(html)?.[1] ?? '';
    assert.match(csp, /^default-src 'none'; /);
    assert.match(csp, new RegExp(`script-src 'nonce-${nonce}'`));
    assert.match(csp, /img-src https:\/\/x\.vscode-cdn\.net data: blob:/);
    assert.doesNotMatch(csp, /unsafe|\*|http:/);
    assert.match(html, new RegExp(`<script nonce="${nonce}" src="https://x/main.js">`));
    assert.match(html, /<title>A &lt;b&gt;<\/title>/);
    assert.equal((html.match(/<script/g) ?? []).length, 1, 'no inline scripts');
    assert.throws(() => renderWebviewHtml({ cspSource: "x; script-src 'unsafe-inline'", nonce, scriptUri: '', styleUri: '', title: '' }));
    assert.throws(() => renderWebviewHtml({ cspSource: "'unsafe-eval' https://x", nonce, scriptUri: '', styleUri: '', title: '' }));
    // code-server's webview.cspSource carries 'self' before its CDN host.
    assert.match(renderWebviewHtml({ cspSource: "'self' https://*.vscode-cdn.net", nonce, scriptUri: '', styleUri: '', title: '' }), /style-src 'self' https:\/\/\*\.vscode-cdn\.net/);
  });
});
