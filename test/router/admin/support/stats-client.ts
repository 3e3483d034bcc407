import { request } from 'node:http';
import { admin } from '../../support/admin-client.js';

/** GET a JSON document from the admin listener. */
export async function getJson<T = any>(port: number, path: string, token?: string): Promise<{ status: number; json: T; headers: Record<string, unknown> }> {
  const a = await admin(port, 'GET', path, { token });
  let json: T;
  try {
    json = JSON.parse(a.body) as T;
  } catch {
    json = a.body as unknown as T;
  }
  return { status: a.status, json, headers: a.headers };
}

/** Polls `get` until `check` holds on its value; returns that value. */
export async function pollUntil<T>(get: () => Promise<T>, check: (v: T) => boolean, timeoutMs: number, what: string): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    last = await get();
    if (check(last)) return last;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last: ${JSON.stringify(last)?.slice(0, 2000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface SseEvent {
  event: string;
  data: any;
}

/** A server-sent event stream of the admin listener, parsed as it comes. */
export interface EventStream {
  status: number;
  contentType: string;
  events: SseEvent[];
  next(check: (e: SseEvent) => boolean, timeoutMs: number, what: string): Promise<SseEvent>;
  close(): void;
}

export function openStream(port: number, path: string, token?: string): Promise<EventStream> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { accept: 'text/event-stream' };
    if (token !== undefined) headers.authorization = `Bearer ${token}`;
    const req = request({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
      const events: SseEvent[] = [];
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        buf += d;
        let i: number;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          let event = 'message';
          let data = '';
          for (const line of block.split('\n')) {
            if (line.startsWith('event:')) event = line.slice(6).trim();
            else if (line.startsWith('data:')) data += line.slice(5).trim();
          }
          events.push({ event, data: data ? JSON.parse(data) : null });
        }
      });
      res.on('error', () => undefined);
      resolve({
        status: res.statusCode ?? 0,
        contentType: String(res.headers['content-type']),
        events,
        async next(check, timeoutMs, what) {
          const end = Date.now() + timeoutMs;
          let from = 0;
          for (;;) {
            for (; from < events.length; from++) if (check(events[from])) return events[from];
            if (Date.now() > end) throw new Error(`no event ${what} in ${timeoutMs} ms (${events.length} events)`);
            await new Promise((r) => setTimeout(r, 50));
          }
        },
        close: () => req.destroy(),
      });
    });
    req.on('error', reject);
    req.end();
  });
}
