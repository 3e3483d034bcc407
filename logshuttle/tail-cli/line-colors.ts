import type { LogSource } from '../../shared/log-record.js';

const RESET = '\x1b[0m';
const DIM = '\x1b[2m';
const RED = '\x1b[31m';
/** the colour of `<app> <tag>:` by source */
const SOURCE_COLOR: Record<LogSource, string> = {
  app: '\x1b[36m', // cyan
  router: '\x1b[35m', // magenta
  build: '\x1b[33m', // yellow
  platform: '\x1b[32m', // green
};

/**
 * Colours only for a terminal: stdout is a TTY and NO_COLOR is unset or empty
 * (https://no-color.org). FORCE_COLOR (non-empty, not `0`) turns them on for a pipe.
 */
export function wantColors(isTty: boolean, env: NodeJS.ProcessEnv): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '' && env.FORCE_COLOR !== '0') return true;
  return isTty;
}

/** The source of a tail line from its tag (`app[…]`, `akkeris/router`, …), or null. */
export function sourceOfTailLine(line: string): { source: LogSource; prefixEnd: number } | null {
  const s1 = line.indexOf(' ');
  const s2 = s1 < 0 ? -1 : line.indexOf(' ', s1 + 1);
  if (s2 < 0) return null;
  const tag = s2 + 1;
  if (line.startsWith('app[', tag)) {
    const end = line.indexOf(']: ', tag);
    return end < 0 ? null : { source: 'app', prefixEnd: end + 2 };
  }
  for (const source of ['router', 'build', 'platform'] as const) {
    const t = `akkeris/${source}:`;
    if (line.startsWith(t, tag)) return { source, prefixEnd: tag + t.length };
  }
  return null;
}

/**
 * A tail line (no LF) with its time dimmed and `<app> <tag>:` coloured by source; platform
 * `Error …` messages (L10, L11, L14) in red. Lines it does not recognise are left alone.
 */
export function colorize(line: string): string {
  const m = sourceOfTailLine(line);
  if (m === null) return line;
  const s1 = line.indexOf(' ');
  const message = line.slice(m.prefixEnd);
  const msg = m.source === 'platform' && message.startsWith(' Error ') ? `${RED}${message}${RESET}` : message;
  return `${DIM}${line.slice(0, s1)}${RESET} ${SOURCE_COLOR[m.source]}${line.slice(s1 + 1, m.prefixEnd)}${RESET}${msg}`;
}
