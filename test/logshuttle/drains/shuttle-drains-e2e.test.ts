// End to end through the spawned shuttle: drain API, syslog TCP ingest -> drains, L14 in the tail,
// SIGTERM flush.
import t from 'tap';
import { startShuttle } from '../helpers/shuttle-process.js';
import { httpRequest } from '../helpers/http-client.js';
import { sendTcp, syslogFrame } from '../helpers/send.js';
import { fixture, parseSyslog, startStreamReceiver, waitFor } from './receivers.js';

// spawned processes on a loaded 2-core machine: more than tap's default 120 s per file
t.setTimeout(600_000);

const FIXTURE_CA = new URL('../../fixtures/drains/ca.pem', import.meta.url).pathname;

async function logsOf(base: string, app: string): Promise<string[]> {
  const r = await httpRequest(`${base}/apps/${app}/logs?lines=1500`);
  return r.body.split('\n').filter((l) => l !== '');
}

t.test('drain API: POST, GET, DELETE; lines from the syslog TCP ingest reach the drain', async (t) => {
  const rx = await startStreamReceiver();
  t.teardown(() => rx.close());
  const sh = await startShuttle(t);
  const json = { 'content-type': 'application/json' };
  const bad = await httpRequest(`${sh.base}/apps/web/drains`, { method: 'POST', headers: json, body: JSON.stringify({ url: 'ftp://x.example' }) });
  t.equal(bad.status, 400);
  t.match(bad.body, /E_DRAIN_URL/);
  t.match(bad.body, /unsupported scheme/);
  const created = await httpRequest(`${sh.base}/apps/web/drains`, { method: 'POST', headers: json, body: JSON.stringify({ url: `syslog://127.0.0.1:${rx.port}` }) });
  t.equal(created.status, 201);
  const drain = JSON.parse(created.body) as { id: string; url: string };
  t.equal(drain.url, `syslog://127.0.0.1:${rx.port}`);
  const listed = await httpRequest(`${sh.base}/apps/web/drains`);
  t.same(JSON.parse(listed.body), [drain]);

  await sendTcp(sh.ports.syslog_tcp!,
    syslogFrame('web', 'web.1', 'hello ✓ ünïcödé 🎉') +
    syslogFrame('web', 'router', 'at=error code=H12 desc="Request timeout"', 'akkeris') +
    syslogFrame('other', 'web.1', 'not for this drain'));
  await waitFor(() => rx.messages.length >= 2, 'two lines at the drain');
  const [a, b] = rx.messages.map(parseSyslog);
  t.same([a.pri, a.hostname, a.appName, a.procid, a.msg], [14, 'web', 'app', 'web.1', 'hello ✓ ünïcödé 🎉']);
  t.same([b.pri, b.hostname, b.appName, b.procid, b.msg], [11, 'web', 'akkeris', 'router', 'at=error code=H12 desc="Request timeout"']);
  t.match(a.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

  const metrics = await httpRequest(`${sh.base}/metrics`);
  t.match(metrics.body, new RegExp(`edgeplane_shuttle_drain_delivered_total\\{app="web",drain="${drain.id}",scheme="syslog\\+tcp"\\} 2`));

  const del = await httpRequest(`${sh.base}/apps/web/drains/${drain.id}`, { method: 'DELETE' });
  t.equal(del.status, 204);
  t.same(JSON.parse((await httpRequest(`${sh.base}/apps/web/drains`)).body), []);
  t.equal((await httpRequest(`${sh.base}/apps/web/drains/${drain.id}`, { method: 'DELETE' })).status, 404);
  await sendTcp(sh.ports.syslog_tcp!, syslogFrame('web', 'web.1', 'after delete'));
  await waitFor(async () => (await logsOf(sh.base, 'web')).some((l) => l.endsWith('after delete')), 'the line in the tail');
  t.equal(rx.messages.length, 2, 'nothing more at the removed drain');
});

t.test('syslog+tls drains in the spawned shuttle: NODE_EXTRA_CA_CERTS trusted; a wrong name gives L14 in the tail', async (t) => {
  const good = await startStreamReceiver({ tls: { key: fixture('localhost.key'), cert: fixture('localhost.pem') } });
  const wrong = await startStreamReceiver({ tls: { key: fixture('other.key'), cert: fixture('other.pem') } });
  t.teardown(async () => {
    await good.close();
    await wrong.close();
  });
  const sh = await startShuttle(t, {
    drains: { good: [`syslog+tls://localhost:${good.port}`], wrong: [`syslog+tls://localhost:${wrong.port}`] },
  }, { NODE_EXTRA_CA_CERTS: FIXTURE_CA });
  await sendTcp(sh.ports.syslog_tcp!, syslogFrame('good', 'web.1', 'to a verified drain') + syslogFrame('wrong', 'web.1', 'must not leave'));
  await waitFor(() => good.messages.length >= 1, 'the verified drain got the line');
  t.equal(parseSyslog(good.messages[0]).msg, 'to a verified drain');
  await waitFor(async () => (await logsOf(sh.base, 'wrong')).some((l) => / wrong akkeris\/platform: Error L14 \(certificate validation error\): ERR_TLS_CERT_ALTNAME_INVALID /.test(l)), 'L14 in the tail');
  t.equal(wrong.messages.length, 0, 'nothing sent to the drain with the wrong certificate');
});

t.test('SIGTERM: the shuttle flushes what it holds to a drain that was stalled, then exits 0', async (t) => {
  const rx = await startStreamReceiver({ stall: true });
  t.teardown(() => rx.close());
  const sh = await startShuttle(t, { drainBuffer: 100000, drains: { flush: [`syslog://127.0.0.1:${rx.port}`] } });
  const N = 20000;
  const pad = 'z'.repeat(500);
  let data = '';
  for (let i = 0; i < N; i++) data += syslogFrame('flush', 'web.1', `n${i} ${pad}`);
  await sendTcp(sh.ports.syslog_tcp!, data);
  await waitFor(async () => (await logsOf(sh.base, 'flush')).some((l) => l.includes(`n${N - 1} `)), 'every line ingested', 20_000);
  const held = await httpRequest(`${sh.base}/metrics`);
  t.match(held.body, /edgeplane_shuttle_drain_queue_depth\{app="flush",[^}]*\} [1-9]\d*/, 'lines still held by the shuttle at SIGTERM');
  const exited = sh.stop('SIGTERM');
  await new Promise((r) => setTimeout(r, 200));
  rx.resume();
  const code = await exited;
  t.equal(code, 0, 'exit code 0');
  await waitFor(() => rx.messages.length >= N, `${N} lines at the drain`, 15_000);
  const nums = rx.messages.map((m) => Number(/^n(\d+) /.exec(parseSyslog(m).msg)![1]));
  t.equal(nums.length, N, 'every line, no L10');
  t.ok(nums.every((n, i) => n === i), 'in order');
  t.same(rx.errors, []);
});

