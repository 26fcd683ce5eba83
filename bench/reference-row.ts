/**
 * The reference CNN's row of `piggyback bench`, measured in this (fresh) process: prints it as one
 * JSON line on stdout, progress as "log: ..." lines on stderr.
 *
 *   npx tsx bench/reference-row.ts --backend native|wasm|auto [--quick]
 */
import type { BackendPreference } from '../src/core/backend';
import { measureReference } from '../src/cli/benchReference';

const argv = process.argv.slice(2);
const i = argv.indexOf('--backend');
const backend = (i >= 0 ? argv[i + 1] : 'auto') as BackendPreference;

measureReference({ quick: argv.includes('--quick'), backend, log: (s) => process.stderr.write(`log: ${s}\n`) })
  .then((r) => process.stdout.write(`${JSON.stringify(r)}\n`))
  .catch((e) => {
    process.stderr.write(`${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
    process.exit(1);
  });
