import type { RateLimitFilterDef } from '../config/filter-schema.js';
import type { Filter, FilterRequest, FilterVerdict } from './filter.js';
import { problemAnswer } from './problem-answer.js';
import { countRefusal, type FilterCount } from './filter-counters.js';
import { canonicalAddress, peerAddress } from './ip-address.js';
import { fingerprint, nowUs, type Charge, type RateLimitTable } from './rate-limit-table.js';

type Part = { kind: 'ip' } | { kind: 'key' } | { kind: 'path' } | { kind: 'header'; name: string };

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * Rate limit (`type: ratelimit`): a token bucket of `limit` tokens refilled evenly over
 * `window_ms`, per bucket key made of the `by` parts (`ip`: the TCP peer; `key`: the id a keyauth
 * filter earlier in the chain matched, the peer ip when there is none; `path`: the normalised
 * path the app receives; `header:<name>`), in the process-wide shared table (rate-limit-table.ts:
 * exact across worker threads, fixed memory). Every response of the app carries (a request the
 * filter did not count: an earlier filter answered it, or its scope leaves the path out, shows
 * the bucket's state without taking a token) `RateLimit-Policy: "<name>";q=<limit>;w=<window s>` and
 * `RateLimit: "<name>";r=<remaining>;t=<seconds until full>`; a refusal is 429 `rate_limited`
 * with `Retry-After` (whole seconds, at least 1). The bucket identity is the filter's name and
 * settings: a reload that keeps them keeps the buckets.
 */
export class RateLimitFilter implements Filter {
  readonly type = 'ratelimit';
  private readonly parts: readonly Part[];
  private readonly limit: number;
  private readonly windowUs: number;
  /** this process's share of the limit (all of it without a bus: router/cluster/rate-limit-share.ts) */
  private shareOf = 1;
  private shareLimit: number;
  private intervalUs: number;
  private readonly identity: string;
  private readonly policy: [string, string];
  private readonly quoted: string;
  private readonly fp = new Uint32Array(2);
  private readonly out: Charge = { allowed: false, remaining: 0, toFullUs: 0, retryUs: 0 };

  constructor(readonly name: string, def: RateLimitFilterDef, private readonly table: RateLimitTable, private readonly count: FilterCount) {
    this.parts = (def.by ?? ['ip']).map(parsePart);
    this.limit = def.limit;
    this.shareLimit = def.limit;
    this.windowUs = def.window_ms * 1000;
    // integer microseconds: limit * interval >= window, the bucket is full again within window + limit us
    this.intervalUs = Math.max(1, Math.ceil(this.windowUs / def.limit));
    this.identity = rateLimitIdentity(name, def);
    this.quoted = `"${name.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
    this.policy = ['ratelimit-policy', `${this.quoted};q=${def.limit};w=${Math.max(1, Math.ceil(def.window_ms / 1000))}`];
  }

  apply(req: FilterRequest): FilterVerdict {
    this.locate(req);
    const out = this.out;
    this.table.charge(this.fp[0], this.fp[1], this.shareLimit, this.intervalUs, nowUs(), out);
    this.addHeaders(req);
    if (out.allowed) {
      this.count.passed++;
      return undefined;
    }
    countRefusal(this.count, 'rate_limited');
    const retry = Math.max(1, Math.ceil(out.retryUs / 1_000_000));
    return problemAnswer('rate_limited', `rate limit of ${this.limit} requests exceeded; retry in ${retry} s`, [['retry-after', String(retry)]]);
  }

  /** The bucket's state without taking a token, as headers (a response this filter did not count). */
  annotate(req: FilterRequest): void {
    this.locate(req);
    this.table.peek(this.fp[0], this.fp[1], this.shareLimit, this.intervalUs, nowUs(), this.out);
    this.addHeaders(req);
  }

  /** The request's bucket fingerprint into `fp`, and this process's share of the limit. */
  private locate(req: FilterRequest): void {
    fingerprint(this.bucketKey(req), this.table.seed, this.fp);
    const share = this.table.share();
    if (share !== this.shareOf) {
      // N routers sharing over the bus: ceil(limit / N) tokens each, refilled over the same window
      this.shareOf = share;
      this.shareLimit = Math.ceil(this.limit / share);
      this.intervalUs = Math.max(1, Math.ceil(this.windowUs / this.shareLimit));
    }
  }

  private addHeaders(req: FilterRequest): void {
    const out = this.out;
    req.responseHeaders.push(this.policy, ['ratelimit', `${this.quoted};r=${out.remaining};t=${Math.ceil(out.toFullUs / 1_000_000)}`]);
  }

  private bucketKey(req: FilterRequest): string {
    let key = this.identity;
    for (const p of this.parts) {
      switch (p.kind) {
        case 'ip': key += '\u0000i' + peerKey(req.peer); break;
        case 'key': key += req.keyId !== undefined ? '\u0000k' + req.keyId : '\u0000i' + peerKey(req.peer); break;
        case 'path': key += '\u0000p' + req.path; break;
        case 'header': key += '\u0000h' + req.header(p.name); break;
      }
    }
    return key;
  }
}

let lastPeer = '';
let lastPeerKey = '';

/**
 * The peer as one canonical text: an IPv4 client is the same bucket on an IPv4 or a dual-stack
 * listener (the last one remembered: a kept-alive connection's requests come from one peer).
 */
function peerKey(peer: string): string {
  if (peer !== lastPeer) {
    const a = peerAddress(peer);
    lastPeerKey = a === null ? peer : canonicalAddress(a);
    lastPeer = peer;
  }
  return lastPeerKey;
}

function parsePart(by: string): Part {
  if (by === 'ip' || by === 'key' || by === 'path') return { kind: by };
  return { kind: 'header', name: by.slice('header:'.length).toLowerCase() };
}

/** What makes two ratelimit definitions the same buckets: name, limit, window and `by`. */
export function rateLimitIdentity(name: string, def: RateLimitFilterDef): string {
  return JSON.stringify([name, def.limit, def.window_ms, (def.by ?? ['ip']).map((b) => b.toLowerCase())]);
}

/** Problems of a ratelimit definition beyond the schema. */
export function rateLimitProblems(def: RateLimitFilterDef, at: (field: string, reason: string) => void): void {
  const seen = new Set<string>();
  (def.by ?? []).forEach((b, i) => {
    const lower = b.toLowerCase();
    if (lower.startsWith('header:')) {
      const h = b.slice('header:'.length);
      if (!TOKEN.test(h)) at(`by[${i}]`, `"${h}" is not a valid header name`);
    } else if (b !== 'ip' && b !== 'key' && b !== 'path') {
      at(`by[${i}]`, `"${b}" is not one of ip, key, path, header:<name>`);
    }
    if (seen.has(lower)) at(`by[${i}]`, `"${b}" is given twice`);
    seen.add(lower);
  });
}
