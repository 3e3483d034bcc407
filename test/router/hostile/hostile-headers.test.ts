import { connect, type Socket } from 'node:net';
import t from 'tap';
import { until } from '../../support/router-harness.js';
import { rawSend } from './support/raw-client.js';
import { router, requests, HOST, lineOf, ok, useRecordingRig } from './support/recording-rig.js';

// Hostile requests against the real router process: header injection, Host tricks, forged
// X-Forwarded-For, and many idle connections (docs/router/operations.md, Limits of the uWebSockets.js build).

useRecordingRig(t);

t.test('CRLF injection: encoded CR/LF in paths (rewritten or not) and queries never become header lines', async (t) => {
  const cases: [string, string, string, string][] = [
    ['crlf-app', 'sink.example.io', '/x%0d%0aX-Injected:%20yes', '/x%0D%0AX-Injected:%20yes'],
    ['crlf-site', 'www.example.com', '/v3/api/x%0D%0AX-Injected:%20yes%0d%0a%0d%0aGET%20/evil', '/api/x%0D%0AX-Injected:%20yes%0D%0A%0D%0AGET%20/evil'],
    ['crlf-lf', 'www.example.com', '/v3/api/a%0aX-Injected:%20yes', '/api/a%0AX-Injected:%20yes'],
    ['crlf-query', 'sink.example.io', '/q?a=%0d%0aX-Injected:%20yes', '/q?a=%0d%0aX-Injected:%20yes'],
  ];
  // uWS never completes this head: it closes at its idle timeout; the other cases run meanwhile
  const rawCr = rawSend(router.ports.http, `GET /x HTTP/1.1\r\n${HOST}X-A: a\rX-Injected: yes\r\nX-Request-Id: crlf-raw-cr\r\n\r\n`, { timeoutMs: 45000 });
  for (const [id, host, path, expected] of cases) {
    const got = await rawSend(router.ports.http, `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nX-Request-Id: ${id}\r\n\r\n`);
    t.equal(got.status, 200, `${id}: served`);
    const seen = requests.get(id)!;
    t.equal(seen.url, expected, `${id}: the dyno gets the escapes, still escaped`);
    t.notOk('x-injected' in seen.headers, `${id}: no injected header`);
  }
  const raw = await rawCr;
  t.equal(raw.status, 0, 'a bare CR inside a header value: no status');
  t.ok(raw.closed, 'and closed');
  t.notOk(requests.has('crlf-raw-cr'));
});

t.test('Host header tricks', async (t) => {
  // uWS never answers an absolute-form target: it closes at its idle timeout; the rest runs meanwhile
  const absolutePending = rawSend(router.ports.http, `GET http://evil.example.net/h HTTP/1.1\r\n${HOST}X-Request-Id: host-absolute\r\n\r\n`, { timeoutMs: 45000 });
  const routed: [string, string][] = [
    ['host-port', 'sink.example.io:8080'],
    ['host-dot', 'sink.example.io.'],
    ['host-upper', 'SINK.Example.IO'],
    ['host-all', 'SINK.EXAMPLE.IO.:80'],
  ];
  for (const [id, host] of routed) {
    const got = await rawSend(router.ports.http, `GET /h HTTP/1.1\r\nHost: ${host}\r\nX-Request-Id: ${id}\r\n\r\n`);
    t.equal(got.status, 200, `${host}: routed to the app`);
    t.equal(requests.get(id)?.headers['x-forwarded-host'], host, `${host}: X-Forwarded-Host as sent`);
  }
  const refused: [string, string][] = [
    ['host-two', `Host: sink.example.io\r\nHost: evil.example.net`],
    ['host-two-same', `Host: sink.example.io\r\nHost: sink.example.io`],
    ['host-empty', 'Host:'],
    ['host-userinfo', 'Host: sink.example.io:@evil.example.net'],
    ['host-path', 'Host: sink.example.io/evil'],
    ['host-port-letters', 'Host: sink.example.io:80x'],
    ['host-space', 'Host: sink.example.io evil'],
    ['host-fragment', 'Host: evil.example.net#sink.example.io'],
  ];
  for (const [id, lines] of refused) {
    const got = await rawSend(router.ports.http, `GET /h HTTP/1.1\r\n${lines}\r\nX-Request-Id: ${id}\r\n\r\n`, { untilClose: true, timeoutMs: 20000 });
    t.equal(got.status, 400, `${id}: 400`);
    t.ok(got.closed, `${id}: closed`);
    t.notOk(requests.has(id), `${id}: nothing reached the dyno`);
  }
  const missing = await rawSend(router.ports.http, 'GET /h HTTP/1.1\r\nX-Request-Id: host-missing\r\n\r\n', { timeoutMs: 20000 });
  t.equal(missing.status, 0, 'no Host at all: uWS closes without a status');
  t.ok(missing.closed);
  const absolute = await absolutePending;
  t.equal(absolute.status, 0, 'absolute-form target: this uWS build never answers it');
  t.ok(absolute.closed, 'absolute-form target: closed at the idle timeout');
  t.notOk(requests.has('host-absolute'));
  const unknown = await rawSend(router.ports.http, 'GET /h HTTP/1.1\r\nHost: nosuch.example.io\r\n\r\n');
  t.equal(unknown.status, 404, 'an unknown host: 404');
});

