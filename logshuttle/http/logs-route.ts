import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import type { ShuttleCore } from '../shuttle-core.js';
import { TailStream, type TailFormat, type TailLimits, type TailSink, DEFAULT_TAIL_LIMITS } from '../tail/tail-stream.js';
import { respond, respondError } from './respond.js';
import type { ServerState } from './server-state.js';

/** Lines of history sent when the request does not say (`?lines=N`). */
export const DEFAULT_TAIL_LINES = 100;

function queryValue(req: HttpRequest, key: string): string {
  return (req.getQuery(key) as string | undefined) ?? '';
}

/** What a logs request asks for (read from the request before any callback returns). */
export interface TailRequest {
  lines: number;
  follow: boolean;
  format: TailFormat;
  contentType: string;
}

/** Reads `lines`, `tail` and Accept; a string is the reason for a 400. */
export function readTailRequest(req: HttpRequest, history: number): TailRequest | string {
  const linesRaw = queryValue(req, 'lines');
  let lines = DEFAULT_TAIL_LINES;
  if (linesRaw !== '') {
    if (!/^\d{1,9}$/.test(linesRaw)) return 'lines must be a non-negative integer';
    lines = Math.min(Number(linesRaw), history);
  }
  const tailRaw = queryValue(req, 'tail');
  const follow = tailRaw === 'true' || tailRaw === '1';
  const format: TailFormat = /text\/event-stream/i.test(req.getHeader('accept')) ? 'sse' : 'text';
  const contentType = format === 'sse' ? 'text/event-stream; charset=utf-8' : 'text/plain; charset=utf-8';
  return { lines, follow, format, contentType };
}

/**
 * The request as readTailRequest reads it, or null once it is answered as refused: 400
 * `E_BAD_QUERY` for a bad query, 503 `E_STOPPING` for a new live tail while the shuttle stops.
 */
export function admitTailRequest(res: HttpResponse, req: HttpRequest, history: number, state: ServerState): TailRequest | null {
  const tr = readTailRequest(req, history);
  if (typeof tr === 'string') {
    respondError(res, '400 Bad Request', 'E_BAD_QUERY', tr);
    return null;
  }
  if (tr.follow && state.stopping) {
    respondError(res, '503 Service Unavailable', 'E_STOPPING', 'the log shuttle is stopping');
    return null;
  }
  return tr;
}

/**
 * Opens a live tail's response: the headers, then the history (`body`, after a comment line for
 * an SSE client, which so gets its headers at once); the stream resumes when the client can take
 * more.
 */
export function openTailResponse(res: HttpResponse, stream: TailStream, app: string, tr: TailRequest, historyLines: string, body: string): void {
  res.onWritable(() => {
    // outside the uWS callback, where a cork/uncork really writes
    setImmediate(() => stream.resume(Date.now()));
    return true;
  });
  let blocked = false;
  res.cork(() => {
    res.writeStatus('200 OK')
      .writeHeader('Content-Type', tr.contentType)
      .writeHeader('Cache-Control', 'no-cache')
      .writeHeader('X-Accel-Buffering', 'no')
      .writeHeader('X-History-Lines', historyLines);
    const first = tr.format === 'sse' ? `: tail of ${app}\n\n` + body : body;
    blocked = first.length > 0 && !res.write(first);
  });
  // history alone filled the socket: live lines wait in the stream's bounded queue
  if (blocked) stream.markBlocked();
}

/** The sink of a tail: the response, corked. */
export function responseSink(res: HttpResponse): TailSink {
  return {
    write(chunk) {
      let ok = true;
      if (!res.aborted) res.cork(() => { ok = res.write(chunk); });
      return ok;
    },
    drain() {
      // an empty cork/uncork makes uWS send what it holds (it does not on its own while
      // an onWritable handler is set)
      if (!res.aborted) res.cork(() => {});
    },
    end() {
      if (res.aborted || res.done) return;
      res.done = true;
      res.cork(() => res.end());
    },
  };
}

/**
 * `GET /apps/:app/logs?lines=N&tail=true`: the newest N lines as text, one per line; with
 * `tail=true` the response stays open and streams new lines. `text/event-stream` (each line
 * a `data:` event) when the Accept header asks for it. `X-History-Lines` says how many of the
 * first lines are history (the tail CLI resumes after a reconnect with it).
 */
export function logsRoute(core: ShuttleCore, history: number, state: ServerState, limits: TailLimits = DEFAULT_TAIL_LIMITS) {
  return (res: HttpResponse, req: HttpRequest, app: string): void => {
    const tr = admitTailRequest(res, req, history, state);
    if (tr === null) return;
    const { lines, follow, format, contentType } = tr;
    const ring = core.rings.get(app);
    const past = ring ? ring.newestLines(lines) : [];
    const stream = new TailStream(app, responseSink(res), format, limits);
    const body = past.map((l) => stream.frame(l)).join('');
    const historyLines = String(past.length);
    if (!follow) return respond(res, '200 OK', body, contentType, { 'Cache-Control': 'no-cache', 'X-History-Lines': historyLines });
    res.onAborted(() => {
      res.aborted = true;
      core.tails.remove(stream);
    });
    openTailResponse(res, stream, app, tr, historyLines, body);
    core.tails.add(stream);
  };
}
