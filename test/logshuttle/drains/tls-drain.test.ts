import t from 'tap';
import { fixture, line, makeManager, parseSyslog, startStreamReceiver, waitFor } from './receivers.js';

t.test('syslog+tls drain: verified certificate, octet-counted RFC5424 over TLS', async (t) => {
  const rx = await startStreamReceiver({ tls: { key: fixture('localhost.key'), cert: fixture('localhost.pem') } });
  const h = makeManager();
  t.teardown(async () => {
    await h.manager.close(0);
    await rx.close();
  });
  h.manager.add('secure-app', `syslog+tls://localhost:${rx.port}`);
  const recs = [
    line('secure-app', 'over tls ✓ ünïcödé 🎉'),
    line('secure-app', 'at=error code=H10 desc="App crashed"', { source: 'router', process: 'router' }),
  ];
  for (const r of recs) h.manager.deliver(r);
  await waitFor(() => rx.messages.length >= 2, '2 messages over TLS');
  t.same(rx.errors, []);
  const [a, b] = rx.messages.map(parseSyslog);
  t.same([a.pri, a.timestamp, a.hostname, a.appName, a.procid, a.msgid, a.sd, a.msg],
    [14, new Date(recs[0].time).toISOString(), 'secure-app', 'app', 'web.1', '-', '-', recs[0].message]);
  t.same([b.pri, b.appName, b.procid, b.msg], [11, 'akkeris', 'router', recs[1].message]);
  t.equal(h.platformLines.length, 0, 'no L14');
});

t.test('syslog+tls drain by IP address: the IP SAN verifies', async (t) => {
  const rx = await startStreamReceiver({ tls: { key: fixture('localhost.key'), cert: fixture('localhost.pem') } });
  const h = makeManager();
  t.teardown(async () => {
    await h.manager.close(0);
    await rx.close();
  });
  h.manager.add('ip-app', `syslog+tls://127.0.0.1:${rx.port}`);
  h.manager.deliver(line('ip-app', 'by ip'));
  await waitFor(() => rx.messages.length >= 1, 'a message');
  t.equal(parseSyslog(rx.messages[0]).msg, 'by ip');
});

t.test('a TLS drain whose certificate names another host gets nothing; L14 in the app stream', async (t) => {
  const rx = await startStreamReceiver({ tls: { key: fixture('other.key'), cert: fixture('other.pem') } });
  const h = makeManager();
  t.teardown(async () => {
    await h.manager.close(0);
    await rx.close();
  });
  h.manager.add('victim', `syslog+tls://localhost:${rx.port}`);
  for (let i = 0; i < 10; i++) h.manager.deliver(line('victim', `secret ${i}`));
  await waitFor(() => h.platformLines.length >= 1, 'an L14 platform line');
  await waitFor(() => h.logs.filter((l) => l.code === 'ERR_TLS_CERT_ALTNAME_INVALID').length >= 2, 'a retry that fails again');
  t.equal(h.platformLines.length, 1, 'L14 is rate-limited, not one per retry');
  t.equal(rx.messages.length, 0, 'nothing reached the receiver');
  t.same(rx.errors.filter((e) => !/tlsClientError/.test(e)), []);
  const l14 = h.platformLines[0];
  t.match(l14, { app: 'victim', source: 'platform' });
  t.match(l14.message, /^Error L14 \(certificate validation error\): ERR_TLS_CERT_ALTNAME_INVALID for drain syslog\+tls:\/\/localhost:\d+/);
  t.ok(h.logs.some((l) => l.msg === 'drain certificate verification failed; nothing sent, will retry' && l.code === 'ERR_TLS_CERT_ALTNAME_INVALID'), 'program log');
  const m = await h.registry.metrics();
  t.match(m, /edgeplane_shuttle_drain_connected\{app="victim",[^}]*\} 0/);
  t.match(m, /edgeplane_shuttle_drain_queue_depth\{app="victim",[^}]*\} 10/, 'the lines wait in the queue');
});

t.test('a TLS drain signed by an unknown CA gets nothing', async (t) => {
  const rx = await startStreamReceiver({ tls: { key: fixture('localhost.key'), cert: fixture('localhost.pem') } });
  const h = makeManager({ tuning: { tls: {} } }); // system CAs only: the test CA is unknown
  t.teardown(async () => {
    await h.manager.close(0);
    await rx.close();
  });
  h.manager.add('victim2', `syslog+tls://localhost:${rx.port}`);
  h.manager.deliver(line('victim2', 'secret'));
  await waitFor(() => h.platformLines.length >= 1, 'an L14 platform line');
  t.match(h.platformLines[0].message, /^Error L14 \(certificate validation error\): (UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY|SELF_SIGNED_CERT_IN_CHAIN) /);
  t.equal(rx.messages.length, 0);
});
