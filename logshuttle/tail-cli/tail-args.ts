import { parseArgs } from 'node:util';
import { UsageError } from '../../shared/errors.js';
import { appNameProblem } from '../ingest/app-name.js';

export const TAIL_USAGE = 'usage: edgeplane-tail --app APP [--url URL] [--lines N] [--no-follow]\n' +
  '  -a, --app APP     the app whose lines to show (required)\n' +
  '      --url URL     base URL of the shuttle\'s HTTP listener (default http://127.0.0.1:5000)\n' +
  '  -n, --lines N     lines of history first (default 100; the shuttle caps it at its `history`)\n' +
  '      --no-follow   print the history and exit\n' +
  'LOGSHUTTLE_TOKEN in the environment is sent as the bearer token.';

export const DEFAULT_TAIL_URL = 'http://127.0.0.1:5000';
export const DEFAULT_HISTORY_LINES = 100;
/** the largest --lines accepted (the shuttle's own `history` maximum) */
export const MAX_LINES = 100_000;

/** What the tail CLI was asked to do. */
export interface TailArgs {
  app: string;
  /** base URL, no trailing slash */
  url: string;
  lines: number;
  follow: boolean;
  help: boolean;
}

/** Parses and checks the tail CLI's arguments; throws UsageError (exit 2) with the reason. */
export function parseTailArgs(argv: string[]): TailArgs {
  let values: { app?: string; url?: string; lines?: string; 'no-follow'?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        app: { type: 'string', short: 'a' },
        url: { type: 'string' },
        lines: { type: 'string', short: 'n' },
        'no-follow': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n${TAIL_USAGE}`);
  }
  if (values.help) return { app: '', url: DEFAULT_TAIL_URL, lines: 0, follow: false, help: true };
  if (values.app === undefined) throw new UsageError(`--app APP is required\n${TAIL_USAGE}`);
  const appProblem = appNameProblem(values.app);
  if (appProblem) throw new UsageError(`--app: the app name ${appProblem}`);
  let lines = DEFAULT_HISTORY_LINES;
  if (values.lines !== undefined) {
    if (!/^\d{1,9}$/.test(values.lines) || Number(values.lines) > MAX_LINES) {
      throw new UsageError(`--lines: expected an integer from 0 to ${MAX_LINES}, got ${JSON.stringify(values.lines)}`);
    }
    lines = Number(values.lines);
  }
  const raw = values.url ?? DEFAULT_TAIL_URL;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`--url: not a URL: ${JSON.stringify(raw)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`--url: expected http:// or https://, got ${JSON.stringify(raw)}`);
  if (url.search !== '' || url.hash !== '') throw new UsageError('--url: a base URL has no query or fragment');
  return { app: values.app, url: url.href.replace(/\/+$/, ''), lines, follow: !values['no-follow'], help: false };
}
