import type { BodyRead, FilterRequest, FilterVerdict, Filter } from '../../../../router/filters/filter.js';

/** A FilterRequest as the core builds one: lower-case header lookup, '' when absent. */
export class TestRequest implements FilterRequest {
  readonly responseHeaders: [string, string][] = [];
  readonly upstreamHeaders: [string, string][] = [];
  keyId?: string;
  hiddenHeaders?: string[];
  upstreamQuery?: string;
  private readonly headers: Map<string, string>;

  constructor(readonly method: string, readonly path: string, headers: Record<string, string> = {}, readonly query = '',
    readonly peer = '127.0.0.1', private readonly body: Buffer = Buffer.alloc(0)) {
    this.headers = new Map(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  }

  readBody(cap: number): BodyRead {
    return this.body.length > cap ? 'too_large' : this.body;
  }

  header(name: string): string {
    return this.headers.get(name) ?? '';
  }
}

/** Runs a chain as the core does: in order, awaiting only returned promises, stopping at an answer. */
export async function run(chain: readonly Filter[], req: FilterRequest): Promise<FilterVerdict> {
  for (const f of chain) {
    const v = f.apply(req);
    const verdict = v instanceof Promise ? await v : v;
    if (verdict !== undefined) return verdict;
  }
  return undefined;
}

export function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}

/** Polls until check() is true; fails with `what` after the deadline. */
export async function until(what: string, check: () => Promise<boolean> | boolean, deadlineMs = 15_000): Promise<void> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
