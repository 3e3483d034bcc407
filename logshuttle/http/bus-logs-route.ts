import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import type { BusTails, LiveFollow } from '../bus/bus-tails.js';
import { TailStream, type TailLimits, DEFAULT_TAIL_LIMITS } from '../tail/tail-stream.js';
import { admitTailRequest, openTailResponse, responseSink } from './logs-route.js';
import { respond, respondError } from './respond.js';
import type { ServerState } from './server-state.js';

/**
 * `GET /apps/:app/logs` in bus mode: the same request and response as logs-route.ts, but the
 * history comes from `<stream>_HIST` and the live lines from the bus (BusTails), so a tail on
 * any replica shows every line of the app whichever replica ingested or delivers it. 503
 * `E_BUS_UNAVAILABLE` when the bus does not answer.
 */
export function busLogsRoute(tails: BusTails, history: number, state: ServerState, limits: TailLimits = DEFAULT_TAIL_LIMITS) {
  return (res: HttpResponse, req: HttpRequest, app: string): void => {
    const tr = admitTailRequest(res, req, history, state);
    if (tr === null) return;
    const { lines, follow, format, contentType } = tr;
    let live: LiveFollow | null = null;
    let stream: TailStream | null = null;
    res.onAborted(() => {
      res.aborted = true;
      res.done = true;
      live?.stop();
      stream?.close();
    });
    void tails.history(app, lines).then((h) => {
      if (res.aborted) return;
      const s = new TailStream(app, responseSink(res), format, limits);
      const body = h.lines.map((l) => s.frame(l)).join('');
      const historyLines = String(h.lines.length);
      if (!follow) return respond(res, '200 OK', body, contentType, { 'Cache-Control': 'no-cache', 'X-History-Lines': historyLines });
      if (state.stopping) return respondError(res, '503 Service Unavailable', 'E_STOPPING', 'the log shuttle is stopping');
      stream = s;
      openTailResponse(res, s, app, tr, historyLines, body);
      let scheduled = false;
      const flush = (): void => {
        scheduled = false;
        s.flush(Date.now());
      };
      live = tails.follow(app, h.lastSeq, (line) => {
        if (s.enqueue(line, Date.now()) && !scheduled) {
          scheduled = true;
          setImmediate(flush);
        }
      }, () => s.end(Date.now()));
    }, (err: Error) => {
      if (!res.aborted) respondError(res, '503 Service Unavailable', 'E_BUS_UNAVAILABLE', `history not read from the bus: ${err.message}`);
    });
  };
}
