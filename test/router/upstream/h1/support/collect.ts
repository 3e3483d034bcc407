import type { UpstreamDispatchOptions, UpstreamPool } from '../../../../../router/upstream/h1/dispatch-contract.js';

/** What a handler saw of one dispatch. */
export interface Outcome {
  status: number;
  statusText: string;
  /** response headers as [name, value] strings */
  headers: [string, string][];
  body: Buffer;
  /** onHeaders/onData/onComplete/onError in the order they came */
  events: string[];
  error: Error | null;
  /** the request body, as far as the dyno is concerned, is not this helper's business */
  completed: boolean;
}

/** Hooks into the handler calls (return values as the handler's). */
export interface Hooks {
  onConnect?(abort: (err?: Error) => void): void;
  onHeaders?(status: number, resume: () => void): boolean | void;
  onData?(chunk: Buffer, resume: () => void): boolean | void;
}

/** Dispatches and resolves once the handler heard onComplete or onError. */
export function collect(pool: UpstreamPool, options: Partial<UpstreamDispatchOptions>, hooks: Hooks = {}): Promise<Outcome> {
  return new Promise((resolve) => {
    const out: Outcome = { status: 0, statusText: '', headers: [], body: Buffer.alloc(0), events: [], error: null, completed: false };
    const chunks: Buffer[] = [];
    let resume: () => void = () => undefined;
    pool.dispatch({ path: '/', method: 'GET', headers: [], body: null, headersTimeout: 10000, bodyTimeout: 10000, ...options }, {
      onConnect(abort) {
        out.events.push('connect');
        hooks.onConnect?.(abort);
      },
      onHeaders(status, raw, r, text) {
        resume = r;
        out.events.push(`headers ${status}`);
        out.status = status;
        out.statusText = text;
        for (let i = 0; i < raw.length; i += 2) out.headers.push([raw[i].toString('latin1'), raw[i + 1].toString('latin1')]);
        return hooks.onHeaders?.(status, resume) !== false;
      },
      onData(chunk) {
        chunks.push(Buffer.from(chunk));
        if (out.events[out.events.length - 1] !== 'data') out.events.push('data');
        return hooks.onData?.(chunk, resume) !== false;
      },
      onComplete() {
        out.events.push('complete');
        out.completed = true;
        out.body = Buffer.concat(chunks);
        resolve(out);
      },
      onError(err) {
        out.events.push(`error ${(err as NodeJS.ErrnoException).code ?? err.name}`);
        out.error = err;
        out.body = Buffer.concat(chunks);
        resolve(out);
      },
    });
  });
}

/** The value of a response header (case-insensitive name), '' when absent. */
export function header(o: Outcome, name: string): string {
  return o.headers.find(([k]) => k.toLowerCase() === name)?.[1] ?? '';
}
