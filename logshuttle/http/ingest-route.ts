import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import type { IngestContext } from '../ingest/ingest-context.js';
import { ingestLogplex, ingestNdjson } from '../ingest/http-bodies.js';
import { readBody, respondError, respondJson } from './respond.js';
import type { ServerState } from './server-state.js';

/** Largest POST /ingest body. */
export const MAX_INGEST_BODY = 16 * 1024 * 1024;

/**
 * `POST /ingest`: `application/x-ndjson` records or `application/logplex-1` frames. Answers
 * 200 `{accepted, rejected}`; 415 for another content type; 503 `E_STOPPING` once the shuttle
 * is stopping (the sender should retry elsewhere: nothing of the body was taken).
 */
export function ingestRoute(ctx: IngestContext, state: ServerState) {
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
    state.begin();
    readBody(res, MAX_INGEST_BODY, (body) => {
      try {
        if (body === null) {
          ctx.bad.report('http', 'body too large');
          return;
        }
        respondJson(res, '200 OK', kind === 'ndjson' ? ingestNdjson(body, ctx) : ingestLogplex(body, ctx));
      } finally {
        state.end();
      }
    }, () => state.end());
  };
}
