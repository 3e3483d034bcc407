import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { DrainUrlError } from '../../../logshuttle/drains/drain-url.js';
import { line, makeManager, parseSyslog, startStreamReceiver, startUdpReceiver, waitFor } from './receivers.js';

t.test('add / list / remove; bad URLs throw E_DRAIN_URL; add is idempotent per URL', async (t) => {
  const h = makeManager();
  t.teardown(() => h.manager.close(0));
  const a = h.manager.add('app', 'syslog+tls://logs.example.com:6514');
  const b = h.manager.add('app', 'https://user:pass@collector.example.com/logs');
  t.not(a.id, b.id);
  t.same(h.manager.list('app'), [a, b]);
  t.same(h.manager.add('app', 'syslog+tls://logs.example.com:6514'), a, 'same URL, same drain');
  t.same(h.manager.list('other'), []);
  let caught: unknown = null;
  try {
    h.manager.add('app', 'ftp://x.example');
  } catch (err) {
    caught = err;
  }
  t.ok(caught instanceof DrainUrlError, 'DrainUrlError');
  t.equal((caught as DrainUrlError).code, 'E_DRAIN_URL');
  t.match((caught as Error).message, /unsupported scheme "ftp:"/);
  t.equal(h.manager.remove('app', a.id), true);
  t.equal(h.manager.remove('app', a.id), false);
  t.equal(h.manager.remove('nope', b.id), false);
  t.same(h.manager.list('app'), [b]);
});

t.test('a removed drain gets no more lines', async (t) => {
  const rx = await startUdpReceiver();
  const h = makeManager();
  t.teardown(async () => {
    await h.manager.close(0);
    await rx.close();
  });
  const d = h.manager.add('rm', `syslog+udp://127.0.0.1:${rx.port}`);
  h.manager.deliver(line('rm', 'one'));
  await waitFor(() => rx.datagrams.length === 1, 'first datagram');
  h.manager.remove('rm', d.id);
  h.manager.deliver(line('rm', 'two'));
  const marker = await startUdpReceiver();
  t.teardown(() => marker.close());
  h.manager.add('rm2', `syslog+udp://127.0.0.1:${marker.port}`);
  h.manager.deliver(line('rm2', 'marker'));
  await waitFor(() => marker.datagrams.length === 1, 'a later line on another drain');
  t.equal(rx.datagrams.length, 1, 'nothing after removal');
});

t.test('one app, several drains: each gets every line', async (t) => {
  const r1 = await startStreamReceiver();
  const r2 = await startUdpReceiver();
  const h = makeManager();
  t.teardown(async () => {
    await h.manager.close(0);
    await r1.close();
    await r2.close();
  });
  h.manager.add('multi', `syslog://127.0.0.1:${r1.port}`);
  h.manager.add('multi', `syslog+udp://127.0.0.1:${r2.port}`);
  for (let i = 0; i < 20; i++) h.manager.deliver(line('multi', `m${i}`));
  await waitFor(() => r1.messages.length === 20 && r2.datagrams.length === 20, 'both drains');
  t.same(r1.messages.map((m) => parseSyslog(m).msg), r2.datagrams.map((d) => parseSyslog(d.toString()).msg));
});

t.test('close(deadline) flushes queued lines to reachable drains and gives up on unreachable ones', async (t) => {
  const rx = await startStreamReceiver();
  const h = makeManager();
  t.teardown(() => rx.close());
  h.manager.add('flush', `syslog://127.0.0.1:${rx.port}`);
  h.manager.add('flush', 'syslog://127.0.0.1:1'); // refused
  for (let i = 0; i < 3000; i++) h.manager.deliver(line('flush', `f${i} ${'y'.repeat(100)}`));
  await h.manager.close(8000);
  t.equal(rx.messages.length, 1025, 'the L10 line and everything the bounded queue held');
  t.equal(parseSyslog(rx.messages[rx.messages.length - 1]).msg.split(' ')[0], 'f2999', 'up to the last line');
  t.match(parseSyslog(rx.messages[0]).msg, /^Error L10 \(output buffer overflow\): 1976 messages dropped since /);
});

t.test('state file: drains survive a restart; the file is written atomically', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'drains-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const stateFile = join(dir, 'sub', 'drains.json');
  const h1 = makeManager({ stateFile });
  const a = h1.manager.add('app1', 'syslog+tls://logs.example.com:6514');
  const b = h1.manager.add('app2', 'https://u:p@collector.example.com/x');
  const c = h1.manager.add('app2', 'syslog+udp://10.0.0.1:514');
  h1.manager.remove('app2', c.id);
  await h1.manager.close(0);
  const doc = JSON.parse(readFileSync(stateFile, 'utf8'));
  t.same(doc, { version: 1, drains: { app1: [a], app2: [b] } });
  const h2 = makeManager({ stateFile });
  t.teardown(() => h2.manager.close(0));
  t.same(h2.manager.list('app1'), [a], 'same id and URL after restart');
  t.same(h2.manager.list('app2'), [b]);
  t.same(h2.manager.add('app1', 'syslog+tls://logs.example.com:6514'), a, 're-adding a config drain keeps its id');

  writeFileSync(join(dir, 'bad.json'), '{nope');
  const h3 = makeManager({ stateFile: join(dir, 'bad.json') });
  t.teardown(() => h3.manager.close(0));
  t.same(h3.manager.list('app1'), []);
  t.ok(h3.logs.some((l) => l.msg === 'drain state file malformed; starting without it'));
});

t.test('deliver never throws, even for a record that cannot be encoded', async (t) => {
  const h = makeManager();
  t.teardown(() => h.manager.close(0));
  h.manager.add('x', 'syslog://127.0.0.1:1');
  t.doesNotThrow(() => h.manager.deliver({ app: 'x', source: 'app', process: 'p', stream: 'stdout', time: NaN, message: 'm' }));
  t.doesNotThrow(() => h.manager.deliver(null as never));
});

t.test('deliverRaw passes canonical messages through and encodes the others', async (t) => {
  const rx = await startStreamReceiver();
  const h = makeManager();
  t.teardown(async () => {
    await h.manager.close(0);
    await rx.close();
  });
  h.manager.add('raw', `syslog://127.0.0.1:${rx.port}`);
  const rec = line('raw', 'as received ✓');
  const canonical = `<14>1 ${new Date(rec.time).toISOString()} raw app web.1 - - as received ✓`;
  h.manager.deliverRaw(rec, Buffer.from(canonical));
  const other = line('raw', 'sent by rsyslog');
  h.manager.deliverRaw(other, Buffer.from(`<14>1 ${new Date(other.time).toISOString()} raw app web.1 - [meta x="1"] sent by rsyslog\n`));
  h.manager.deliverRaw(line('nodrain', 'x'), Buffer.from('<14>1 - nodrain app web.1 - - x'));
  await waitFor(() => rx.messages.length >= 2, 'two lines');
  t.equal(rx.messages[0], canonical, 'byte for byte');
  t.equal(rx.messages[1], `<14>1 ${new Date(other.time).toISOString()} raw app web.1 - - sent by rsyslog`, 're-encoded');
});
