import t from 'tap';
import { line, makeManager, parseSyslog, startUdpReceiver, waitFor } from './receivers.js';

t.test('syslog UDP drain: one RFC5424 message per datagram, no octet count, ≤2,048 bytes', async (t) => {
  const rx = await startUdpReceiver();
  const h = makeManager();
  t.teardown(async () => {
    await h.manager.close(0);
    await rx.close();
  });
  h.manager.add('web', `syslog+udp://127.0.0.1:${rx.port}`);
  const long = 'é'.repeat(1500); // 3,000 bytes
  const recs = [
    line('web', 'hello over udp'),
    line('web', 'ünïcödé ✓', { stream: 'stderr', process: 'worker.1' }),
    line('web', long),
  ];
  for (const r of recs) h.manager.deliver(r);
  await waitFor(() => rx.datagrams.length >= 3, '3 datagrams');
  const texts = rx.datagrams.map((d) => d.toString('utf8'));
  const a = parseSyslog(texts[0]);
  t.same([a.pri, a.hostname, a.appName, a.procid, a.msg], [14, 'web', 'app', 'web.1', 'hello over udp']);
  t.equal(a.timestamp, new Date(recs[0].time).toISOString());
  const b = parseSyslog(texts[1]);
  t.same([b.pri, b.procid, b.msg], [11, 'worker.1', 'ünïcödé ✓']);
  t.ok(rx.datagrams.every((d) => d.length <= 2048), 'every datagram ≤ 2,048 bytes');
  const c = rx.datagrams[2];
  t.ok(c.length >= 2046, 'the long line fills the datagram');
  t.equal(Buffer.from(c.toString('utf8'), 'utf8').length, c.length, 'cut on a UTF-8 character boundary');
  t.ok(long.startsWith(parseSyslog(texts[2]).msg), 'a prefix of the line');
  const m = await h.registry.metrics();
  t.match(m, /edgeplane_shuttle_drain_truncated_total\{app="web",[^}]*\} 1/);
  t.match(m, /edgeplane_shuttle_drain_delivered_total\{app="web",[^}]*\} 3/);
});

t.test('syslog UDP drain: a run of frames handed over at once still goes one message per datagram', async (t) => {
  const rx = await startUdpReceiver();
  const h = makeManager();
  t.teardown(async () => {
    await h.manager.close(0);
    await rx.close();
  });
  h.manager.add('web', `syslog+udp://127.0.0.1:${rx.port}`);
  const msgs = ['<14>1 2026-11-25T10:00:00.000Z web app web.1 - - one', '<14>1 2026-11-25T10:00:00.001Z web app web.1 - - two',
    '<11>1 2026-11-25T10:00:00.002Z web app web.2 - - three'];
  const run = Buffer.from(msgs.map((m) => `${m.length} ${m}`).join(''));
  h.manager.deliverCanonicalRun('web', run, 0, run.length, 3);
  h.manager.deliverCanonical('web', Buffer.from(`x${msgs[0]}`), 1, msgs[0].length + 1);
  await waitFor(() => rx.datagrams.length >= 4, '4 datagrams', 30_000);
  t.same(rx.datagrams.map((d) => d.toString('utf8')), [...msgs, msgs[0]]);
  await waitFor(async () => /edgeplane_shuttle_drain_delivered_total\{app="web",[^}]*\} 4/.test(await h.registry.metrics()), 'delivered 4', 30_000);
});
