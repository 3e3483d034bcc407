// Faults under load: a dyno that accepts connections and never answers, beside a healthy app.
import t from 'tap';
import { request } from 'undici';
import type { Socket } from 'node:net';
import { baseConfig, echoDyno, startRawDyno, until, writeConfig } from '../support/router-harness.js';
import { startRouterProcess } from './support/router-process.js';
import { LoadLoop, byStatus } from './support/load-loop.js';
import { linesById } from './support/access-lines.js';
import { metric, rssBytes } from './support/proc-sample.js';
import { report } from './support/report.js';

const H12_BODY = 'Request timeout (H12)\n';
const HANG_CONCURRENCY = 16;
const OK_CONCURRENCY = 4;
const MiB = 1024 * 1024;

t.test('a dyno that hangs: H12 after firstByteMs, no pile-up, other apps unaffected', async (t) => {
  const open = new Set<Socket>();
  const hang = await startRawDyno((sock) => {
    open.add(sock);
    sock.on('close', () => open.delete(sock));
    sock.resume(); // reads the request, never answers
  });
  t.teardown(() => hang.close());
  const ok = await echoDyno('ok');
  t.teardown(() => ok.close());
  const router = await startRouterProcess(t, writeConfig(baseConfig({
    workers: 2,
    timeouts: { firstByteMs: 500 },
    apps: { hang: { dynos: [hang.address] }, ok: { dynos: [ok.address] } },
  })));
  const origin = `http://127.0.0.1:${router.ports.http}`;
  const metricsUrl = `http://127.0.0.1:${router.ports.admin}/metrics`;
  const readMetrics = async (): Promise<string> => (await (await request(metricsUrl)).body.text());

  const pid = router.proc.pid!;
  // warm-up: both apps once, so the baseline has the pools and code paths loaded
  await new LoadLoop({ origin, host: 'ok.example.io', concurrency: 1, idPrefix: 'warm' }).once(0);
  await new LoadLoop({ origin, host: 'hang.example.io', concurrency: 1, idPrefix: 'warm-hang' }).once(0);
  const rssStart = rssBytes(pid);

  const hangLoad = new LoadLoop({ origin, host: 'hang.example.io', concurrency: HANG_CONCURRENCY, idPrefix: 'hang', timeoutMs: 10000 }).start();
  t.teardown(() => hangLoad.stop());
  const okLoad = new LoadLoop({ origin, host: 'ok.example.io', concurrency: OK_CONCURRENCY, idPrefix: 'ok', pauseMs: 10 }).start();
  t.teardown(() => okLoad.stop());
  let maxInFlight = 0;
  let maxOpenAtDyno = 0;
  let rssPeak = rssStart;
  let samples = 0;
  const deadline = Date.now() + 60000; // without H12 the clients' own 10 s timeouts end it
  while (hangLoad.outcomes.length < 10 * HANG_CONCURRENCY && Date.now() < deadline) {
    maxInFlight = Math.max(maxInFlight, metric(await readMetrics(), 'edgeplane_router_requests_in_flight'));
    maxOpenAtDyno = Math.max(maxOpenAtDyno, open.size);
    rssPeak = Math.max(rssPeak, rssBytes(pid));
    samples++;
    await new Promise((r) => setTimeout(r, 100));
  }
  const hangOut = await hangLoad.stop();
  const okOut = await okLoad.stop();

  // once the clients stop, nothing is left in flight and no connection to the hung dyno stays open
  await until(async () => metric(await readMetrics(), 'edgeplane_router_requests_in_flight') === 0, 20000, 'in-flight back to 0');
  await until(() => open.size === 0, 20000, 'connections to the hung dyno closed');
  const rssEnd = rssBytes(pid);

  const all = [...hangOut, ...okOut];
  await until(() => router.lines.length >= all.length + 2, 20000, 'an access line for every request');
  const lines = linesById(router.lines);

  const notH12 = hangOut.filter((o) => o.status !== 503 || o.body !== H12_BODY || lines.get(o.id)?.code !== 'H12');
  t.same(notH12.map((o) => `${o.id} ${o.status} ${o.error ?? ''} ${o.body.trim()} | ${lines.get(o.id)?.raw}`), [], 'every request to the hung dyno: 503 H12, logged');
  const okFailed = okOut.filter((o) => o.status !== 200);
  t.same(okFailed.map((o) => `${o.id} ${o.status} ${o.error ?? ''}`), [], 'the other app served every request meanwhile');
  t.ok(okOut.length > 0, 'the other app had traffic during the hang');
  t.ok(samples >= 3, `in-flight sampled during the load (${samples} samples)`);
  // (two workers are asked one after the other: a request may be seen on both, hence 2x)
  t.ok(maxInFlight <= 2 * (HANG_CONCURRENCY + OK_CONCURRENCY), `router in-flight bounded by what the clients have outstanding (max ${maxInFlight})`);
  t.ok(maxOpenAtDyno <= 2 * HANG_CONCURRENCY, `connections to the hung dyno bounded by the clients (max ${maxOpenAtDyno}, ${hang.connections} opened in all)`);
  t.ok(rssEnd - rssStart < 64 * MiB, `router RSS bounded (${(rssStart / MiB).toFixed(1)} -> ${(rssEnd / MiB).toFixed(1)} MiB, peak ${(rssPeak / MiB).toFixed(1)})`);

  report(t, 'dyno-hangs', {
    requestsSent: all.length,
    requestsFailed: okFailed.length + notH12.length,
    linesSent: all.length,
    linesDelivered: all.filter((o) => lines.has(o.id)).length,
    linesDroppedReported: 0,
    hangRequests: hangOut.length,
    hangStatuses: byStatus(hangOut),
    okRequests: okOut.length,
    okStatuses: byStatus(okOut),
    maxInFlight,
    maxOpenAtHungDyno: maxOpenAtDyno,
    connectionsOpenedToHungDyno: hang.connections,
    rssStartMiB: +(rssStart / MiB).toFixed(1),
    rssPeakMiB: +(rssPeak / MiB).toFixed(1),
    rssEndMiB: +(rssEnd / MiB).toFixed(1),
  });
});
