import http from 'node:http';
import https from 'node:https';
import type { Writable } from 'node:stream';
import { backoffDelay, type BackoffOptions } from '../drains/backoff.js';
import type { TailArgs } from './tail-args.js';
import { RECENT, RecentLines, resumePoint } from './resume-point.js';

/** Asked for on reconnect: the shuttle caps it at its `history`. */
const RESYNC_LINES = 100_000;
/** --no-follow: give up when the connection stays silent this long */
const NO_FOLLOW_IDLE_MS = 30_000;
export const TAIL_BACKOFF: BackoffOptions = Object.freeze({ baseMs: 200, maxMs: 10_000 });
/** the response header saying how many of the first lines are history */
export const HISTORY_HEADER = 'x-history-lines';

export interface TailClientOptions {
  args: TailArgs;
  /** bearer token (LOGSHUTTLE_TOKEN) */
  token?: string;
  /** where lines go (stdout) */
  out: Writable;
  /** turns a tail line (no LF) into what is printed (colours) */
  render: (line: string) => string;
  /** one-line notices for the user (stderr) */
  notice: (text: string) => void;
  backoff?: BackoffOptions;
}

/**
 * The tail CLI's connection: `GET /apps/:app/logs?lines=N[&tail=true]`, lines printed as they
 * come. When the stream breaks (shuttle restarted, network), it reconnects with jittered
 * exponential backoff (200 ms doubling, capped at 10 s) and resumes after the last line it
 * printed (see resume-point.ts); nothing is printed twice. 4xx answers (bad token, bad
 * request) end the run with exit code 1; 5xx and network errors are retried when following.
 */
export class TailClient {
  private readonly o: TailClientOptions;
  private readonly recent = new RecentLines();
  private req: http.ClientRequest | null = null;
  private timer: NodeJS.Timeout | null = null;
  private failures = 0;
  private connectedOnce = false;
  private outage = false;
  private stopped = false;
  private finish: (code: number) => void = () => {};

  constructor(o: TailClientOptions) {
    this.o = o;
  }

  /** Runs until the history is printed (--no-follow), a fatal answer, or `stop()`; resolves with the exit code. */
  run(): Promise<number> {
    return new Promise<number>((resolve) => {
      this.finish = (code) => {
        if (this.stopped) return;
        this.stop();
        resolve(code);
      };
      this.attempt();
    });
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.req?.destroy();
    this.req = null;
  }

  private attempt(): void {
    const { args, token } = this.o;
    const resync = this.connectedOnce;
    // the first time, RECENT extra lines are read (not printed) so that a reconnect can find
    // its place even when nothing was printed yet
    const lines = resync ? RESYNC_LINES : args.lines + RECENT;
    const url = new URL(`${args.url}/apps/${encodeURIComponent(args.app)}/logs?lines=${lines}${args.follow ? '&tail=true' : ''}`);
    const headers: Record<string, string> = { accept: 'text/plain' };
    if (token) headers.authorization = `Bearer ${token}`;
    const get = url.protocol === 'https:' ? https.get : http.get;
    let ended = false;
    const broken = (reason: string): void => {
      if (ended) return;
      ended = true;
      this.broken(req, reason);
    };
    const req = get(url, { headers, agent: false }, (res) => this.onResponse(req, res, resync, broken));
    this.req = req;
    req.on('socket', (s) => s.setKeepAlive(true, 15_000));
    // the history alone should come promptly; a live tail may be quiet for hours
    if (!args.follow) req.setTimeout(NO_FOLLOW_IDLE_MS, () => broken(`nothing received for ${NO_FOLLOW_IDLE_MS / 1000} s`));
    req.on('error', (err) => broken((err as NodeJS.ErrnoException).code ?? err.message));
  }

  private onResponse(req: http.ClientRequest, res: http.IncomingMessage, resync: boolean, broken: (reason: string) => void): void {
    const status = res.statusCode ?? 0;
    if (status !== 200) {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { if (body.length < 2000) body += d; });
      res.on('error', () => {});
      res.on('end', () => {
        const detail = messageOf(body);
        if (this.o.args.follow && (status >= 500 || status === 429)) return broken(`HTTP ${status}${detail}`);
        const hint = status === 401 ? ' (set LOGSHUTTLE_TOKEN)' : '';
        this.fatal(`${this.o.args.url}: HTTP ${status}${detail}${hint}`);
      });
      return;
    }
    this.failures = 0;
    if (this.outage) this.o.notice('reconnected');
    this.outage = false;
    this.connectedOnce = true;
    const h = Number(res.headers[HISTORY_HEADER]);
    let historyLeft = Number.isInteger(h) && h > 0 ? h : 0;
    const history: string[] = [];
    const endHistory = (): void => {
      if (resync) {
        const { skip, matched } = resumePoint(history, this.recent);
        if (!matched && this.recent.size > 0 && history.length > 0) {
          this.o.notice('the shuttle no longer holds the last line shown (restarted?); lines sent while disconnected may be missing');
        }
        for (let i = skip; i < history.length; i++) this.print(history[i]);
      } else {
        // the first answer: the newest --lines of it are shown, the rest only remembered
        for (let i = 0; i < history.length; i++) {
          if (i >= history.length - this.o.args.lines) this.print(history[i]);
          else this.recent.add(history[i]);
        }
      }
      history.length = 0;
    };
    let partial = '';
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      const parts = (partial + chunk).split('\n');
      partial = parts.pop()!;
      for (const line of parts) {
        if (historyLeft > 0) {
          history.push(line);
          if (--historyLeft === 0) endHistory();
        } else if (!this.print(line)) {
          res.pause();
          this.o.out.once('drain', () => res.resume());
        }
      }
    });
    res.on('end', () => {
      if (historyLeft > 0 || history.length > 0) endHistory();
      historyLeft = 0;
      if (!this.o.args.follow) {
        if (partial !== '') this.print(partial);
        this.finish(0);
        return;
      }
      broken('the stream ended');
    });
    res.on('aborted', () => broken('the stream broke'));
    res.on('error', (err) => broken(err.message));
    res.on('close', () => broken('the stream broke'));
  }

  /** Prints one line (no LF); false when the output wants a pause. */
  private print(line: string): boolean {
    this.recent.add(line);
    return this.o.out.write(this.o.render(line) + '\n');
  }

  private broken(req: http.ClientRequest, reason: string): void {
    if (this.stopped || req !== this.req) return;
    this.req = null;
    req.destroy();
    if (!this.o.args.follow) return this.fatal(`cannot read the tail from ${this.o.args.url}: ${reason}`);
    this.failures++;
    const delay = backoffDelay(this.failures, this.o.backoff ?? TAIL_BACKOFF);
    if (!this.outage) this.o.notice(`${this.connectedOnce ? 'connection lost' : `cannot reach ${this.o.args.url}`} (${reason}); reconnecting`);
    this.outage = true;
    this.timer = setTimeout(() => {
      this.timer = null;
      if (!this.stopped) this.attempt();
    }, delay);
  }

  private fatal(message: string): void {
    this.o.notice(message);
    this.finish(1);
  }
}

/** `: <error>` from a JSON error body `{error, code}`, else the body's first line. */
function messageOf(body: string): string {
  try {
    const j = JSON.parse(body) as { error?: unknown; code?: unknown };
    if (typeof j.error === 'string') return `: ${j.error}${typeof j.code === 'string' ? ` (${j.code})` : ''}`;
  } catch {
    // not JSON
  }
  const first = body.split('\n')[0].trim().slice(0, 200);
  return first ? `: ${first}` : '';
}
