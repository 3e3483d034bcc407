import { isIP } from 'node:net';
import { DrainUrlError } from './drain-url-error.js';

export { DrainUrlError } from './drain-url-error.js';

export type DrainScheme = 'syslog+udp' | 'syslog+tcp' | 'syslog+tls' | 'https' | 'http';

/** A parsed, validated drain URL (frozen). */
export interface DrainUrl {
  /** The URL as given (trimmed); what the drain API shows. */
  readonly url: string;
  /** The URL with any password masked: safe for logs and metric labels. */
  readonly redacted: string;
  /** `syslog://` is normalised to `syslog+tcp`. */
  readonly scheme: DrainScheme;
  /** Host name or IP address, without IPv6 brackets, lower case. */
  readonly host: string;
  readonly port: number;
  /** True when `host` is an IP literal (no SNI is sent to an IP). */
  readonly hostIsIp: boolean;
  /** For http(s): path and query to POST to (`/` at least); for syslog: `''`. */
  readonly path: string;
  /** For http(s): user-info of the URL (decoded), sent as basic auth; else undefined. */
  readonly username?: string;
  readonly password?: string;
}

const SCHEMES: Record<string, DrainScheme> = {
  'syslog+udp:': 'syslog+udp',
  'syslog:': 'syslog+tcp',
  'syslog+tcp:': 'syslog+tcp',
  'syslog+tls:': 'syslog+tls',
  'https:': 'https',
  'http:': 'http',
};

const DEFAULT_PORTS: Record<DrainScheme, number> = {
  'syslog+udp': 514,
  'syslog+tcp': 514,
  'syslog+tls': 6514,
  https: 443,
  http: 80,
};

const MAX_URL_LENGTH = 2048;
const HOSTNAME = /^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*\.?$/;

/**
 * Parses and validates a drain URL: `syslog+udp://host:port`, `syslog://host:port` (=
 * `syslog+tcp://`), `syslog+tls://host:port`, `https://[user:pass@]host[:port]/path`,
 * `http://…`. Syslog ports default to 514 (6514 for TLS). Throws DrainUrlError (E_DRAIN_URL)
 * with the reason.
 */
export function parseDrainUrl(input: string): DrainUrl {
  if (typeof input !== 'string') throw new DrainUrlError(String(input), 'not a string');
  const url = input.trim();
  if (url.length === 0) throw new DrainUrlError(input, 'empty');
  if (url.length > MAX_URL_LENGTH) throw new DrainUrlError(url.slice(0, 64) + '…', `longer than ${MAX_URL_LENGTH} characters`);
  if (/[\s\x00-\x1f\x7f]/.test(url)) throw new DrainUrlError(url, 'contains whitespace or control characters');
  const schemeMatch = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(url);
  if (!schemeMatch) throw new DrainUrlError(url, 'no scheme (expected syslog+udp://, syslog://, syslog+tcp://, syslog+tls://, https:// or http://)');
  const scheme = SCHEMES[schemeMatch[1].toLowerCase() + ':'];
  if (!scheme) {
    throw new DrainUrlError(url, `unsupported scheme "${schemeMatch[1]}:" (expected syslog+udp, syslog, syslog+tcp, syslog+tls, https or http)`);
  }
  if (!/^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.test(url)) throw new DrainUrlError(url, 'expected "//" after the scheme');
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new DrainUrlError(url, 'not a valid URL');
  }
  let host = parsed.hostname.toLowerCase();
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  if (host === '') throw new DrainUrlError(url, 'no host');
  const hostIsIp = isIP(host) !== 0;
  if (!hostIsIp && !HOSTNAME.test(host)) throw new DrainUrlError(url, `invalid host name "${host}"`);

  let port = DEFAULT_PORTS[scheme];
  if (parsed.port !== '') {
    port = Number(parsed.port);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new DrainUrlError(url, `invalid port "${parsed.port}" (1-65535)`);
  } else if (/^[^/]*\/\/[^/?#]*:(\/|\?|#|$)/.test(url)) {
    throw new DrainUrlError(url, 'empty port');
  }
  if (parsed.hash !== '') throw new DrainUrlError(url, 'a fragment (#…) is not allowed');

  const base = { url, scheme, host, port, hostIsIp };
  if (scheme === 'https' || scheme === 'http') {
    const username = parsed.username !== '' ? safeDecode(url, parsed.username) : undefined;
    const password = parsed.password !== '' ? safeDecode(url, parsed.password) : undefined;
    const path = (parsed.pathname || '/') + parsed.search;
    return Object.freeze({ ...base, redacted: redact(parsed), path, username, password });
  }
  if (parsed.username !== '' || parsed.password !== '') throw new DrainUrlError(url, 'user-info is not allowed in a syslog URL');
  if (parsed.pathname !== '' && parsed.pathname !== '/') throw new DrainUrlError(url, 'a path is not allowed in a syslog URL');
  if (parsed.search !== '') throw new DrainUrlError(url, 'a query is not allowed in a syslog URL');
  return Object.freeze({ ...base, redacted: url, path: '' });
}

function safeDecode(url: string, s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new DrainUrlError(url, 'bad percent-encoding in user-info');
  }
}

function redact(parsed: URL): string {
  if (parsed.password === '') return parsed.href;
  const copy = new URL(parsed.href);
  copy.password = '***';
  return copy.href;
}
