import { connect } from 'node:net';
import t from 'tap';
import { request } from 'undici';
import {
  baseConfig, echoDyno, parseRawResponse, rawExchange, startRawDyno, startRouter, writeConfig,
  type Dyno, type RawDyno, type RunningRouter,
} from '../../support/router-harness.js';

// Header hygiene (DESIGN.md "Router behaviour at the edge"), through the real router process.

let router: RunningRouter;
let echo: Dyno;
let hoppy: RawDyno;
let port: number;

interface Seen { method: string; url: string; headers: Record<string, string | string[]>; rawHeaders: string[]; bodyBytes: number }

/** The dyno's answer to every request: its own hop-by-hop headers and two named in its two Connection lines. */
const HOPPY_RESPONSE = [
  'HTTP/1.1 200 OK',
  'Content-Type: text/plain',
  'Connection: keep-alive, X-Dyno-Hop',
  'Connection: X-Dyno-Hop-Two',
  'Keep-Alive: timeout=5',
  'Proxy-Connection: keep-alive',
  'Proxy-Authenticate: Basic realm="dyno"',
  'Trailer: X-Checksum',
  'Upgrade: h2c',
  'TE: trailers',
  'X-Dyno-Hop: secret',
  'X-Dyno-Hop-Two: secret too',
  'X-Dyno-Kept: yes',
  'X-Request-Id: chosen-by-the-dyno',
  'Via: 1.1 dyno-side-proxy',
  'Transfer-Encoding: chunked',
  '',
  '5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n',
].join('\r\n');

t.before(async () => {
  echo = await echoDyno('echo');
  hoppy = await startRawDyno((sock) => {
    let buf = '';
    sock.setEncoding('latin1');
    sock.on('data', (d: string) => {
      buf += d;
      while (buf.includes('\r\n\r\n')) {
        buf = buf.slice(buf.indexOf('\r\n\r\n') + 4);
        sock.write(HOPPY_RESPONSE);
      }
    });
  });
  router = await startRouter(writeConfig(baseConfig({
    apps: { echo: { dynos: [echo.address] }, hoppy: { dynos: [hoppy.address] }, other: { dynos: [echo.address] } },
    sites: { 'www.example.com': { routes: [{ path: '/v3/api', app: 'echo', target: '/api' }] } },
  })));
  port = router.ports.http;
});
t.teardown(async () => {
  await router?.stop();
  await echo?.close();
  await hoppy?.close();
});

async function get(host: string, path: string, headers: Record<string, string | string[]> = {}): Promise<{ status: number; seen: Seen; headers: Record<string, unknown> }> {
  const res = await request(router.url(path), { headers: { host, ...headers } });
  const text = await res.body.text();
  return { status: res.statusCode, seen: res.statusCode === 200 ? JSON.parse(text) as Seen : ({} as Seen), headers: res.headers };
}

/** Every value of a header as the dyno received it (rawHeaders keep repeated lines apart). */
function rawValues(seen: Seen, name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < seen.rawHeaders.length; i += 2) if (seen.rawHeaders[i].toLowerCase() === name) out.push(seen.rawHeaders[i + 1]);
  return out;
}

/**
 * Sends raw bytes on a fresh connection and resolves with the first complete response (by its
 * Content-Length or chunked framing), or whatever came before a close or the timeout.
 */
function exchangeOnce(bytes: string | Buffer, timeoutMs = 10000): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1');
    let text = '';
    let settled = false;
    const done = (closed: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      resolve({ text, closed });
    };
    sock.setEncoding('latin1');
    sock.on('data', (d: string) => {
      text += d;
      const end = text.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = text.slice(0, end).toLowerCase();
      const cl = /\r\ncontent-length: *(\d+)/.exec(head);
      if (cl !== null ? text.length >= end + 4 + Number(cl[1]) : /\r\ntransfer-encoding: *chunked/.test(head) && text.endsWith('\r\n0\r\n\r\n')) done(false);
    });
    sock.on('error', () => undefined);
    sock.on('close', () => done(true));
    sock.on('connect', () => sock.write(bytes));
    const timer = setTimeout(() => done(false), timeoutMs);
  });
}

const lineOf = (rid: string): Promise<string> => router.waitForLine((l) => l.includes(`request_id=${rid} `));

