import t from 'tap';
import { line, makeManager, parseSyslog, startStreamReceiver, waitFor } from './receivers.js';
import { deadAddress } from '../../support/router-harness.js';

t.test('syslog TCP drain: RFC5424 fields, octet counting, multi-byte UTF-8', async (t) => {
  const rx = await startStreamReceiver();
  const h = makeManager();
  t.teardown(async () => {
    await h.manager.close(0);
    await rx.close();
  });
  const info = h.manager.add('api-prod', `syslog://127.0.0.1:${rx.port}`);
  t.match(info, { id: /\S+/, url: `syslog://127.0.0.1:${rx.port}` });
  const recs = [
    line('api-prod', 'Entering api.getTheme for user 339910'),
    line('api-prod', 'boom: stack trace follows', { stream: 'stderr', process: 'worker.2' }),
    line('api-prod', 'at=info method=GET path=/ status=200', { source: 'router', process: 'router' }),
    line('api-prod', 'at=error code=H12 desc="Request timeout" status=503', { source: 'router', process: 'router' }),
    line('api-prod', 'Step 1/5 : FROM node:20', { source: 'build', process: 'build' }),
    line('api-prod', 'héllo wörld ✓ 🎉 日本語', { process: 'web.1562910588-cg82f' }),
    line('api-prod', 'two\nlines and a trailing space ', {}),
    line('api-prod', '', {}),
    line('api-prod', 'odd process', { process: 'we b\u00e9\u0001' + 'x'.repeat(200) }),
    line('other-app', 'not for this drain'),
  ];
  for (const r of recs) h.manager.deliver(r);
  await waitFor(() => rx.messages.length >= 9, '9 messages');
  t.same(rx.errors, [], 'every frame parsed with a byte-exact octet count');
  t.equal(rx.messages.length, 9);
  const got = rx.messages.map(parseSyslog);
  const expect = [
    [14, 'app', 'web.1'], [11, 'app', 'worker.2'], [14, 'akkeris', 'router'], [11, 'akkeris', 'router'],
    [14, 'akkeris', 'build'], [14, 'app', 'web.1562910588-cg82f'], [14, 'app', 'web.1'], [14, 'app', 'web.1'],
  ] as const;
  for (let i = 0; i < 8; i++) {
    const g = got[i];
    t.equal(g.pri, expect[i][0], `PRI of line ${i}`);
    t.equal(g.appName, expect[i][1], `APP-NAME of line ${i}`);
    t.equal(g.procid, expect[i][2], `PROCID of line ${i}`);
    t.equal(g.hostname, 'api-prod', 'HOSTNAME is the app');
    t.equal(g.timestamp, new Date(recs[i].time).toISOString(), 'TIMESTAMP');
    t.equal(g.msgid, '-');
    t.equal(g.sd, '-');
    t.equal(g.msg, recs[i].message, `MSG of line ${i} as received`);
  }
  t.equal(rx.raw[5].subarray(-27).toString('utf8'), recs[5].message.slice(-16), 'bytes are UTF-8 without a BOM');
  t.notOk(rx.raw.some((b) => b.includes(Buffer.from([0xef, 0xbb, 0xbf]))), 'no BOM');
  t.match(got[8].procid, /^[\x21-\x7e]{1,128}$/, 'PROCID sanitised to ≤128 printable ASCII');
  t.equal(got[8].procid.length, 128);
});

