/** What every `piggyback` command shares: the --backend option, --json printing, Ctrl-C cancellation. */
import { Option } from 'commander';

export const backendOption = (): Option =>
  new Option('--backend <name>', 'tensorflow (tfjs-node), native (oneDNN addon), wasm or cpu; auto picks the fastest that loads').choices(['auto', 'tensorflow', 'native', 'wasm', 'cpu']).default('auto');

export function print(json: boolean, value: unknown, human: () => string): void {
  process.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : `${human()}\n`);
}

/** One AbortController per run: Ctrl-C cancels cleanly between steps, a second Ctrl-C exits. */
export function cancellation(): AbortSignal {
  const ac = new AbortController();
  process.once('SIGINT', () => {
    process.stderr.write('\ncancelling after this step (Ctrl-C again to force)...\n');
    ac.abort();
    process.once('SIGINT', () => process.exit(130));
  });
  return ac.signal;
}
