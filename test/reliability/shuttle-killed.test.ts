// Faults under load: the log shuttle SIGKILLed and restarted on the same ports while the router
// serves a steady load and ships every access line to it.
import t from 'tap';
import { baseConfig, deadAddress, echoDyno, until, writeConfig } from '../support/router-harness.js';
import { startRouterProcess } from './support/router-process.js';
import { startShuttle } from '../logshuttle/helpers/shuttle-process.js';
import { openTail } from '../logshuttle/helpers/http-client.js';
import { LoadLoop, byStatus, type Outcome } from './support/load-loop.js';
import { l10Total, l11Total } from './support/access-lines.js';
import { connectionsTo } from './support/proc-sample.js';
import { report } from './support/report.js';

const HOST = 'api.example.io';
/** lines each router worker holds while the shuttle is away: small, so the outage overflows it */
const SHIP_BUFFER = 200;

function idsIn(text: string): Set<string> {
  const out = new Set<string>();
  for (const m of text.matchAll(/ akkeris\/router: at=\S+ .*?request_id=(\S+)/g)) out.add(m[1]);
  return out;
}

t.test('shuttle killed and restarted under load: no request fails, the router reconnects, every line is delivered or reported', async (t) => {
  const dyno = await echoDyno('web');
  t.teardown(() => dyno.close());
  // fixed ports from the start, as in production: uWS sets SO_REUSEPORT only on a fixed port, and
  // without it the restarted shuttle cannot bind its HTTP port while the old tail connections
  // linger in TIME_WAIT; on loopback addresses of this test's own, so that no other process can
  // take them while the shuttle is down
  const [ingestHost, ingestPortText] = (await deadAddress()).split(':');
  const [httpHost, httpPortText] = (await deadAddress()).split(':');
  const ingestPort = Number(ingestPortText);
  const httpPort = Number(httpPortText);
  const listen = (ingest: number, http: number) => ({ ingest: { host: ingestHost, port: ingest }, http: { host: httpHost, port: http } });
  const first = await startShuttle(t, { listen: listen(ingestPort, httpPort), history: 100000 });
  const router = await startRouterProcess(t, writeConfig(baseConfig({
    workers: 2,
    logshuttle: `tcp://${ingestHost}:${ingestPort}`,
    apps: { api: { dynos: [dyno.address] } },
  })), { ROUTER_SHIP_BUFFER: String(SHIP_BUFFER) });
  const origin = `http://127.0.0.1:${router.ports.http}`;

  const tail1 = openTail(`${first.base}/apps/api/logs?lines=0&tail=true`);
  t.teardown(() => tail1.close());
  // both workers connected: a line through each (requests alternate between them)
  const warm = new LoadLoop({ origin, host: HOST, concurrency: 2, idPrefix: 'warm' }).start();
  t.teardown(() => warm.stop());
  await until(() => warm.outcomes.length >= 20 && connectionsTo(ingestPort, ingestHost) >= 2, 20000, 'both router workers connected to the shuttle');
  const warmOut = await warm.stop();
  await until(() => warmOut.every((o) => tail1.text().includes(`request_id=${o.id} `)), 20000, 'warm-up lines in the tail');

  const load = new LoadLoop({ origin, host: HOST, concurrency: 6, idPrefix: 'load', pauseMs: 2 }).start();
  t.teardown(() => load.stop());
  await until(() => load.outcomes.length >= 300, 30000, 'load before the kill');

  const killAt = Date.now();
  await first.stop('SIGKILL');
  // the router has closed its connections to the dead shuttle: from here on, lines queue
  await until(() => connectionsTo(ingestPort, ingestHost) === 0, 20000, 'the router noticed the dead shuttle');
  const downAt = Date.now();
  await until(() => load.outcomes.filter((o) => o.startedAt > downAt).length >= 4 * SHIP_BUFFER, 30000, 'load while the shuttle is down');

  const second = await startShuttle(t, { listen: listen(ingestPort, httpPort), history: 100000 });
  const restartAt = Date.now();
  const tail2 = openTail(`${second.base}/apps/api/logs?lines=100000&tail=true`);
  t.teardown(() => tail2.close());
  await until(() => connectionsTo(ingestPort, ingestHost) >= 2, 30000, 'the router reconnected (both workers)');
  await until(() => load.outcomes.filter((o) => o.startedAt > restartAt).length >= 300, 30000, 'load after the restart');
  const loadOut = await load.stop();

  // after the load: a last batch must reach the new shuttle (the router is shipping again)
  const last = new LoadLoop({ origin, host: HOST, concurrency: 2, idPrefix: 'last' }).start();
  t.teardown(() => last.stop());
  await until(() => last.outcomes.length >= 20, 20000, 'last batch');
  const lastOut = await last.stop();
  await until(() => lastOut.every((o) => tail2.text().includes(`request_id=${o.id} `)), 30000, 'the last batch in the new shuttle');

  const all: Outcome[] = [...warmOut, ...loadOut, ...lastOut];
  const failed = all.filter((o) => o.status !== 200);
  t.same(failed.map((o) => `${o.id} ${o.status} ${o.error ?? ''}`), [], 'no request failed while the shuttle was killed and restarted');

  // accounting: every line is seen by a tail (first or second shuttle), or reported in an L10
  // line, or was in flight to the shuttle when it was killed (at most the lines of requests that
  // ended before the router saw the connection close: TCP has no acknowledgement of what the
  // dead process read)
  const window = all.filter((o) => o.startedAt > downAt); // sent while the router knew the shuttle was down, or after
  // (a tail client too slow for its bounded queue gets L11 lines instead: those lines did reach
  // the shuttle, so they count as delivered)
  const settle = (): { seen1: Set<string>; seen2: Set<string>; l10: number; l11: number; unseen: Outcome[]; unseenWindow: Outcome[] } => {
    const seen1 = idsIn(tail1.text());
    const seen2 = idsIn(tail2.text());
    const l10 = l10Total(tail2.lines());
    const l11 = l11Total(tail1.text()) + l11Total(tail2.text());
    const unseen = all.filter((o) => !seen1.has(o.id) && !seen2.has(o.id));
    return { seen1, seen2, l10, l11, unseen, unseenWindow: unseen.filter((o) => o.startedAt > downAt) };
  };
  await until(() => { const s = settle(); return s.l10 + s.l11 >= s.unseenWindow.length; }, 30000, 'L10 lines covering every line not delivered').catch(() => undefined);
  const s = settle();
  const l10Lines = tail2.lines().filter((l) => l.includes('Error L10'));
  t.ok(l10Lines.length > 0, `the outage overflowed the router's queue and was reported (${l10Lines.length} L10 lines)`);
  for (const l of l10Lines) t.match(l, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z api akkeris\/platform: Error L10 \(output buffer overflow\): \d+ messages dropped since /, 'L10 line format');
  t.equal(s.l10 + s.l11 >= s.unseenWindow.length, true, `every line sent while the shuttle was down is delivered or counted (${s.unseenWindow.length} of ${window.length} not delivered, ${s.l10} reported in L10, ${s.l11} in L11)`);
  t.equal(s.l10 <= s.unseen.length, true, `no more reported dropped than lines missing (${s.l10} reported, ${s.unseen.length} missing)`);
  const lostInCrash = s.unseen.length - s.l10 - s.l11;
  const crashWindow = all.filter((o) => o.endedAt >= killAt && o.startedAt <= downAt).length;

  report(t, 'shuttle-killed', {
    requestsSent: all.length,
    requestsFailed: failed.length,
    linesSent: all.length,
    linesDelivered: all.length - s.unseen.length + s.l11,
    linesDroppedReported: s.l10,
    tailDroppedReported: s.l11,
    linesLostInCrashUnreported: lostInCrash,
    statuses: byStatus(all),
    deliveredToFirst: s.seen1.size,
    deliveredToSecond: s.seen2.size,
    sentWhileDownOrAfter: window.length,
    sentInCrashWindow: crashWindow,
    noticeMs: downAt - killAt,
    outageMs: restartAt - killAt,
    shipBufferPerWorker: SHIP_BUFFER,
  });
});
