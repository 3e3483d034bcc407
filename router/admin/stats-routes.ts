import type { IncomingMessage, ServerResponse } from 'node:http';
import { statsDocument, TOP_APPS, type DashboardSources, type DocumentRequest } from './stats-document.js';
import { LogTailRelay } from './log-tail-relay.js';

/** Dashboard streams open at once, at most. */
export const MAX_STREAMS = 32;
/** Apps one GET /stats may name. */
const MAX_NAMED = 20;
const APP_NAME = /^[A-Za-z0-9][A-Za-z0-9-]*$/;

type Json = (res: ServerResponse, status: number, value: unknown, headers?: Record<string, string>) => void;

const NO_STORE = { 'cache-control': 'no-store' };

/**
 * The dashboard's data routes on the admin listener (behind ROUTER_ADMIN_TOKEN like the rest):
 * - `GET /stats[?limit=N][&app=NAME...]`: the document of stats-document.ts with 60 seconds of
 *   series per app: the busiest apps (50 unless `limit`, at most 200), or exactly the apps named
 *   (each is then held: its history starts if it had none);
 * - `GET /stats/stream[?app=NAME]`: server-sent events: `snapshot` (that document) at once, then
 *   `tick` once a second (the same without series: each app's newest second); `app` adds one
 *   app to the busiest. A client too slow to take a tick misses it and gets a snapshot next;
 * - `GET /dashboard/logs?app=NAME`: the live tail relay (log-tail-relay.ts).
 */
export class StatsRoutes {
  private streams = 0;
  private readonly tails = new LogTailRelay();

  constructor(private readonly src: DashboardSources) {}

  /** Answers and returns true when the path is one of the dashboard's data routes. */
  route(path: string, method: string, req: IncomingMessage, res: ServerResponse, json: Json): boolean {
    if (path !== '/stats' && path !== '/stats/stream' && path !== '/dashboard/logs') return false;
    if (method !== 'GET') {
      json(res, 405, { error: 'E_METHOD', problems: [`${method} not allowed; allowed: GET`] }, { allow: 'GET' });
      return true;
    }
    const query = new URL(req.url ?? '/', 'http://admin').searchParams;
    if (path === '/stats') this.stats(query, res, json);
    else if (path === '/stats/stream') this.stream(query, req, res, json);
    else this.tails.relay(this.src.running().loaded.config.dashboard?.logshuttle, query, req, res, json);
    return true;
  }

  /** Checks the named apps and holds them; a problem list when some are not apps. */
  private named(names: readonly string[]): string[] {
    const problems: string[] = [];
    const apps = this.src.running().loaded.config.apps;
    const history = this.src.collector.history;
    for (const name of names) {
      if (!APP_NAME.test(name)) problems.push(`app: ${JSON.stringify(name.slice(0, 100))} is not an app name`);
      else if (Object.hasOwn(apps, name)) history.pin(name);
      else if (!history.has(name)) problems.push(`app: no app ${name} in the running config or the last 60 seconds`);
    }
    return problems;
  }

  private stats(query: URLSearchParams, res: ServerResponse, json: Json): void {
    const names = query.getAll('app');
    const limitRaw = query.get('limit');
    const limit = limitRaw === null ? TOP_APPS : Number(limitRaw);
    if (!Number.isInteger(limit) || limit < 1 || limit > 200) return json(res, 400, { error: 'E_BAD_QUERY', problems: ['limit: an integer from 1 to 200'] });
    if (names.length > MAX_NAMED) return json(res, 400, { error: 'E_BAD_QUERY', problems: [`app: at most ${MAX_NAMED} apps at once`] });
    const problems = this.named(names);
    if (problems.length > 0) return json(res, names.every((n) => APP_NAME.test(n)) ? 404 : 400, { error: 'E_NO_APP', problems });
    const req: DocumentRequest = names.length > 0 ? { only: names, series: true } : { limit, series: true };
    json(res, 200, statsDocument(this.src, req), NO_STORE);
  }

  private stream(query: URLSearchParams, req: IncomingMessage, res: ServerResponse, json: Json): void {
    const app = query.get('app');
    if (app !== null) {
      const problems = this.named([app]);
      if (problems.length > 0) return json(res, APP_NAME.test(app) ? 404 : 400, { error: 'E_NO_APP', problems });
    }
    if (this.streams >= MAX_STREAMS) {
      return json(res, 503, { error: 'E_TOO_MANY_STREAMS', problems: [`${MAX_STREAMS} dashboard streams are open already`] }, { 'retry-after': '5' });
    }
    this.streams++;
    const also = app === null ? [] : [app];
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'x-accel-buffering': 'no', 'x-content-type-options': 'nosniff', ...NO_STORE });
    const send = (event: 'snapshot' | 'tick'): void => {
      const doc = statsDocument(this.src, { also, series: event === 'snapshot' });
      res.write(`event: ${event}\ndata: ${JSON.stringify(doc)}\n\n`);
    };
    send('snapshot');
    let missed = false;
    const unsubscribe = this.src.collector.subscribe(() => {
      // a client that has not taken the last event yet misses this one; it gets the whole window next
      if (res.writableNeedDrain) {
        missed = true;
        return;
      }
      if (app !== null) this.src.collector.history.pin(app);
      send(missed ? 'snapshot' : 'tick');
      missed = false;
    });
    let closed = false;
    const close = (): void => {
      if (closed) return;
      closed = true;
      unsubscribe();
      this.streams--;
    };
    res.on('close', close);
    req.on('error', close);
  }
}
