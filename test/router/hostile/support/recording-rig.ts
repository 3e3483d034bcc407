// The router and the dyno the hostile-client tests run against: one app (`sink`), an internal
// app (`hidden`) and a site with a rewrite, in front of a dyno that records what reached it.
import type { IncomingHttpHeaders } from 'node:http';
import type { Test } from 'tap';
import { request } from 'undici';
import { baseConfig, startDyno, startRouter, writeConfig, type Dyno, type RunningRouter } from '../../../support/router-harness.js';

export interface DynoRequest { url: string; headers: IncomingHttpHeaders; completed: boolean; aborted: boolean; bytes: number }

/** set by useRecordingRig's `before` (live bindings) */
export let router: RunningRouter;
export let dyno: Dyno;
/** what reached the dyno, by X-Request-Id */
export const requests = new Map<string, DynoRequest>();

/** Starts the dyno and the router before the file's tests, and stops them after. */
export function useRecordingRig(t: Test): void {
  t.before(async () => {
    dyno = await startDyno((req, res) => {
      const id = String(req.headers['x-request-id']);
      const r: DynoRequest = { url: req.url ?? '', headers: req.headers, completed: false, aborted: false, bytes: 0 };
      requests.set(id, r);
      req.on('data', (c: Buffer) => (r.bytes += c.length));
      req.on('end', () => {
        r.completed = true;
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ url: req.url, headers: req.headers }));
      });
      req.on('close', () => (r.aborted = !r.completed));
    });
    router = await startRouter(writeConfig(baseConfig({
      timeouts: { connectMs: 2000, firstByteMs: 30000, idleMs: 30000 },
      apps: {
        sink: { dynos: [dyno.address] },
        hidden: { dynos: [dyno.address], internal: true },
      },
      sites: { 'www.example.com': { routes: [{ path: '/v3/api', app: 'sink', target: '/api' }] } },
    })));
  });
  t.teardown(async () => {
    await router?.stop();
    await dyno?.close();
  });
}

export const HOST = 'Host: sink.example.io\r\n';
export const lineOf = (rid: string, timeoutMs = 10000): Promise<string> => router.waitForLine((l) => l.includes(`request_id=${rid} `), timeoutMs);

/** An ordinary request to the sink app: its status. */
export async function ok(path = '/ok'): Promise<number> {
  const res = await request(router.url(path), { headers: { host: 'sink.example.io' } });
  await res.body.dump();
  return res.statusCode;
}
