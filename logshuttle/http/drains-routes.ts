import type { HttpResponse } from 'uWebSockets.js';
import type { DrainApi } from '../drains/types.js';
import { readBody, respond, respondError, respondJson } from './respond.js';

const MAX_BODY = 16 * 1024;

/**
 * Runs a drains API call that may answer at once (a DrainSet) or later (the bus registry); a
 * failure other than a bad URL is 503 when the bus did not take the change (the registry's
 * BusUnavailable, E_BUS_UNAVAILABLE), else 500.
 */
function settle<T>(res: HttpResponse, call: () => T | Promise<T>, ok: (value: T) => void): void {
  const failed = (err: unknown): void => {
    const code = (err as { code?: string }).code;
    if (code === 'E_DRAIN_URL') return respondError(res, '400 Bad Request', code, (err as Error).message);
    if (code === 'E_BUS_UNAVAILABLE') {
      return respondError(res, '503 Service Unavailable', 'E_BUS_UNAVAILABLE', `the bus did not answer: ${(err as Error).message}`);
    }
    respondError(res, '500 Internal Server Error', code ?? 'E_INTERNAL', (err as Error).message);
  };
  let value: T | Promise<T>;
  try {
    value = call();
  } catch (err) {
    return failed(err);
  }
  if (value instanceof Promise) {
    if (!res.aborted) res.onAborted(() => { res.aborted = true; res.done = true; });
    value.then(ok, failed);
  } else {
    ok(value);
  }
}

/** `POST /apps/:app/drains {url}`: 201 `{id, url}`, 400 for a bad body or URL. */
export function addDrain(drains: DrainApi, res: HttpResponse, app: string): void {
  readBody(res, MAX_BODY, (body) => {
    if (body === null) return;
    let url: unknown;
    try {
      url = (JSON.parse(body.toString('utf8')) as { url?: unknown })?.url;
    } catch {
      return respondError(res, '400 Bad Request', 'E_BAD_BODY', 'body must be JSON {"url": "..."}');
    }
    if (typeof url !== 'string') return respondError(res, '400 Bad Request', 'E_BAD_BODY', 'body must be JSON {"url": "..."}');
    settle(res, () => drains.add(app, url), (d) => respondJson(res, '201 Created', d));
  });
}

/** `GET /apps/:app/drains`: 200 `[{id, url}]`. */
export function listDrains(drains: DrainApi, res: HttpResponse, app: string): void {
  settle(res, () => drains.list(app), (list) => respondJson(res, '200 OK', list));
}

/** `DELETE /apps/:app/drains/:id`: 204, or 404 when there is no such drain. */
export function removeDrain(drains: DrainApi, res: HttpResponse, app: string, id: string): void {
  settle(res, () => drains.remove(app, id), (removed) => {
    if (removed) respond(res, '204 No Content', '');
    else respondError(res, '404 Not Found', 'E_NO_DRAIN', `app ${app} has no drain ${id}`);
  });
}
