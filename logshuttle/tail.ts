#!/usr/bin/env node
import { runMain } from '../shared/cli.js';
import { parseTailArgs, TAIL_USAGE } from './tail-cli/tail-args.js';
import { colorize, wantColors } from './tail-cli/line-colors.js';
import { TailClient } from './tail-cli/tail-client.js';
import { terminalSafe } from './tail-cli/terminal-safe.js';

/**
 * `edgeplane-tail --app APP [--url URL] [--lines N] [--no-follow]`: an app's history, then its
 * live lines (like `aka logs -t -a APP`). Exit 0 after the history with --no-follow, and on
 * Ctrl-C; 1 when the shuttle refuses (bad token) or cannot be read with --no-follow; 2 for bad
 * arguments.
 */
async function main(): Promise<void> {
  const args = parseTailArgs(process.argv.slice(2));
  if (args.help) {
    process.stdout.write(TAIL_USAGE + '\n');
    return;
  }
  const tty = process.stdout.isTTY === true;
  const colors = wantColors(tty, process.env);
  // to a terminal, control bytes in messages are shown, not obeyed (the colours are added after)
  const safe = tty ? terminalSafe : (line: string): string => line;
  const client = new TailClient({
    args,
    token: process.env.LOGSHUTTLE_TOKEN || undefined,
    out: process.stdout,
    render: colors ? (line) => colorize(safe(line)) : safe,
    notice: (text) => process.stderr.write(`edgeplane-tail: ${text}\n`),
  });
  const quit = (): void => {
    client.stop();
    process.exit(0);
  };
  process.on('SIGINT', quit);
  process.on('SIGTERM', quit);
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    // the reader went away (`| head`): done
    client.stop();
    process.exit(err.code === 'EPIPE' ? 0 : 1);
  });
  process.exitCode = await client.run();
}

runMain('edgeplane-tail', main);
