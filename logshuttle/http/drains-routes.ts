import type { HttpResponse } from 'uWebSockets.js';
import type { DrainSet } from '../drains/types.js';
import { readBody, respond, respondError, respondJson } from './respond.js';

const MAX_BODY = 16 * 1024;

/** `POST /apps/:app/drains {url}`: 201 `{id, url}`, 400 for a bad body or URL. */
export function addDrain(drains: DrainSet, res: HttpResponse, app: string): void {
  readBody(res, MAX_BODY, (body) => {
    if (body === null) return;
    let url: unknown;
    try {
      url = (JSON.parse(body.toString('utf8')) as { url?: unknown })?.url;
    } catch {
      return respondError(res, '400 Bad Request', 'E_BAD_BODY', 'body must be JSON {"url": "..."}');
    }
    if (typeof url !== 'string') return respondError(res, '400 Bad Request', 'E_BAD_BODY', 'body must be JSON {"url": "..."}');
    try {
      respondJson(res, '201 Created', drains.add(app, url));
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'E_DRAIN_URL') return respondError(res, '400 Bad Request', code, (err as Error).message);
      respondError(res, '500 Internal Server Error', code ?? 'E_INTERNAL', (err as Error).message);
    }
  });
}

/** `GET /apps/:app/drains`: 200 `[{id, url}]`. */
export function listDrains(drains: DrainSet, res: HttpResponse, app: string): void {
  respondJson(res, '200 OK', drains.list(app));
}

/** `DELETE /apps/:app/drains/:id`: 204, or 404 when there is no such drain. */
export function removeDrain(drains: DrainSet, res: HttpResponse, app: string, id: string): void {
  if (drains.remove(app, id)) respond(res, '204 No Content', '');
  else respondError(res, '404 Not Found', 'E_NO_DRAIN', `app ${app} has no drain ${id}`);
}
