import t from 'tap';
import { fixture, line, makeManager, parseSyslog, splitOctetCounted, startHttpReceiver, waitFor, type HttpRequestSeen } from './receivers.js';

const serverTls = { key: fixture('localhost.key'), cert: fixture('localhost.pem') };

function framesOf(req: HttpRequestSeen): string[] {
  const { messages, rest } = splitOctetCounted(req.body);
  if (rest.length !== 0) throw new Error('trailing bytes in body');
  return messages.map((m) => m.toString('utf8'));
}

t.test('HTTPS drain: logplex batch with headers, basic auth and octet-counted frames', async (t) => {
  const rx = await startHttpReceiver({ tls: serverTls });
  const h = makeManager();
  t.teardown(async () => {
    await h.manager.close(0);
    await rx.close();
  });
  const info = h.manager.add('api-prod', `https://user:p%40ss@localhost:${rx.port}/logs?src=edge`);
  const recs = [
    line('api-prod', 'first'),
    line('api-prod', 'ünïcödé ✓ 🎉', { stream: 'stderr' }),
    line('api-prod', 'at=info method=GET path=/ status=200', { source: 'router', process: 'router' }),
  ];
  for (const r of recs) h.manager.deliver(r);
  await waitFor(() => rx.requests.length >= 1, 'a POST');
  const req = rx.requests[0];
  t.equal(req.method, 'POST');
  t.equal(req.url, '/logs?src=edge');
  t.equal(req.headers['content-type'], 'application/logplex-1');
  t.equal(req.headers['logplex-msg-count'], '3');
  t.match(req.headers['logplex-frame-id'], /^[0-9a-f-]{36}$/);
  t.equal(req.headers['logplex-drain-token'], `d.${info.id}`);
  t.equal(req.headers.authorization, 'Basic ' + Buffer.from('user:p@ss').toString('base64'));
  const frames = framesOf(req).map(parseSyslog);
  t.same(frames.map((f) => f.msg), recs.map((r) => r.message));
  t.same(frames.map((f) => [f.pri, f.hostname, f.appName, f.procid]), [[14, 'api-prod', 'app', 'web.1'], [11, 'api-prod', 'app', 'web.1'], [14, 'api-prod', 'akkeris', 'router']]);
  t.same(frames.map((f) => f.timestamp), recs.map((r) => new Date(r.time).toISOString()));
  await waitFor(async () => /edgeplane_shuttle_drain_delivered_total\{app="api-prod",[^}]*\} 3/.test(await metricsOf(h)), 'delivered metric');
});

let metricsText = '';
async function metricsOf(h: ReturnType<typeof makeManager>): Promise<string> {
  metricsText = await h.registry.metrics();
  return metricsText;
}

t.test('HTTPS drain: a 4xx drops the batch (counted) and the next batch goes', async (t) => {
  const rx = await startHttpReceiver({ tls: serverTls });
  rx.respond = (_req, n) => (n === 0 ? 400 : 200);
  const h = makeManager();
  t.teardown(async () => {
    await h.manager.close(0);
    await rx.close();
  });
  h.manager.add('app4', `https://localhost:${rx.port}/`);
  for (let i = 0; i < 3; i++) h.manager.deliver(line('app4', `refused ${i}`));
  await waitFor(() => rx.requests.length >= 1, 'the first POST');
  h.manager.deliver(line('app4', 'accepted'));
  await waitFor(() => rx.requests.length >= 2, 'the second POST');
  t.same(framesOf(rx.requests[1]).map((f) => parseSyslog(f).msg), ['accepted'], 'the refused batch is not sent again');
  t.notOk(rx.requests[0].headers.authorization, 'no auth without user-info');
  await waitFor(async () => /edgeplane_shuttle_drain_dropped_total\{app="app4",[^}]*reason="rejected"\} 3/.test(await metricsOf(h)), 'rejected metric 3');
  t.ok(h.logs.some((l) => l.msg === 'drain refused a batch; dropped' && l.status === 400), 'program log');
});

