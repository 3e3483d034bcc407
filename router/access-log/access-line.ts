import type { HerokuCodeName } from '../front/heroku-codes.js';
import { HerokuCode } from '../front/heroku-codes.js';
import { isFilterCode, type FilterCode } from '../filters/filter-codes.js';
import type { RequestContext } from '../front/request-context.js';
import { CODES } from '../../shared/codes.js';

/**
 * Failures of the router's own for which Heroku has no H code (none is invented): `shutdown`,
 * a request still in flight when graceful stop's deadline passed (README, Graceful stop).
 */
export const ROUTER_CODES = Object.freeze({
  shutdown: CODES.shutdown.desc,
});

/** What a log line's `code=` can be: a Heroku code, one of ROUTER_CODES, or a filter refusal's (at=info). */
export type LogCode = HerokuCodeName | keyof typeof ROUTER_CODES | FilterCode;

const DESC: Readonly<Record<string, string>> = Object.freeze({ ...HerokuCode, ...ROUTER_CODES });

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

/** what clean() escapes */
const UNCLEAN = /[\x00-\x20"\\\x7f]/;
/** what quoted() escapes */
const UNQUOTABLE = /[\x00-\x1f"\\\x7f]/;

/** Keeps a value on one line and free of quotes: the line stays parseable whatever a client sends. */
function clean(v: string): string {
  return UNCLEAN.test(v) ? v.replace(/[\x00-\x20"\\\x7f]/g, (c) => '%' + c.charCodeAt(0).toString(16).padStart(2, '0').toUpperCase()) : v;
}

/**
 * The quoted `fwd` value: the X-Forwarded-For chain as the router sent it (`203.0.113.9, 10.0.0.1`),
 * spaces kept; only what could end the quotes or the line (`"`, backslash, control characters) is
 * percent-escaped.
 */
function quoted(v: string): string {
  return UNQUOTABLE.test(v) ? v.replace(/[\x00-\x1f"\\\x7f]/g, (c) => '%' + c.charCodeAt(0).toString(16).padStart(2, '0').toUpperCase()) : v;
}

/** `at=info method=GET path=… host=… request_id=… fwd="…" dyno=… connect=1ms service=12ms total=13ms status=200 bytes=448 protocol=https` */
export function formatAccessLine(f: AccessFacts): string {
  return line(f.code, f.method, f.path, f.host, f.requestId, f.fwd, f.dyno, f.connectMs, f.serviceMs, f.totalMs, f.status, f.bytes,
    f.protocol, f.canary);
}

/**
 * The access line of a routed request (an HTTP exchange or a WebSocket handshake: its facts, and
 * the times its trip to the dyno reached) over at `end` (performance.now()), with the status the
 * client got.
 */
export function requestLine(r: RequestContext, status: number, code: LogCode | null, end: number): string {
  const connectMs = r.connectAt === 0 ? 0 : Math.round(r.connectAt - r.start);
  const serviceMs = Math.round((r.respondedAt === 0 ? end : r.respondedAt) - r.start) - connectMs;
  return line(code, r.method, r.logPath, r.hostHeader, r.requestId, r.fwd, r.dyno?.address ?? '', connectMs, Math.max(0, serviceMs),
    Math.round(end - r.start), status, r.bytes, r.protocol, r.canary);
}

/**
 * The line's pieces, in one reused array joined once: a flat string in one allocation (a template
 * of some 30 pieces made a cons string per piece, flattened again when the sink encodes it).
 */
const PARTS: (string | number)[] = [
  '', ' method=', '', ' path=', '', ' host=', '', ' request_id=', '', ' fwd="', '', '" dyno=', '', ' connect=', 0,
  'ms service=', 0, 'ms total=', 0, 'ms status=', 0, ' bytes=', 0, ' protocol=', '', '',
];

function line(code: LogCode | null, method: string, path: string, host: string, requestId: string, fwd: string, dyno: string,
  connectMs: number, serviceMs: number, totalMs: number, status: number, bytes: number, protocol: string, canary: boolean): string {
  const p = PARTS;
  p[0] = code === null ? 'at=info' : isFilterCode(code) ? `at=info code=${code}` : `at=error code=${code} desc="${DESC[code]}"`;
  p[2] = method;
  p[4] = clean(path);
  p[6] = clean(host);
  p[8] = clean(requestId);
  p[10] = quoted(fwd);
  p[12] = dyno;
  p[14] = connectMs;
  p[16] = serviceMs;
  p[18] = totalMs;
  p[20] = status;
  p[22] = bytes;
  p[24] = protocol;
  p[25] = canary ? ' canary=true' : '';
  return p.join('');
}
