import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import type { IngestContext } from '../ingest/ingest-context.js';
import { ingestLogplex, ingestNdjson, type IngestResult, type RecordSink } from '../ingest/http-bodies.js';
import { readBody, respond, respondError, respondJson } from './respond.js';
import type { ServerState } from './server-state.js';

/** Largest POST /ingest body. */
export const MAX_INGEST_BODY = 16 * 1024 * 1024;

/** Bus mode: whether the bus takes lines now, and how long an answer may wait for its acks. */
export interface BusIngestGate {
  ready(): boolean;
  deadlineMs: number;
}

/** 503 with Retry-After: the sender should send the body again (here or to another replica). */
function busUnavailable(res: HttpResponse, detail: string): void {
  respond(res, '503 Service Unavailable', JSON.stringify({ error: detail, code: 'E_BUS_UNAVAILABLE' }) + '\n', 'application/json', { 'Retry-After': '1' });
}

/**
 * `POST /ingest`: `application/x-ndjson` records or `application/logplex-1` frames. Answers
 * 200 `{accepted, rejected}`; 415 for another content type; 503 `E_STOPPING` once the shuttle
 * is stopping (the sender should retry elsewhere: nothing of the body was taken). Bus mode:
 * the answer waits until the bus has stored every accepted line; 503 `E_BUS_UNAVAILABLE` with
 * `Retry-After` when the bus is not reachable (nothing taken) or did not store them all within
 * the deadline (the lines it did store are delivered: a resend may duplicate them).
 */
export function ingestRoute(ctx: IngestContext, state: ServerState, gate?: BusIngestGate) {
  return (res: HttpResponse, req: HttpRequest): void => {
    if (state.stopping) {
      res.onAborted(() => { res.aborted = true; });
      return respondError(res, '503 Service Unavailable', 'E_STOPPING', 'the log shuttle is stopping; nothing was taken');
    }
    const type = req.getHeader('content-type').split(';')[0].trim().toLowerCase();
    const kind = type === 'application/x-ndjson' || type === 'application/ndjson' ? 'ndjson' : type === 'application/logplex-1' ? 'logplex' : null;
    if (kind === null) {
      ctx.bad.report('http', 'unsupported content type', type);
      res.onAborted(() => { res.aborted = true; });
      return respondError(res, '415 Unsupported Media Type', 'E_CONTENT_TYPE', 'use application/x-ndjson or application/logplex-1');
    }
    const bus = ctx.bus;
    if (bus && gate && !gate.ready()) {
      res.onAborted(() => { res.aborted = true; });
      return busUnavailable(res, 'the bus is not reachable; nothing was taken');
    }
    state.begin();
    readBody(res, MAX_INGEST_BODY, (body) => {
      if (body === null) {
        ctx.bad.report('http', 'body too large');
        state.end();
        return;
      }
      if (!bus) {
        try {
          respondJson(res, '200 OK', kind === 'ndjson' ? ingestNdjson(body, ctx) : ingestLogplex(body, ctx));
        } finally {
          state.end();
        }
        return;
      }
      const acks: Promise<void>[] = [];
      const sink: RecordSink = (record) => acks.push(bus.publishAcked(record, 'http'));
      let result: IngestResult;
      try {
        result = kind === 'ndjson' ? ingestNdjson(body, ctx, sink) : ingestLogplex(body, ctx, sink);
      } catch (err) {
        state.end();
        return respondError(res, '500 Internal Server Error', 'E_INTERNAL', (err as Error).message);
      }
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<'late'>((resolve) => { timer = setTimeout(() => resolve('late'), gate?.deadlineMs ?? 5000); });
      void Promise.race([Promise.all(acks).then(() => 'stored' as const), deadline]).then(
        (how) => {
          if (how === 'stored') respondJson(res, '200 OK', result);
          else busUnavailable(res, `the bus did not store the lines within ${gate?.deadlineMs ?? 5000} ms; send them again`);
        },
        (err: Error) => busUnavailable(res, `the bus did not store every line (${err.message}); send them again`),
      ).finally(() => {
        clearTimeout(timer);
        state.end();
      });
    }, () => state.end());
  };
}
