import uWS from 'uWebSockets.js';
import type { HttpRequest, HttpResponse, us_listen_socket } from 'uWebSockets.js';
import type { Registry } from 'prom-client';
import type { ListenAddress } from '../config/schema.js';
import type { DrainApi } from '../drains/types.js';
import type { BusTails } from '../bus/bus-tails.js';
import type { IngestContext, Listening } from '../ingest/ingest-context.js';
import { bearerCheck } from './auth.js';
import { logsRoute } from './logs-route.js';
import { addDrain, listDrains, removeDrain } from './drains-routes.js';
import { ingestRoute, type BusIngestGate } from './ingest-route.js';
import { busLogsRoute } from './bus-logs-route.js';
import { respond, respondError, respondJson } from './respond.js';
import { ServerState } from './server-state.js';
import { ListenError } from '../../shared/errors.js';

export interface HttpServerOptions {
  address: ListenAddress;
  ctx: IngestContext;
  history: number;
  drains: DrainApi;
  registry: Registry;
  /** LOGSHUTTLE_TOKEN: when set, every route but GET /healthz (and /readyz) needs it as a bearer token */
  token?: string;
  /** bus mode: tails from the bus, ingest answered after the bus's acks, readiness */
  bus?: HttpBusOptions;
}

export interface HttpBusOptions {
  tails: BusTails;
  gate: BusIngestGate;
  /** what /readyz reports: ready, and the state of each part */
  readiness(): { ready: boolean; detail: Record<string, unknown> };
}

function param(req: HttpRequest, i: number): string | null {
  try {
    return decodeURIComponent(req.getParameter(i) ?? '');
  } catch {
    return null;
  }
}

/** The shuttle's HTTP API on uWebSockets.js (DESIGN.md "HTTP API"). */
export function listenHttp(o: HttpServerOptions): Promise<Listening> {
  const authorized = bearerCheck(o.token);
  const state = new ServerState();
  const logs = o.bus ? busLogsRoute(o.bus.tails, o.history, state) : logsRoute(o.ctx.core, o.history, state);
  const ingest = ingestRoute(o.ctx, state, o.bus?.gate);
  /** GET /readyz: 200 when serving (bus mode: connected, streams and buckets in place); 503 when stopping or not ready */
  const readyz = (res: HttpResponse): void => {
    const r = o.bus ? o.bus.readiness() : { ready: true, detail: {} };
    const ready = r.ready && !state.stopping;
    respondJson(res, ready ? '200 OK' : '503 Service Unavailable', { ready, stopping: state.stopping, ...r.detail });
  };
  /** wraps a handler with the token check and app-parameter decoding */
  const guarded = (handler: (res: HttpResponse, req: HttpRequest, app: string) => void) => (res: HttpResponse, req: HttpRequest) => {
    if (!authorized(req.getHeader('authorization'))) {
      return respond(res, '401 Unauthorized', JSON.stringify({ error: 'bearer token required', code: 'E_UNAUTHORIZED' }) + '\n', 'application/json', { 'WWW-Authenticate': 'Bearer' });
    }
    const app = param(req, 0);
    if (app === null) return respondError(res, '400 Bad Request', 'E_BAD_PATH', 'bad percent-encoding in path');
    handler(res, req, app);
  };
  const app = uWS.App()
    .get('/healthz', (res) => respond(res, '200 OK', 'ok\n'))
    .get('/readyz', readyz)
    .get('/apps/:app/logs', guarded(logs))
    .post('/apps/:app/drains', guarded((res, _req, name) => addDrain(o.drains, res, name)))
    .get('/apps/:app/drains', guarded((res, _req, name) => listDrains(o.drains, res, name)))
    .del('/apps/:app/drains/:id', guarded((res, req, name) => {
      const id = param(req, 1);
      if (id === null) return respondError(res, '400 Bad Request', 'E_BAD_PATH', 'bad percent-encoding in path');
      removeDrain(o.drains, res, name, id);
    }))
    .post('/ingest', guarded((res, req) => ingest(res, req)))
    .get('/metrics', guarded((res) => {
      res.onAborted(() => { res.aborted = true; res.done = true; });
      o.registry.metrics().then(
        (text) => respond(res, '200 OK', text, o.registry.contentType),
        (err: Error) => respondError(res, '500 Internal Server Error', 'E_METRICS', err.message),
      );
    }))
    .any('/*', (res) => respondError(res, '404 Not Found', 'E_NOT_FOUND', 'no such route'));
  return new Promise((resolve, reject) => {
    app.listen(o.address.host, o.address.port, (socket: us_listen_socket | false) => {
      if (!socket) return reject(new ListenError(o.address.host, o.address.port));
      resolve({
        port: uWS.us_socket_local_port(socket as unknown as uWS.us_socket),
        // stop: no new connections; POST /ingest answers 503 on open keep-alive connections;
        // ingest bodies being read get up to `graceMs` to finish
        close: async (graceMs: number) => {
          state.stopping = true;
          uWS.us_listen_socket_close(socket);
          await state.whenIdle(graceMs);
        },
      });
    });
  });
}
