import type { HerokuCodeName } from '../front/heroku-codes.js';
import { HerokuCode } from '../front/heroku-codes.js';

/**
 * Failures of the router's own for which Heroku has no H code (none is invented): `shutdown`,
 * a request still in flight when graceful stop's deadline passed (README, Graceful stop).
 */
export const ROUTER_CODES = Object.freeze({
  shutdown: 'Router shutting down',
});

/** What a log line's `code=` can be: a Heroku code or one of ROUTER_CODES. */
export type LogCode = HerokuCodeName | keyof typeof ROUTER_CODES;

const DESC: Readonly<Record<LogCode, string>> = Object.freeze({ ...HerokuCode, ...ROUTER_CODES });

/** The facts of one request, as the router log line (DESIGN.md "Router log line") shows them. */
export interface AccessFacts {
  method: string;
  /** the original path and query, as the client sent them */
  path: string;
  host: string;
  requestId: string;
  fwd: string;
  dyno: string;
  connectMs: number;
  serviceMs: number;
  totalMs: number;
  status: number;
  bytes: number;
  protocol: string;
  code: LogCode | null;
  canary: boolean;
}

/** Keeps a value on one line and free of quotes: the line stays parseable whatever a client sends. */
function clean(v: string): string {
  return /[\x00-\x20"\\\x7f]/.test(v) ? v.replace(/[\x00-\x20"\\\x7f]/g, (c) => '%' + c.charCodeAt(0).toString(16).padStart(2, '0').toUpperCase()) : v;
}

/**
 * The quoted `fwd` value: the X-Forwarded-For chain as the router sent it (`203.0.113.9, 10.0.0.1`),
 * spaces kept; only what could end the quotes or the line (`"`, backslash, control characters) is
 * percent-escaped.
 */
function quoted(v: string): string {
  return /[\x00-\x1f"\\\x7f]/.test(v) ? v.replace(/[\x00-\x1f"\\\x7f]/g, (c) => '%' + c.charCodeAt(0).toString(16).padStart(2, '0').toUpperCase()) : v;
}

/** `at=info method=GET path=… host=… request_id=… fwd="…" dyno=… connect=1ms service=12ms total=13ms status=200 bytes=448 protocol=https` */
export function formatAccessLine(f: AccessFacts): string {
  const head = f.code === null ? 'at=info' : `at=error code=${f.code} desc="${DESC[f.code]}"`;
  return `${head} method=${f.method} path=${clean(f.path)} host=${clean(f.host)} request_id=${clean(f.requestId)} fwd="${quoted(f.fwd)}" dyno=${f.dyno} connect=${f.connectMs}ms service=${f.serviceMs}ms total=${f.totalMs}ms status=${f.status} bytes=${f.bytes} protocol=${f.protocol}${f.canary ? ' canary=true' : ''}`;
}
