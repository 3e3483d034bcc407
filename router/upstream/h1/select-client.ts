import { Pool } from 'undici';
import type { UpstreamPool, UpstreamPoolOptions } from './dispatch-contract.js';
import { H1Pool } from './h1-pool.js';

export type { UpstreamPool, UpstreamPoolOptions } from './dispatch-contract.js';

/** Which HTTP/1.1 client talks to the dynos. */
export type UpstreamClientKind = 'lean' | 'undici';

/**
 * Used when EDGEPLANE_UPSTREAM_CLIENT is not set: the lean client, measured ahead of undici's
 * Pool on this machine (bench/PROFILE.md, "After") and passing the whole router suite;
 * `EDGEPLANE_UPSTREAM_CLIENT=undici` switches back.
 */
export const DEFAULT_UPSTREAM_CLIENT: UpstreamClientKind = 'lean';

/**
 * EDGEPLANE_UPSTREAM_CLIENT=lean|undici (read once per call, so each worker thread and each test
 * process decides for itself); anything else is an error, not a silent fallback.
 */
export function upstreamClientKind(env: NodeJS.ProcessEnv = process.env): UpstreamClientKind {
  const v = env.EDGEPLANE_UPSTREAM_CLIENT;
  if (v === undefined || v === '') return DEFAULT_UPSTREAM_CLIENT;
  if (v === 'lean' || v === 'undici') return v;
  throw new Error(`EDGEPLANE_UPSTREAM_CLIENT must be lean or undici, not ${JSON.stringify(v)}`);
}

/**
 * A keep-alive pool for the dyno at `address` (`host:port`) with the options router/upstream/dyno.ts
 * gives undici's Pool: the lean node:net client (router/upstream/h1) or undici's Pool itself.
 * Both take `dispatch({path, method, headers, body, headersTimeout, bodyTimeout}, handler)` with an
 * old-style handler (router/upstream/exchange.ts).
 */
export function createUpstreamPool(address: string, options: UpstreamPoolOptions,
  kind: UpstreamClientKind = upstreamClientKind()): UpstreamPool {
  if (kind === 'lean') return new H1Pool(address, options);
  return new Pool(`http://${address}`, options as Pool.Options);
}