t.test('X-Forwarded-*, X-Request-Start and Via reach the dyno; client-sent ones are replaced', async (t) => {
  const before = Date.now();
  const r = await get('www.example.com', '/v3/api/users?page=2', {
    'x-request-id': 'hdr-fwd-1',
    'x-forwarded-proto': 'https',
    'x-forwarded-port': '443',
    'x-forwarded-host': 'evil.example.net',
    'x-forwarded-path': '/admin',
    'x-request-start': '1',
  });
  const after = Date.now();
  t.equal(r.status, 200);
  t.equal(r.seen.url, '/api/users?page=2', 'rewritten path and query');
  const h = r.seen.headers;
  t.equal(h['x-forwarded-proto'], 'http');
  t.equal(h['x-forwarded-port'], String(port), 'the port of the listener the request arrived on');
  t.equal(h['x-forwarded-host'], 'www.example.com', 'the Host the client sent');
  t.equal(h['x-forwarded-path'], '/v3/api/users', 'the original path');
  t.equal(h.host, 'www.example.com', 'Host passed as sent');
  t.equal(h.via, '1.1 edgeplane');
  const start = Number(h['x-request-start']);
  t.ok(Number.isInteger(start) && start >= before - 1 && start <= after + 1, `X-Request-Start is epoch ms (${h['x-request-start']})`);
  for (const name of ['x-forwarded-proto', 'x-forwarded-port', 'x-forwarded-host', 'x-forwarded-path', 'x-request-start', 'x-forwarded-for', 'via']) {
    t.equal(rawValues(r.seen, name).length, 1, `one ${name} line`);
  }
  t.equal(r.headers.via, '1.1 edgeplane', 'Via on the response');
});

t.test("a client's Via is kept and the router's appended", async (t) => {
  const r = await get('echo.example.io', '/via', { via: '1.0 corp-proxy' });
  t.equal(r.seen.headers.via, '1.0 corp-proxy, 1.1 edgeplane');
});

t.test('X-Forwarded-For: the client list kept, the peer appended, never used for routing; the log shows the chain', async (t) => {
  const one = await get('echo.example.io', '/xff', { 'x-request-id': 'hdr-xff-1', 'x-forwarded-for': '203.0.113.9' });
  t.equal(one.seen.headers['x-forwarded-for'], '203.0.113.9, 127.0.0.1');
  t.match(await lineOf('hdr-xff-1'), / fwd="203\.0\.113\.9, 127\.0\.0\.1" /, 'several hops comma-separated, spaces not escaped');

  const two = await get('echo.example.io', '/xff', { 'x-request-id': 'hdr-xff-2', 'x-forwarded-for': ['198.51.100.1', '203.0.113.9'] });
  t.equal(two.seen.headers['x-forwarded-for'], '198.51.100.1, 203.0.113.9, 127.0.0.1', 'repeated lines joined in order');

  const none = await get('echo.example.io', '/xff', { 'x-request-id': 'hdr-xff-3' });
  t.equal(none.seen.headers['x-forwarded-for'], '127.0.0.1');
  t.match(await lineOf('hdr-xff-3'), / fwd="127\.0\.0\.1" /);

  const quote = await get('echo.example.io', '/xff', { 'x-request-id': 'hdr-xff-4', 'x-forwarded-for': '"><x 1.2.3.4\\' });
  t.equal(quote.status, 200);
  t.match(await lineOf('hdr-xff-4'), / fwd="%22><x 1\.2\.3\.4%5C, 127\.0\.0\.1" dyno=/, 'a quote or backslash cannot end the quoted value');

  const spoof = await get('echo.example.io', '/xff', { 'x-forwarded-for': '10.0.0.1', 'x-forwarded-host': 'other.example.io', 'x-request-id': 'hdr-xff-5' });
  t.equal(spoof.status, 200);
  t.equal(spoof.seen.headers['x-forwarded-host'], 'echo.example.io', 'routing and X-Forwarded-Host follow Host only');
  t.match(await lineOf('hdr-xff-5'), / host=echo\.example\.io /);
});

t.test('X-Request-Id: kept when 1-200 characters of the allowed set, else generated; echoed on the response', async (t) => {
  const allowed = 'AZaz09._:+/=-';
  const keep = ['a', allowed, allowed.repeat(15) + 'x'.repeat(200 - allowed.length * 15)];
  for (const id of keep) {
    const r = await get('echo.example.io', '/rid', { 'x-request-id': id });
    t.equal(r.seen.headers['x-request-id'], id, `kept (${id.length} chars)`);
    t.equal(r.headers['x-request-id'], id, 'echoed');
  }
  const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
  const replace = ['x'.repeat(201), 'abc!def', 'abc"def', 'abc def', 'caf\u00e9-x', 'a,b', ''];
  for (const id of replace) {
    const r = await get('echo.example.io', '/rid', { 'x-request-id': id });
    const got = r.seen.headers['x-request-id'] as string;
    t.match(got, UUID, `generated for ${JSON.stringify(id.length > 20 ? `${id.length} chars` : id)}`);
    t.equal(r.headers['x-request-id'], got, 'the generated id is echoed');
    t.equal(rawValues(r.seen, 'x-request-id').length, 1, 'one X-Request-Id line');
    await lineOf(got);
  }
  const none = await get('echo.example.io', '/rid');
  t.match(none.seen.headers['x-request-id'], UUID, 'generated when absent');
});

