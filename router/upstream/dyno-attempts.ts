import type { HerokuCodeName } from '../front/heroku-codes.js';
import { isNeverSent } from './upstream-errors.js';

/**
 * The dyno-attempt policy, one place for the HTTP exchange and the WebSocket handshake alike
 * (DESIGN.md "Router behaviour at the edge"): which dyno next, whether a failed attempt is tried
 * again on another dyno, whether a dyno leaves rotation for a while. Pure functions over a small
 * state record the request carries in its own fields (no object per request), a rotation and
 * its dynos, so a fake pool is enough to test every decision.
 *
 * - A request that never reached a dyno (connect refused: H10, connect timeout: H19) goes to the
 *   next dyno, as long as no byte of its body was handed to the attempt.
 * - An idempotent request (GET, HEAD, OPTIONS, PUT, DELETE) with no body whose connection closed
 *   before any response byte (H13) is tried once more, on another dyno. Nothing else is retried.
 * - A dyno is ejected (out of rotation, for EJECT_BASE_MS doubling up to EJECT_MAX_MS) when it
 *   refused or timed out the connection, closed it without a response (H13), or answered
 *   something that is not HTTP (H17); a timeout waiting for the response (H12) or an idle body
 *   (H15) does not eject it. Its first complete response puts it back. The rotation never
 *   ejects every dyno at once (round-robin.ts).
 */

/** The per-request state of the policy (fields of the request context). */
export interface AttemptState {
  /** dynos tried, as a bit set of indexes below 31 */
  tried: number;
  /** dynos tried with an index of 31 or more (apps with many dynos), null while none */
  triedMore: Set<number> | null;
  /** the one retry after an H13 has been used */
  retried: boolean;
  /** what the client is told when no dyno is left to try */
  lastCode: HerokuCodeName;
}

/** What the policy needs of a dyno: its rotation state. */
export interface RotationDyno {
  isEjected(now: number): boolean;
  /** out of rotation for a while, longer each time in a row */
  fail(now: number): void;
  /** back in rotation, the backoff starts over */
  succeed(): void;
}

/** The rotation of an app's dynos (round-robin.ts). */
export interface Rotation<D extends RotationDyno> {
  readonly dynos: readonly D[];
  pick(tried: number, now: number, triedMore: ReadonlySet<number> | null): number;
}

/** First ejection: this long; it doubles with each failure in a row, up to EJECT_MAX_MS. */
export const EJECT_BASE_MS = 1000;
export const EJECT_MAX_MS = 30000;

/** How long a dyno stays out of rotation after `failures` failures in a row (1 or more). */
export function ejectionMs(failures: number): number {
  return Math.min(EJECT_BASE_MS * 2 ** (failures - 1), EJECT_MAX_MS);
}

/** The methods a bodyless request may be retried with (once) after its connection closed. */
const IDEMPOTENT: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']);

/** The next dyno to try, marked as tried; null when every dyno was tried (answer `state.lastCode`). */
export function nextDyno<D extends RotationDyno>(state: AttemptState, rotation: Rotation<D>, now: number): D | null {
  const i = rotation.pick(state.tried, now, state.triedMore);
  if (i < 0) return null;
  if (i < 31) state.tried |= 1 << i;
  else (state.triedMore ??= new Set()).add(i);
  return rotation.dynos[i];
}

/**
 * An attempt failed before any byte of a response (`code` from classifyUpstreamError). Ejects
 * the dyno when the failure is its own, and returns null when the request is to go to the next
 * dyno, else the code to answer with. `bodyTouched`: some of the request body was handed to this
 * attempt (it cannot be sent again); `bodyless`: the request has no body at all.
 */
export function afterFailedAttempt(state: AttemptState, dyno: RotationDyno, code: HerokuCodeName, method: string,
  bodyless: boolean, bodyTouched: boolean, now: number): HerokuCodeName | null {
  if (isNeverSent(code)) {
    if (bodyTouched) return state.lastCode;
    // never reached the dyno: try the next one; a connect timeout stays the answer once seen
    dyno.fail(now);
    if (state.lastCode !== 'H19') state.lastCode = code;
    return null;
  }
  if (code === 'H13' || code === 'H17') dyno.fail(now);
  if (code === 'H13' && !state.retried && bodyless && IDEMPOTENT.has(method)) {
    state.retried = true;
    state.lastCode = 'H13';
    return null;
  }
  return code;
}

/**
 * The dyno sent a status line and headers, then failed (bad chunk, short body, idle, closed):
 * never retried (the dyno received the request). Ejects the dyno when the failure is its own;
 * returns the code for the client and the log line (a first-byte timer firing now is H15).
 */
export function afterBrokenResponse(dyno: RotationDyno, code: HerokuCodeName, now: number): HerokuCodeName {
  if (code === 'H13' || code === 'H17') dyno.fail(now);
  return code === 'H12' ? 'H15' : code;
}
