/**
 * One architecture row of `piggyback bench`, measured in this (fresh) process so its peak RSS is
 * its own: prints the row as one JSON line on stdout, progress as "log: ..." lines on stderr.
 *
 *   npx tsx bench/arch-row.ts --row 0 --backends native,wasm [--peak 60] [--quick]
 */
import type { BackendName } from '../src/core/backend';
import { measureRow, rowCount } from '../src/cli/benchMatrix';

const argv = process.argv.slice(2);
const arg = (name: string, dflt: string): string => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : dflt;
};
const quick = argv.includes('--quick');
const index = Number(arg('--row', '0'));
const backends = arg('--backends', 'native').split(',').filter(Boolean) as BackendName[];
const peak = Number(arg('--peak', '0'));

(async () => {
  if (!Number.isInteger(index) || index < 0 || index >= rowCount(quick)) throw new Error(`--row must be 0..${rowCount(quick) - 1}`);
  const row = await measureRow(index, { quick, backends, peakGflops: peak > 0 ? peak : null, log: (s) => process.stderr.write(`log: ${s}\n`) });
  process.stdout.write(`${JSON.stringify(row)}\n`);
})().catch((e) => {
  process.stderr.write(`${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
  process.exit(1);
});
