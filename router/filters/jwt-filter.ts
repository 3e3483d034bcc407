import type { Filter, FilterAnswer, FilterRequest, FilterVerdict } from './filter.js';
import { isRefused, type JwtVerifier, type Outcome, type Verified } from './jwt-verifier.js';

/**
 * JWT (`type: jwt`): the request needs `Authorization: Bearer <token>` signed by a key of the
 * definition's `jwks_uri`, from its `issuer`, for one of its `audiences` (when any), not expired
 * and already valid. Refusals: 401 `WWW-Authenticate: Bearer error="invalid_token"`; a valid
 * token for another audience 403 `Bearer error="insufficient_scope"`; keys unobtainable 503.
 * The Authorization header goes on to the dyno untouched; `claims_headers` adds verified claims.
 * A client sending one of the claim headers is refused (400) where the filter applies; elsewhere
 * its lines are removed (ownedRequestHeaders), so the dyno never gets one the router did not set.
 */
export class JwtFilter implements Filter {
  readonly type = 'jwt';
  /** the claims_headers names: never taken from the client (Filter.ownedRequestHeaders) */
  readonly ownedRequestHeaders: readonly string[];
  private readonly claimHeaderNames: readonly string[];
  private closed = false;

  constructor(readonly name: string, private readonly verifier: JwtVerifier, private readonly onRelease: () => void) {
    this.claimHeaderNames = verifier.claimHeaderNames;
    this.ownedRequestHeaders = this.claimHeaderNames;
    verifier.acquire();
  }

  apply(req: FilterRequest): FilterVerdict | Promise<FilterVerdict> {
    if (this.claimHeaderNames.length !== 0 && this.spoofed(req)) return spoofAnswer();
    const auth = req.header('authorization');
    const hit = this.verifier.cached(auth);
    if (hit !== undefined) {
      if (hit.length !== 0) req.upstreamHeaders.push(...hit);
      return undefined;
    }
    if (auth === '') return answer(401, 'jwt_missing');
    return this.verifier.verify(auth).then((o) => settle(o, req));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.verifier.release()) this.onRelease();
  }

  /** a client may not send a header the filter sets from verified claims */
  private spoofed(req: FilterRequest): boolean {
    for (const h of this.claimHeaderNames) if (req.header(h) !== '') return true;
    return false;
  }
}

function settle(o: Outcome, req: FilterRequest): FilterVerdict {
  if (isRefused(o)) return answer(o.status, o.reason);
  const headers = o as Verified;
  if (headers.length !== 0) req.upstreamHeaders.push(...headers);
  return undefined;
}

function answer(status: 401 | 403 | 503, reason: string): FilterAnswer {
  if (status === 503) {
    return { status, reason, headers: [['retry-after', '5'], ['content-type', 'text/plain; charset=utf-8']], body: 'Service Unavailable: token keys unavailable\n' };
  }
  if (status === 403) {
    return { status, reason, headers: [['www-authenticate', 'Bearer error="insufficient_scope"'], ['content-type', 'text/plain; charset=utf-8']], body: 'Forbidden: token not issued for this app\n' };
  }
  return { status, reason, headers: [['www-authenticate', 'Bearer error="invalid_token"'], ['content-type', 'text/plain; charset=utf-8']], body: 'Unauthorized: missing or invalid bearer token\n' };
}

function spoofAnswer(): FilterAnswer {
  return { status: 400, reason: 'jwt_claim_header_sent', headers: [['content-type', 'text/plain; charset=utf-8']], body: 'Bad Request: a header reserved for verified token claims was sent\n' };
}