t.test('hop-by-hop request headers and those named in Connection never reach the dyno', async (t) => {
  const rawReq = [
    'GET /hop HTTP/1.1',
    'Host: echo.example.io',
    'Connection: keep-alive, X-Secret-Hop, Upgrade, HTTP2-Settings, Host',
    'Keep-Alive: timeout=5',
    'Proxy-Connection: keep-alive',
    'TE: trailers',
    'Trailer: X-Checksum',
    'Upgrade: h2c',
    'HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA',
    'Proxy-Authorization: Basic dXNlcjpwYXNz',
    'X-Secret-Hop: 1',
    'X-Kept: yes',
    'X-Request-Id: hdr-hop-1',
    '', '',
  ].join('\r\n');
  const got = await exchangeOnce(rawReq);
  const res = parseRawResponse(got.text);
  t.equal(res.status, 200);
  const seen = JSON.parse(res.body) as Seen;
  for (const name of ['keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade', 'http2-settings', 'proxy-authorization', 'x-secret-hop']) {
    t.notOk(name in seen.headers, `${name} removed`);
  }
  t.not(seen.headers.connection, 'keep-alive, X-Secret-Hop, Upgrade, HTTP2-Settings, Host', "the client's Connection is not forwarded");
  t.equal(seen.headers['x-kept'], 'yes', 'an end-to-end header passes');
  t.equal(seen.headers.host, 'echo.example.io', 'Host survives being named in Connection');
});

t.test('hop-by-hop response headers and those named in Connection never reach the client', async (t) => {
  const got = await exchangeOnce('GET /hop HTTP/1.1\r\nHost: hoppy.example.io\r\nX-Request-Id: hdr-hop-2\r\n\r\n');
  const res = parseRawResponse(got.text);
  t.equal(res.status, 200);
  const names = res.headers.map((h) => h[0]);
  for (const name of ['keep-alive', 'proxy-connection', 'proxy-authenticate', 'trailer', 'upgrade', 'te', 'x-dyno-hop', 'x-dyno-hop-two']) {
    t.notOk(names.includes(name), `${name} removed`);
  }
  t.notOk(res.headers.some((h) => h[0] === 'connection' && /x-dyno-hop/i.test(h[1])), "the dyno's Connection is not forwarded");
  t.same(res.headers.filter((h) => h[0] === 'transfer-encoding'), [['transfer-encoding', 'chunked']], "one Transfer-Encoding: the router's own framing");
  t.same(res.headers.filter((h) => h[0] === 'x-dyno-kept'), [['x-dyno-kept', 'yes']]);
  t.same(res.headers.filter((h) => h[0] === 'x-request-id'), [['x-request-id', 'hdr-hop-2']], "the router's request id, not the dyno's");
  t.same(res.headers.filter((h) => h[0] === 'via').map((h) => h[1]), ['1.1 dyno-side-proxy', '1.1 edgeplane'], 'Via: the dyno side first, then the router');
  const whole = await request(router.url('/hop'), { headers: { host: 'hoppy.example.io' } });
  t.equal(await whole.body.text(), 'hello world', 'the body re-framed intact');
});

t.test('values and targets beyond ASCII go to the dyno as the client sent them', async (t) => {
  const head = Buffer.from('GET /caf\u00e9/\u20ac?q=\u00fc HTTP/1.1\r\nHost: echo.example.io\r\nX-Name: Ren\u00e9e \u2603 x\r\nX-Tail: Jos\u00e9\r\nX-Request-Id: hdr-utf8\r\n\r\n', 'utf8');
  const got = await exchangeOnce(head);
  const res = parseRawResponse(got.text);
  t.equal(res.status, 200);
  const seen = JSON.parse(Buffer.from(res.body, 'latin1').toString('utf8')) as Seen;
  t.equal(seen.url, '/caf%C3%A9/%E2%82%AC?q=%C3%BC', 'a raw UTF-8 target is percent-encoded (what a browser sends)');
  t.equal(Buffer.from(seen.headers['x-name'] as string, 'latin1').toString('utf8'), 'Ren\u00e9e \u2603 x', 'a UTF-8 header value arrives byte for byte');
  // a limit of this uWS build: it trims trailing bytes >= 0x80 off a value as if they were spaces
  t.equal(seen.headers['x-tail'], 'Jos', 'non-ASCII at the very end of a value is lost (uWS trims it)');
  t.equal(seen.headers['x-forwarded-path'], '/caf%C3%A9/%E2%82%AC');
});

t.test('a control character in a header value: 400, nothing sent', async (t) => {
  const hits = echo.hits;
  const got = await rawExchange(port, 'GET /del HTTP/1.1\r\nHost: echo.example.io\r\nX-A: a\x7fb\r\n\r\n', 20000);
  t.equal(parseRawResponse(got.text).status, 400);
  t.ok(got.closed, 'and the connection closed');
  t.equal(echo.hits, hits, 'the dyno saw nothing');
});

t.test('a repeated identical Content-Length is forwarded once', async (t) => {
  const got = await exchangeOnce('POST /cl HTTP/1.1\r\nHost: echo.example.io\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello');
  const res = parseRawResponse(got.text);
  t.equal(res.status, 200);
  const seen = JSON.parse(res.body) as Seen;
  t.same(rawValues(seen, 'content-length'), ['5']);
  t.equal(seen.bodyBytes, 5);
});
