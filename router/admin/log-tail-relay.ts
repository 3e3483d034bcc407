import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { Transform, type TransformCallback } from 'node:stream';

/** Tails relayed at once, at most (each holds a connection to the shuttle). */
export const MAX_RELAYED_TAILS = 16;
const HEAD_TIMEOUT_MS = 5000;
const APP_NAME = /^[A-Za-z0-9][A-Za-z0-9-]*$/;

/**
 * The shuttle's tail as server-sent events (its headers come at once, even before the app has
 * a line; the text form sends them with the first line) back to its text form: each `data:`
 * event is one line; comments (`: tail of APP`) are dropped.
 */
class SseToText extends Transform {
  private buf = '';

  constructor() {
    super({ decodeStrings: false, encoding: 'utf8' });
  }

  override _transform(chunk: Buffer | string, _enc: BufferEncoding, done: TransformCallback): void {
    this.buf += typeof chunk === 'string' ? chunk : chunk.toString('utf8');
    let out = '';
    let i: number;
    while ((i = this.buf.indexOf('\n\n')) >= 0) {
      const event = this.buf.slice(0, i);
      this.buf = this.buf.slice(i + 2);
      for (const line of event.split('\n')) if (line.startsWith('data: ')) out += line.slice(6) + '\n';
    }
    // a line never waits for more than itself: a frame in progress beyond 1 MiB is cut there
    if (this.buf.length > 1 << 20) this.buf = '';
    done(null, out.length > 0 ? out : undefined);
  }
}

type Json = (res: ServerResponse, status: number, value: unknown, headers?: Record<string, string>) => void;

/**
 * `GET /dashboard/logs?app=NAME[&lines=N]` on the admin listener: the log shuttle's live tail
 * of one app (`GET <dashboard.logshuttle>/apps/NAME/logs?tail=true`), relayed as it streams, as
 * text (one line per log line, as the shuttle's own text tail).
 * The router relays rather than letting the page call the shuttle: the page stays
 * same-origin (no CORS on the shuttle, nothing loaded from elsewhere), the admin token guards
 * it like every data route, and the shuttle's own token (LOGSHUTTLE_TOKEN in the router's
 * environment) stays on the server, never in a browser.
 */
export class LogTailRelay {
  private open = 0;

  constructor(private readonly shuttleToken = process.env.LOGSHUTTLE_TOKEN ?? '') {}

  get relayed(): number {
    return this.open;
  }

  relay(base: string | undefined, query: URLSearchParams, req: IncomingMessage, res: ServerResponse, json: Json): void {
    if (base === undefined) {
      return json(res, 404, { error: 'E_NO_TAIL', problems: ['no live tail: the config has no dashboard.logshuttle'] });
    }
    const app = query.get('app') ?? '';
    if (!APP_NAME.test(app)) return json(res, 400, { error: 'E_BAD_QUERY', problems: ['app: an app name is required (?app=NAME)'] });
    const linesRaw = query.get('lines') ?? '100';
    if (!/^\d{1,5}$/.test(linesRaw)) return json(res, 400, { error: 'E_BAD_QUERY', problems: ['lines: a number of lines (0 to 99999)'] });
    if (this.open >= MAX_RELAYED_TAILS) {
      return json(res, 503, { error: 'E_TOO_MANY_TAILS', problems: [`${MAX_RELAYED_TAILS} tails are open already`] }, { 'retry-after': '5' });
    }
    const url = new URL(`${base.replace(/\/+$/, '')}/apps/${app}/logs`);
    url.searchParams.set('tail', 'true');
    url.searchParams.set('lines', linesRaw);
    const headers: Record<string, string> = { accept: 'text/event-stream' };
    if (this.shuttleToken) headers.authorization = `Bearer ${this.shuttleToken}`;
    this.open++;
    let released = false;
    const release = (): void => {
      if (!released) {
        released = true;
        this.open--;
      }
    };
    const upstream = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, { headers });
    const fail = (problem: string): void => {
      release();
      if (!res.headersSent) json(res, 502, { error: 'E_TAIL', problems: [problem] });
      else res.destroy();
    };
    const headTimer = setTimeout(() => {
      upstream.destroy();
      fail(`the log shuttle at ${url.origin} did not answer in ${HEAD_TIMEOUT_MS} ms`);
    }, HEAD_TIMEOUT_MS);
    upstream.on('error', (err) => {
      clearTimeout(headTimer);
      fail(`the log shuttle at ${url.origin}: ${(err as NodeJS.ErrnoException).code ?? err.message}`);
    });
    upstream.on('response', (up) => {
      clearTimeout(headTimer);
      if (up.statusCode !== 200) {
        let text = '';
        up.setEncoding('utf8');
        up.on('data', (d: string) => { if (text.length < 2000) text += d; });
        up.on('end', () => fail(`the log shuttle answered ${up.statusCode}: ${text.trim().slice(0, 500)}`));
        up.on('error', () => fail(`the log shuttle answered ${up.statusCode}`));
        return;
      }
      res.writeHead(200, {
        'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff',
        ...(up.headers['x-history-lines'] ? { 'x-history-lines': String(up.headers['x-history-lines']) } : {}),
      });
      res.flushHeaders();
      up.setEncoding('utf8');
      up.pipe(new SseToText()).pipe(res);
      up.on('end', release);
      up.on('error', () => {
        release();
        res.destroy();
      });
    });
    // the page stopped the tail (or went away): close the shuttle's side too
    res.on('close', () => {
      clearTimeout(headTimer);
      upstream.destroy();
      release();
    });
    req.on('error', () => undefined);
    upstream.end();
  }
}