t.test('dead drain then revived: the first line is L10 with the exact count', async (t) => {
  // refused until the receiver starts there; a loopback address of this test's own: no other
  // process can take the port meanwhile
  const [host, portText] = (await deadAddress()).split(':');
  const port = Number(portText);
  const h = makeManager({ drainBuffer: 100 });
  let rx: Awaited<ReturnType<typeof startStreamReceiver>> | null = null;
  t.teardown(async () => {
    await h.manager.close(0);
    await rx?.close();
  });
  h.manager.add('app-a', `syslog+tcp://${host}:${port}`);
  const before = Date.now();
  for (let i = 0; i < 250; i++) h.manager.deliver(line('app-a', `line ${i}`));
  await waitFor(() => h.logs.some((l) => l.msg === 'drain unreachable'), 'a failed connection attempt');
  rx = await startStreamReceiver({ host, port });
  await waitFor(() => rx!.messages.length >= 101, '101 messages');
  const first = parseSyslog(rx.messages[0]);
  const m = /^Error L10 \(output buffer overflow\): (\d+) messages dropped since (\S+)$/.exec(first.msg);
  t.ok(m, `first line is L10: ${first.msg}`);
  t.equal(Number(m![1]), 150, 'exactly 150 dropped');
  const since = Date.parse(m![2]);
  t.ok(since >= before - 5 && since <= Date.now(), 'since is the time of the first drop');
  t.equal(m![2], new Date(since).toISOString(), 'ISO time with ms and Z');
  t.equal(first.appName, 'akkeris');
  t.equal(first.procid, 'platform');
  t.equal(first.hostname, 'app-a');
  const rest = rx.messages.slice(1).map((s) => parseSyslog(s).msg);
  t.same(rest, Array.from({ length: 100 }, (_, i) => `line ${150 + i}`), 'the newest 100 lines, in order');
  const metrics = await h.registry.metrics();
  t.match(metrics, /edgeplane_shuttle_drain_delivered_total\{app="app-a",drain="[^"]+",scheme="syslog\+tcp"\} 100/);
  t.match(metrics, /edgeplane_shuttle_drain_dropped_total\{app="app-a",drain="[^"]+",scheme="syslog\+tcp",reason="overflow"\} 150/);
  t.match(metrics, /edgeplane_shuttle_drain_connected\{app="app-a",drain="[^"]+",scheme="syslog\+tcp"\} 1/);
  t.match(metrics, /edgeplane_shuttle_drain_retries_total\{app="app-a",drain="[^"]+",scheme="syslog\+tcp"\} [1-9]/);
});

t.test('a peer that closed is detected and a new connection carries the next lines', async (t) => {
  const rx = await startStreamReceiver();
  const h = makeManager();
  t.teardown(async () => {
    await h.manager.close(0);
    await rx.close();
  });
  h.manager.add('app-c', `syslog://127.0.0.1:${rx.port}`);
  h.manager.deliver(line('app-c', 'before'));
  await waitFor(() => rx.messages.length === 1, 'first line');
  for (const s of rx.sockets) s.end();
  await waitFor(async () => /edgeplane_shuttle_drain_connected\{[^}]*\} 0/.test(await h.registry.metrics()), 'the drain to notice the closed peer');
  h.manager.deliver(line('app-c', 'after'));
  await waitFor(() => rx.messages.length === 2, 'second line');
  t.equal(parseSyslog(rx.messages[1]).msg, 'after');
  t.equal(rx.connections, 2, 'a new connection');
});

t.test('a stalled receiver (never reads) does not slow another app\'s drain; counts stay exact', async (t) => {
  const stalled = await startStreamReceiver({ stall: true });
  const rx = await startStreamReceiver();
  const h = makeManager({ drainBuffer: 500 });
  t.teardown(async () => {
    await h.manager.close(0);
    await stalled.close();
    await rx.close();
  });
  h.manager.add('slow-app', `syslog://127.0.0.1:${stalled.port}`);
  h.manager.add('fast-app', `syslog://127.0.0.1:${rx.port}`);
  const big = 'x'.repeat(2000);
  let sentSlow = 0;
  let sentFast = 0;
  for (let round = 0; round < 40; round++) {
    for (let i = 0; i < 500; i++) {
      h.manager.deliver(line('slow-app', `${sentSlow++} ${big}`));
    }
    for (let i = 0; i < 50; i++) h.manager.deliver(line('fast-app', `fast ${sentFast++}`));
    await new Promise((r) => setImmediate(r));
  }
  await waitFor(() => rx.messages.length >= sentFast, 'every line of the fast app');
  t.equal(rx.messages.length, sentFast, 'fast app: nothing lost, nothing extra');
  t.same(rx.messages.map((m) => parseSyslog(m).msg), Array.from({ length: sentFast }, (_, i) => `fast ${i}`));
  t.equal(stalled.messages.length, 0, 'the stalled receiver has read nothing yet');
  const m1 = await h.registry.metrics();
  t.match(m1, /edgeplane_shuttle_drain_dropped_total\{app="slow-app",[^}]*reason="overflow"\} [1-9]/, 'the slow drain dropped lines');
  t.match(m1, /edgeplane_shuttle_drain_dropped_total\{app="fast-app",[^}]*reason="overflow"\} 0/, 'the fast one none');
  // now let the stalled receiver read: app lines received + lines reported by L10 = lines sent
  stalled.resume();
  h.manager.deliver(line('slow-app', 'last'));
  sentSlow++;
  await waitFor(() => stalled.messages.length > 0 && parseSyslog(stalled.messages[stalled.messages.length - 1]).msg === 'last', 'the last slow line', 20_000);
  let appLines = 0;
  let reported = 0;
  for (const text of stalled.messages) {
    const s = parseSyslog(text);
    const l10 = /^Error L10 \(output buffer overflow\): (\d+) messages dropped since /.exec(s.msg);
    if (l10) reported += Number(l10[1]);
    else appLines++;
  }
  t.ok(reported > 0, 'an L10 line reported drops');
  t.equal(appLines + reported, sentSlow, `delivered (${appLines}) + reported dropped (${reported}) = sent (${sentSlow})`);
  t.same(stalled.errors, []);
});

t.test('long-lived connections are recycled without losing or reordering lines', async (t) => {
  const rx = await startStreamReceiver();
  const h = makeManager({ tuning: { recycleMs: 30 } });
  t.teardown(async () => {
    await h.manager.close(0);
    await rx.close();
  });
  h.manager.add('recycle', `syslog://127.0.0.1:${rx.port}`);
  let sent = 0;
  for (let round = 0; round < 5; round++) {
    for (let i = 0; i < 200; i++) h.manager.deliver(line('recycle', `r${sent++}`));
    await waitFor(() => rx.messages.length === sent, `${sent} lines`);
    await new Promise((r) => setTimeout(r, 40)); // older than recycleMs by the next round
  }
  t.ok(rx.connections >= 3, `connections were recycled (${rx.connections})`);
  t.same(rx.messages.map((m) => parseSyslog(m).msg), Array.from({ length: sent }, (_, i) => `r${i}`), 'every line once, in order');
});