t.test('HTTPS drain: 429 and 5xx are retried with the same Logplex-Frame-Id and body', async (t) => {
  const rx = await startHttpReceiver({ tls: serverTls });
  const statuses = [429, 503, 500, 200];
  rx.respond = (_req, n) => statuses[n] ?? 200;
  const h = makeManager();
  t.teardown(async () => {
    await h.manager.close(0);
    await rx.close();
  });
  h.manager.add('app5', `https://localhost:${rx.port}/drain`);
  for (let i = 0; i < 5; i++) h.manager.deliver(line('app5', `line ${i}`));
  await waitFor(() => rx.requests.length >= 4, '4 attempts');
  const ids = rx.requests.slice(0, 4).map((r) => r.headers['logplex-frame-id']);
  t.equal(new Set(ids).size, 1, 'same frame id on every retry');
  t.ok(rx.requests.slice(1, 4).every((r) => r.body.equals(rx.requests[0].body)), 'same body');
  t.same(framesOf(rx.requests[3]).map((f) => parseSyslog(f).msg), ['line 0', 'line 1', 'line 2', 'line 3', 'line 4']);
  await waitFor(async () => /edgeplane_shuttle_drain_delivered_total\{app="app5",[^}]*\} 5/.test(await metricsOf(h)), 'delivered 5');
  t.match(metricsText, /edgeplane_shuttle_drain_retries_total\{app="app5",[^}]*\} 3/);
  t.match(metricsText, /edgeplane_shuttle_drain_dropped_total\{app="app5",[^}]*reason="rejected"\} 0/);
});

t.test('HTTP drain: plain http works; overflow while the collector is down is reported by L10', async (t) => {
  const rx = await startHttpReceiver();
  let down = true;
  rx.respond = () => (down ? 503 : 200);
  const h = makeManager({ drainBuffer: 10, tuning: { httpBatchLines: 5 } });
  t.teardown(async () => {
    await h.manager.close(0);
    await rx.close();
  });
  h.manager.add('app6', `http://127.0.0.1:${rx.port}/`);
  for (let i = 0; i < 5; i++) h.manager.deliver(line('app6', `early ${i}`));
  await waitFor(() => rx.requests.length >= 1, 'a first attempt'); // batch of 5 is now in flight
  for (let i = 0; i < 30; i++) h.manager.deliver(line('app6', `late ${i}`));
  down = false;
  await waitFor(() => rx.requests.filter((r) => r.status === 200).length >= 3, 'the three batches delivered');
  await waitFor(async () => h.manager.list('app6').length === 1 && /edgeplane_shuttle_drain_queue_depth\{app="app6",[^}]*\} 0/.test(await metricsOf(h)), 'an empty queue');
  const msgs = rx.requests.filter((r) => r.status === 200).flatMap((r) => framesOf(r).map((f) => parseSyslog(f).msg));
  t.same(msgs[0], 'early 0');
  const l10 = msgs.find((m) => m.startsWith('Error L10'));
  t.match(l10, /^Error L10 \(output buffer overflow\): 20 messages dropped since \S+Z$/);
  const appLines = msgs.filter((m) => !m.startsWith('Error L10'));
  t.same(appLines, [...Array.from({ length: 5 }, (_, i) => `early ${i}`), ...Array.from({ length: 10 }, (_, i) => `late ${20 + i}`)]);
});

t.test('an HTTPS drain whose certificate names another host gets nothing; L14', async (t) => {
  const rx = await startHttpReceiver({ tls: { key: fixture('other.key'), cert: fixture('other.pem') } });
  const h = makeManager();
  t.teardown(async () => {
    await h.manager.close(0);
    await rx.close();
  });
  h.manager.add('app7', `https://localhost:${rx.port}/`);
  h.manager.deliver(line('app7', 'secret'));
  await waitFor(() => h.platformLines.length >= 1, 'L14');
  t.match(h.platformLines[0], { app: 'app7', source: 'platform', message: /^Error L14 \(certificate validation error\): ERR_TLS_CERT_ALTNAME_INVALID / });
  t.equal(rx.requests.length, 0, 'nothing received');
});
