/**
 * Rewrites package.json's `piggyback.*` hyperparameter settings from the one table
 * (src/core/hyperparams.ts), keeping the other settings. Run: npx tsx scripts/sync-settings.ts
 * test/unit/hyperparams.test.ts fails until package.json matches the table.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { HYPERPARAMS, settingSchema } from '../src/core/hyperparams';

const file = path.resolve(__dirname, '..', 'package.json');
const pkg = JSON.parse(fs.readFileSync(file, 'utf8'));
const props: Record<string, unknown> = pkg.contributes.configuration.properties;
const table = new Set(HYPERPARAMS.map((s) => `piggyback.${s.key}`));
const out: Record<string, unknown> = {};
// Non-hyperparameter settings first (backend), then the table in its order, then the rest (projectPath).
for (const [k, v] of Object.entries(props)) if (k === 'piggyback.backend') out[k] = v;
for (const s of HYPERPARAMS) if (s.setting) out[`piggyback.${s.key}`] = settingSchema(s);
for (const [k, v] of Object.entries(props)) if (!(k in out) && !table.has(k)) out[k] = v;
pkg.contributes.configuration.properties = out;
fs.writeFileSync(file, `${JSON.stringify(pkg, null, 2)}\n`);
process.stdout.write(`wrote ${Object.keys(out).length} settings to ${file}\n`);
