import type { RateLimitFilterDef } from '../config/filter-schema.js';
import type { Filter, FilterRequest, FilterVerdict } from './filter.js';
import { problemAnswer } from './problem-answer.js';
import { countRefusal, type FilterCount } from './filter-counters.js';
import { canonicalAddress, parseAddress } from './ip-address.js';
import { fingerprint, nowUs, type Charge, type RateLimitTable } from './rate-limit-table.js';

type Part = { kind: 'ip' } | { kind: 'key' } | { kind: 'path' } | { kind: 'header'; name: string };

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * Rate limit (`type: ratelimit`): a token bucket of `limit` tokens refilled evenly over
 * `window_ms`, per bucket key made of the `by` parts (`ip`: the TCP peer; `key`: the id a keyauth
 * filter earlier in the chain matched, the peer ip when there is none; `path`: the normalised
 * path the app receives; `header:<name>`), in the process-wide shared table (rate-limit-table.ts:
 * exact across worker threads, fixed memory). Every response of a request the filter counted
 * carries `RateLimit-Policy: "<name>";q=<limit>;w=<window s>` and
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
    const key = this.bucketKey(req);
    fingerprint(key, this.table.seed, this.fp);
    const out = this.out;
    const share = this.table.share();
    if (share !== this.shareOf) {
      // N routers sharing over the bus: ceil(limit / N) tokens each, refilled over the same window
      this.shareOf = share;
      this.shareLimit = Math.ceil(this.limit / share);
      this.intervalUs = Math.max(1, Math.ceil(this.windowUs / this.shareLimit));
    }
    this.table.charge(this.fp[0], this.fp[1], this.shareLimit, this.intervalUs, nowUs(), out);
    const state: [string, string] = ['ratelimit', `${this.quoted};r=${out.remaining};t=${Math.ceil(out.toFullUs / 1_000_000)}`];
    req.responseHeaders.push(this.policy, state);
    if (out.allowed) {
      this.count.passed++;
      return undefined;
    }
    countRefusal(this.count, 'rate_limited');
    const retry = Math.max(1, Math.ceil(out.retryUs / 1_000_000));
    return problemAnswer('rate_limited', `rate limit of ${this.limit} requests exceeded; retry in ${retry} s`, [['retry-after', String(retry)]]);
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

/** The peer as one canonical text: an IPv4 client is the same bucket on an IPv4 or a dual-stack listener. */
function peerKey(peer: string): string {
  const a = parseAddress(peer);
  return a === null ? peer : canonicalAddress(a);
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
