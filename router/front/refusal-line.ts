import { formatAccessLine } from '../access-log/access-line.js';

/** A refusal of the front (head checks, repeated headers, path options), as the router logs and counts it. */
export interface Refusal {
  /** stable code: E_FRAMING, E_HOST, … (docs/router/hostile-input.md) */
  readonly code: string;
  /** status line: `400 Bad Request` */
  readonly status: string;
  /** the client's body; its first line is the `desc` of the log line */
  readonly body: string;
}

/** the longest path (and query) a refusal line carries: a 414's target is cut */
const MAX_LOGGED_PATH = 2048;

/**
 * The access line of a refused request: the router line's fields (DESIGN.md "Router log line"),
 * no dyno, and `code=` / `desc=` after `at=info` (a refusal is the client's error, as the
 * filters' refusals are: `at=info`, never `at=error`):
 * `at=info code=E_FRAMING desc="Bad request framing (Content-Length / Transfer-Encoding)" method=POST path=/x host=… status=400 …`
 */
export function refusalLine(r: Refusal, method: string, path: string, host: string, requestId: string, fwd: string,
  protocol: string, totalMs: number): string {
  const line = formatAccessLine({
    code: null, method, path: path.length > MAX_LOGGED_PATH ? `${path.slice(0, MAX_LOGGED_PATH)}...` : path, host, requestId, fwd,
    dyno: '', connectMs: 0, serviceMs: 0, totalMs: Math.round(totalMs), status: Number(r.status.slice(0, 3)), bytes: 0, protocol, canary: false,
  });
  const desc = r.body.trimEnd().replace(/"/g, "'");
  return `at=info code=${r.code} desc="${desc}"${line.slice('at=info'.length)}`;
}
