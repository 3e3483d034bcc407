import { jwtVerify, type JWTPayload } from 'jose';
import { LRUCache } from 'lru-cache';
import type { Logger } from 'pino';
import { JWT_ALGORITHMS, type JwtFilterDef } from '../config/filter-schema.js';
import type { JwksCache } from './jwks-cache.js';

/** A verified token: the claim headers to send to the dyno (shared, never mutated). */
export type Verified = readonly [string, string][];

/** Why a token was refused; `status` 401 (invalid), 403 (wrong audience) or 503 (no keys). */
export interface Refused {
  readonly status: 401 | 403 | 503;
  readonly reason: string;
}

export type Outcome = Verified | Refused;

export interface TokenCacheOptions {
  /** most verified tokens kept (default 10,000) */
  max: number;
  /** longest a verified token is trusted without re-verification (default 5 min; never past its exp) */
  maxTtlMs: number;
}

export const DEFAULT_TOKEN_CACHE: Readonly<TokenCacheOptions> = Object.freeze({ max: 10_000, maxTtlMs: 5 * 60_000 });

/** Tokens longer than this are refused (they would also bloat the cache). */
const MAX_HEADER_CHARS = 8192;
const NO_HEADERS: Verified = Object.freeze([]) as unknown as Verified;

/**
 * Verifies bearer tokens for one JWT definition, caching verified ones by the raw Authorization
 * header value: a hit is one LRU lookup. Concurrent misses for one token share one verification.
 * Lives in the FilterFactory across reloads (keyed by the definition).
 */
export class JwtVerifier {
  private readonly cache: LRUCache<string, Verified>;
  private readonly inflight = new Map<string, Promise<Outcome>>();
  private readonly audiences: ReadonlySet<string> | undefined;
  private readonly algorithms: string[];
  private readonly claims: readonly [string, string][];
  private readonly maxTtlMs: number;
  private users = 0;

  constructor(private readonly def: JwtFilterDef, private readonly keys: JwksCache, cacheOpts: TokenCacheOptions,
    private readonly log: Logger) {
    this.cache = new LRUCache<string, Verified>({ max: cacheOpts.max, ttl: cacheOpts.maxTtlMs, ttlAutopurge: false });
    this.audiences = def.audiences !== undefined && def.audiences.length > 0 ? new Set(def.audiences) : undefined;
    this.algorithms = [...(def.algorithms ?? JWT_ALGORITHMS)];
    this.claims = Object.entries(def.claims_headers ?? {}).map(([claim, header]) => [claim, header.toLowerCase()]);
    this.maxTtlMs = cacheOpts.maxTtlMs;
  }

  /** lower-case names of the claim headers this verifier sets */
  get claimHeaderNames(): readonly string[] {
    return this.claims.map(([, h]) => h);
  }

  acquire(): void {
    if (this.users++ === 0) this.keys.acquire();
  }

  /** returns true when nothing uses this verifier any more (its token cache is dropped) */
  release(): boolean {
    if (this.users === 0) return true;
    if (--this.users > 0) return false;
    this.keys.release();
    this.cache.clear();
    return true;
  }

  /** the hot path: a verified, cached header value costs one lookup */
  cached(authorization: string): Verified | undefined {
    return this.cache.get(authorization);
  }

  /** verify (once for concurrent callers) and cache when valid */
  verify(authorization: string): Promise<Outcome> {
    let p = this.inflight.get(authorization);
    if (p === undefined) {
      p = this.verifyOnce(authorization).finally(() => this.inflight.delete(authorization));
      this.inflight.set(authorization, p);
    }
    return p;
  }

  private async verifyOnce(authorization: string): Promise<Outcome> {
    if (authorization === '') return { status: 401, reason: 'jwt_missing' };
    if (authorization.length > MAX_HEADER_CHARS || !/^bearer /i.test(authorization)) return { status: 401, reason: 'jwt_malformed' };
    const token = authorization.slice(7).trim();
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.keys.getKey, {
        issuer: this.def.issuer,
        algorithms: this.algorithms,
        requiredClaims: ['exp'],
      }));
    } catch (err) {
      return this.refusal(err);
    }
    if (this.audiences !== undefined && !audienceMatches(payload.aud, this.audiences)) return { status: 403, reason: 'jwt_audience' };
    const headers = this.claims.length === 0 ? NO_HEADERS : claimHeaders(payload, this.claims);
    const ttl = Math.min((payload.exp as number) * 1000 - Date.now(), this.maxTtlMs);
    if (ttl >= 1) this.cache.set(authorization, headers, { ttl: Math.floor(ttl) });
    return headers;
  }

  private refusal(err: unknown): Refused {
    const e = err as { code?: string; claim?: string; message?: string };
    switch (e.code) {
      case 'E_JWKS_UNAVAILABLE': return { status: 503, reason: 'jwt_keys_unavailable' };
      case 'ERR_JWT_EXPIRED': return { status: 401, reason: 'jwt_expired' };
      case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
        if (e.claim === 'nbf') return { status: 401, reason: 'jwt_not_yet_valid' };
        if (e.claim === 'iss') return { status: 401, reason: 'jwt_issuer' };
        return { status: 401, reason: 'jwt_claims' };
      case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED': return { status: 401, reason: 'jwt_bad_signature' };
      case 'ERR_JWKS_NO_MATCHING_KEY':
      case 'ERR_JWKS_MULTIPLE_MATCHING_KEYS': return { status: 401, reason: 'jwt_unknown_key' };
      case 'ERR_JOSE_ALG_NOT_ALLOWED':
      case 'ERR_JOSE_NOT_SUPPORTED': return { status: 401, reason: 'jwt_algorithm' };
      case 'ERR_JWS_INVALID':
      case 'ERR_JWT_INVALID': return { status: 401, reason: 'jwt_malformed' };
      default:
        this.log.warn({ err: e.message, code: e.code, issuer: this.def.issuer }, 'jwt verification failed unexpectedly');
        return { status: 401, reason: 'jwt_invalid' };
    }
  }
}

function audienceMatches(aud: unknown, wanted: ReadonlySet<string>): boolean {
  if (typeof aud === 'string') return wanted.has(aud);
  return Array.isArray(aud) && aud.some((a) => typeof a === 'string' && wanted.has(a));
}

/**
 * Claim values as header values: strings as they are, other JSON values as JSON; anything outside
 * printable ASCII is written as a JSON `\uXXXX` escape so a claim can never split a header.
 */
function claimHeaders(payload: JWTPayload, claims: readonly [string, string][]): Verified {
  const out: [string, string][] = [];
  for (const [claim, header] of claims) {
    const v = payload[claim];
    if (v === undefined || v === null) continue;
    const text = typeof v === 'string' ? v : JSON.stringify(v);
    out.push([header, text.replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)]);
  }
  return Object.freeze(out) as Verified;
}

export function isRefused(o: Outcome): o is Refused {
  return (o as Refused).status !== undefined;
}