t.test('X-Forwarded-For spoofing: appended to, never trusted for routing', async (t) => {
  const internal = await rawSend(router.ports.http, 'GET /h HTTP/1.1\r\nHost: hidden.example.io\r\nX-Forwarded-For: 127.0.0.1\r\nX-Real-IP: 127.0.0.1\r\n\r\n');
  t.equal(internal.status, 404, 'an internal app stays unreachable from the public listener whatever the client claims');
  const spoof = await rawSend(router.ports.http, `GET /h HTTP/1.1\r\n${HOST}X-Forwarded-For: 10.0.0.1, 192.168.0.1\r\nX-Request-Id: xff-spoof\r\n\r\n`);
  t.equal(spoof.status, 200);
  t.equal(requests.get('xff-spoof')?.headers['x-forwarded-for'], '10.0.0.1, 192.168.0.1, 127.0.0.1', 'the real peer is always last');
  t.match(await lineOf('xff-spoof'), / fwd="10\.0\.0\.1, 192\.168\.0\.1, 127\.0\.0\.1" /);
});

t.test('2,000 idle keep-alive connections: requests still succeed; uWS closes the idle ones', async (t) => {
  const idle: Socket[] = [];
  let closed = 0;
  const N = 2000;
  const openOne = (): Promise<void> => new Promise((resolve) => {
    const s = connect(router.ports.http, '127.0.0.1');
    s.on('error', () => undefined);
    s.on('close', () => closed++);
    s.once('connect', () => {
      // half stay silent after connecting, half after one keep-alive request
      if (idle.length % 2 === 0) {
        resolve();
        return;
      }
      s.write(`GET /idle HTTP/1.1\r\n${HOST}\r\n`);
      s.once('data', () => resolve());
    });
    idle.push(s);
  });
  t.teardown(() => {
    for (const s of idle) s.destroy();
  });
  for (let i = 0; i < N; i += 100) await Promise.all(Array.from({ length: 100 }, openOne));
  const openWhileServing = N - closed;
  const statuses = await Promise.all(Array.from({ length: 20 }, () => ok('/while-idle')));
  t.comment(`${openWhileServing} idle connections open while 20 requests were served`);
  t.same(statuses, Array(20).fill(200), 'every request succeeds');
  t.ok(openWhileServing > 0, 'idle connections were open meanwhile');
  await until(() => closed === N, 60000, 'uWS to close the idle connections');
  t.equal(closed, N, 'every idle connection closed by the router');
  t.equal(await ok(), 200, 'still serving');
});
