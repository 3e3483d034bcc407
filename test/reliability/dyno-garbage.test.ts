// Faults under load: a dyno that answers garbage, alone and beside a healthy dyno.
import t from 'tap';
import { baseConfig, echoDyno, startRawDyno, until, writeConfig } from '../support/router-harness.js';
import { startRouterProcess } from './support/router-process.js';
import { LoadLoop, byStatus } from './support/load-loop.js';
import { linesById } from './support/access-lines.js';
import { report } from './support/report.js';

const H17_BODY = 'Poorly formatted HTTP response (H17)\n';

/** What the garbage dyno answers, one kind per connection in turn (the socket is left open). */
const GARBAGE = [
  '\x00\x01\x02 this is not HTTP\r\n\r\n',
  'HTTP/1.1 2000 OK\r\ncontent-length: 2\r\n\r\nok',
  'HTTP/1.1 200 OK\r\ncontent-length: twelve\r\n\r\nhello',
  'HTTP/1.1 200 OK\r\nno colon in this header\r\ncontent-length: 2\r\n\r\nok',
];

/**
 * Malformed after a valid status line: conflicting Content-Length headers (undici reports
 * UND_ERR_RES_CONTENT_LENGTH_MISMATCH), a bad chunk right after valid headers (nothing has
 * reached the client yet: answered 503, not cut).
 */
const GARBAGE_AFTER_HEAD = [
  'HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 3\r\n\r\nok!',
  'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\nnot a chunk\r\n',
];

t.test('a dyno that answers garbage: 503 H17, logged; the other dyno serves', async (t) => {
  let kind = 0;
  const garbage = await startRawDyno((sock) => {
    const text = GARBAGE[kind++ % GARBAGE.length];
    sock.once('data', () => sock.write(text, 'latin1'));
  });
  t.teardown(() => garbage.close());
  const good = await echoDyno('good');
  t.teardown(() => good.close());
  const router = await startRouterProcess(t, writeConfig(baseConfig({
    workers: 2,
    apps: { mixed: { dynos: [garbage.address, good.address] }, bad: { dynos: [garbage.address] } },
  })));
  const origin = `http://127.0.0.1:${router.ports.http}`;

  const mixed = new LoadLoop({ origin, host: 'mixed.example.io', concurrency: 8, idPrefix: 'mixed', pauseMs: 5 }).start();
  t.teardown(() => mixed.stop());
  const bad = new LoadLoop({ origin, host: 'bad.example.io', concurrency: 2, idPrefix: 'bad' }).start();
  t.teardown(() => bad.stop());
  await until(() => mixed.outcomes.length >= 400 && bad.outcomes.length >= 6 * GARBAGE.length, 45000, 'load on both apps');
  const mixedOut = await mixed.stop();
  const badOut = await bad.stop();
  const all = [...mixedOut, ...badOut];
  await until(() => router.lines.length >= all.length, 20000, 'an access line for every request');
  const lines = linesById(router.lines);

  const badNotH17 = badOut.filter((o) => o.status !== 503 || o.body !== H17_BODY || lines.get(o.id)?.code !== 'H17');
  t.same(badNotH17.map((o) => `${o.id} ${o.status} ${o.error ?? ''} ${o.body.trim()} | ${lines.get(o.id)?.raw}`), [],
    'the app with only the garbage dyno: every request 503 H17, logged');

  const h17 = mixedOut.filter((o) => o.status === 503);
  const served = mixedOut.filter((o) => o.status === 200);
  const other = mixedOut.filter((o) => o.status !== 200 && o.status !== 503);
  t.same(other.map((o) => `${o.id} ${o.status} ${o.error ?? ''}`), [], 'the mixed app answers 200 or 503, nothing else');
  for (const o of h17) {
    const l = lines.get(o.id);
    t.ok(o.body === H17_BODY && l?.code === 'H17' && l.dyno === garbage.address, `${o.id}: 503 H17 from the garbage dyno, logged (${l?.raw})`);
  }
  t.ok(h17.length > 0, `the garbage dyno was tried (${h17.length} H17)`);
  t.ok(served.length > h17.length, `the good dyno served most requests (${served.length} vs ${h17.length} H17)`);
  const notGood = served.filter((o) => JSON.parse(o.body).dyno !== 'good' || lines.get(o.id)?.dyno !== good.address);
  t.same(notGood.map((o) => o.id), [], 'every 200 came from the good dyno');
  t.ok(garbage.connections >= GARBAGE.length, `every kind of garbage was sent (${garbage.connections} connections)`);

  report(t, 'dyno-garbage', {
    requestsSent: all.length,
    requestsFailed: all.filter((o) => o.status !== 200).length,
    linesSent: all.length,
    linesDelivered: all.filter((o) => lines.has(o.id)).length,
    linesDroppedReported: 0,
    mixedRequests: mixedOut.length,
    mixedStatuses: byStatus(mixedOut),
    onlyGarbageRequests: badOut.length,
    onlyGarbageStatuses: byStatus(badOut),
    garbageConnections: garbage.connections,
  });
});

t.test('malformed after valid headers, conflicting Content-Length: 503 H17, logged', async (t) => {
  let kind = 0;
  const garbage = await startRawDyno((sock) => {
    const text = GARBAGE_AFTER_HEAD[kind++ % GARBAGE_AFTER_HEAD.length];
    sock.once('data', () => sock.write(text, 'latin1'));
  });
  t.teardown(() => garbage.close());
  const router = await startRouterProcess(t, writeConfig(baseConfig({ apps: { bad: { dynos: [garbage.address] } } })));
  const load = new LoadLoop({ origin: `http://127.0.0.1:${router.ports.http}`, host: 'bad.example.io', concurrency: 1, idPrefix: 'after-head' });
  const out = [];
  for (let i = 0; i < 4 * GARBAGE_AFTER_HEAD.length; i++) out.push(await load.once(i));
  await until(() => router.lines.length >= out.length, 20000, 'an access line for every request');
  const lines = linesById(router.lines);
  for (const o of out) {
    const l = lines.get(o.id);
    t.ok(o.status === 503 && o.body === H17_BODY && l?.code === 'H17' && l.status === 503,
      `${o.id} (${JSON.stringify(GARBAGE_AFTER_HEAD[Number(o.id.split('-').pop()) % GARBAGE_AFTER_HEAD.length].slice(17, 60))}): client ${o.status} ${o.error ?? ''} ${o.body.trim()} | ${l?.raw}`);
  }
});