t.test('syslog ingest to a drain: canonical messages pass through byte for byte; others are re-encoded', async (t) => {
  const rx = await startStreamReceiver();
  t.teardown(() => rx.close());
  const sh = await startShuttle(t, { drains: { raw: [`syslog://127.0.0.1:${rx.port}`] } });
  const canonical = '<14>1 2026-11-25T10:00:00.123Z raw app web.1 - - passed through ✓';
  const frame = (m: Buffer): Buffer => Buffer.concat([Buffer.from(`${m.length} `), m]);
  const badUtf8 = Buffer.concat([Buffer.from('<14>1 2026-11-25T10:00:00.124Z raw app web.1 - - bad '), Buffer.from([0xff, 0xfe]), Buffer.from(' bytes')]);
  await sendTcp(sh.ports.syslog_tcp!, Buffer.concat([
    frame(Buffer.from(canonical)),
    frame(badUtf8),
    frame(Buffer.from('<14>1 2026-11-25T10:00:00.125+00:00 raw app web.1 - [sd@1 a="b"] other header')),
  ]));
  await waitFor(() => rx.raw.length >= 3, 'three lines at the drain');
  t.same(rx.raw[0], Buffer.from(canonical), 'the same bytes');
  t.equal(rx.messages[1], '<14>1 2026-11-25T10:00:00.124Z raw app web.1 - - bad \ufffd\ufffd bytes', 'invalid UTF-8 is never passed on: re-encoded as the tail shows it');
  t.equal(rx.messages[2], '<14>1 2026-11-25T10:00:00.125Z raw app web.1 - - other header', 'a different header: re-encoded');
});
