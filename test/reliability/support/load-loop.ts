import { Pool, type Dispatcher } from 'undici';

/** One request's outcome as the client saw it. */
export interface Outcome {
  id: string;
  method: string;
  /** 0 when the request failed without a response (reset, timeout) */
  status: number;
  /** the client-side error code or message when there was no complete response */
  error: string | null;
  body: string;
  /** epoch ms */
  startedAt: number;
  endedAt: number;
}

export interface LoadSpec {
  /** http://127.0.0.1:PORT of the router */
  origin: string;
  host: string;
  /** parallel request loops */
  concurrency: number;
  /** request ids are `${idPrefix}-${n}` (sent as X-Request-Id, so router lines can be matched) */
  idPrefix: string;
  method?: string;
  path?: (n: number) => string;
  /** request body (sent with content-length) */
  body?: Buffer;
  /** one connection per request (Connection: close semantics) instead of keep-alive */
  newConnections?: boolean;
  /** client-side deadline for a response (headers and body); generous: the machine is busy */
  timeoutMs?: number;
  /** pause between requests of one loop (ms), 0 = back to back */
  pauseMs?: number;
}

/**
 * A closed-loop load generator: `concurrency` loops, each sending its next request when the
 * previous one ended, until stop(). Every request carries its own X-Request-Id and its
 * outcome is kept, so each one can be matched to the router's access line.
 */
export class LoadLoop {
  readonly outcomes: Outcome[] = [];
  private stopped = false;
  private seq = 0;
  private readonly loops: Promise<void>[] = [];
  private readonly pool: Pool;

  constructor(private readonly spec: LoadSpec) {
    this.pool = new Pool(spec.origin, { connections: spec.concurrency, pipelining: 1 });
  }

  /** requests started so far */
  get sent(): number {
    return this.seq;
  }

  start(): this {
    for (let i = 0; i < this.spec.concurrency; i++) this.loops.push(this.loop());
    return this;
  }

  /** Stops starting new requests; resolves when every request in flight has ended. */
  async stop(): Promise<Outcome[]> {
    this.stopped = true;
    await Promise.all(this.loops);
    await this.pool.close().catch(() => undefined);
    return this.outcomes;
  }

  private async loop(): Promise<void> {
    const s = this.spec;
    while (!this.stopped) {
      const n = this.seq++;
      this.outcomes.push(await this.once(n));
      if (s.pauseMs) await new Promise((r) => setTimeout(r, s.pauseMs));
    }
  }

  /** Sends request number n and reads its whole response. */
  async once(n: number): Promise<Outcome> {
    const s = this.spec;
    const id = `${s.idPrefix}-${n}`;
    const method = s.method ?? 'GET';
    const startedAt = Date.now();
    const timeout = s.timeoutMs ?? 20000;
    const headers: Record<string, string> = { host: s.host, 'x-request-id': id };
    if (s.body) headers['content-type'] = 'application/octet-stream';
    const opts: Dispatcher.RequestOptions = {
      origin: s.origin,
      path: s.path ? s.path(n) : `/load/${n}`,
      method: method as Dispatcher.HttpMethod,
      headers,
      body: s.body ?? null,
      headersTimeout: timeout,
      bodyTimeout: timeout,
      reset: s.newConnections === true,
    };
    try {
      const res = await this.pool.request(opts);
      const body = await res.body.text();
      return { id, method, status: res.statusCode, error: null, body, startedAt, endedAt: Date.now() };
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      return { id, method, status: 0, error: e.code ?? e.message, body: '', startedAt, endedAt: Date.now() };
    }
  }
}

/** Counts outcomes by status (0 = no response). */
export function byStatus(outcomes: readonly Outcome[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const o of outcomes) out[o.status] = (out[o.status] ?? 0) + 1;
  return out;
}
