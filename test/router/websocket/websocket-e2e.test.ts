import t from 'tap';
import { once } from 'node:events';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { request } from 'undici';
import { WebSocket, WebSocketServer, type ClientOptions, type RawData } from 'ws';
import { baseConfig, deadAddress, parseRawResponse, rawExchange, ROOT, startRouter, until, writeConfig, type RunningRouter } from '../../support/router-harness.js';
import { JwksServer } from '../filters/support/jwks-server.js';
import { AUDIENCE, ISSUER, makeKey, mint } from '../filters/support/tokens.js';

/*
 * WebSockets through the REAL router process (node dist/router/main.js --config FILE): every
 * listener (http, https with SNI names, internal), a real `ws` WebSocketServer as the dyno, `ws`
 * clients, the admin API for reloads and metrics. Everything on 127.0.0.1, ephemeral ports.
 */

const FIX = join(ROOT, 'test/fixtures/tls');
const CA = readFileSync(join(FIX, 'ca.pem'));

interface DynoConn {
  ws: WebSocket;
  req: IncomingMessage;
  closed: Promise<[number, string]>;
}

/** A WebSocket dyno echoing every frame as it came (text stays text, binary stays binary). */
class EchoWsDyno {
  readonly wss: WebSocketServer;
  readonly conns: DynoConn[] = [];
  address = '';

  constructor() {
    this.wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false, maxPayload: 64 * 1024 * 1024 });
    this.wss.on('connection', (ws, req) => {
      const closed = new Promise<[number, string]>((resolve) => ws.on('close', (code, reason) => resolve([code, reason.toString()])));
      this.conns.push({ ws, req, closed });
      ws.on('message', (data: RawData, isBinary: boolean) => ws.send(data as Buffer, { binary: isBinary }));
    });
  }

  async listen(): Promise<this> {
    if (this.wss.address() === null) await once(this.wss, 'listening');
    this.address = `127.0.0.1:${(this.wss.address() as AddressInfo).port}`;
    return this;
  }

  close(): Promise<void> {
    for (const c of this.wss.clients) c.terminate();
    return new Promise((resolve) => this.wss.close(() => resolve()));
  }
}

const clients: WebSocket[] = [];

function wsClient(url: string, host: string, opts: ClientOptions & { servername?: string } = {}, headers: Record<string, string> = {}): WebSocket {
  const ws = new WebSocket(url, { perMessageDeflate: false, maxPayload: 64 * 1024 * 1024, ...opts, headers: { host, ...headers } });
  clients.push(ws);
  return ws;
}

function opened(ws: WebSocket): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

function nextMessage(ws: WebSocket): Promise<{ data: Buffer; isBinary: boolean }> {
  return new Promise((resolve) => ws.once('message', (data: RawData, isBinary: boolean) => resolve({ data: data as Buffer, isBinary })));
}

function closeOf(ws: WebSocket): Promise<[number, string]> {
  return new Promise((resolve) => ws.once('close', (code: number, reason: Buffer) => resolve([code, reason.toString()])));
}

/** A handshake the router answers without upgrading: status, headers, body. */
function refused(ws: WebSocket): Promise<{ status: number; headers: IncomingMessage['headers']; body: string }> {
  return new Promise((resolve, reject) => {
    ws.once('open', () => reject(new Error('upgraded')));
    ws.once('error', () => undefined);
    ws.once('unexpected-response', (_req, res: IncomingMessage) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => {
        resolve({ status: res.statusCode!, headers: res.headers, body });
        ws.terminate();
      });
    });
  });
}

/** Sends a message and resolves with the echo. */
async function echo(ws: WebSocket, data: string | Buffer): Promise<{ data: Buffer; isBinary: boolean }> {
  const m = nextMessage(ws);
  ws.send(data, { binary: typeof data !== 'string' });
  return m;
}

async function adminGet(router: RunningRouter, path: string): Promise<string> {
  const res = await request(`http://127.0.0.1:${router.ports.admin}${path}`);
  return res.body.text();
}

/** A gauge's value in GET /metrics (the line `name{labels} value`), or null when absent. */
async function gauge(router: RunningRouter, name: string): Promise<number | null> {
  const text = await adminGet(router, '/metrics');
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const sp = line.lastIndexOf(' ');
    if (line.slice(0, sp) === name) return Number(line.slice(sp + 1));
  }
  return null;
}

async function putConfig(router: RunningRouter, config: unknown): Promise<{ status: number; body: string }> {
  const res = await request(`http://127.0.0.1:${router.ports.admin}/config`, {
    method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(config),
  });
  return { status: res.statusCode, body: await res.body.text() };
}

function pattern(size: number): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = (i * 31 + (i >> 12)) & 0xff;
  return b;
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

let dyno: EchoWsDyno;
let other: EchoWsDyno;
let jwks: JwksServer;
let key: Awaited<ReturnType<typeof makeKey>>;
let router: RunningRouter;

function routerConfig(apiDynos: string[]): Record<string, unknown> {
  return baseConfig({
    listen: {
      http: { host: '127.0.0.1', port: 0 },
      https: { host: '127.0.0.1', port: 0 },
      internal: { host: '127.0.0.1', port: 0 },
      admin: { host: '127.0.0.1', port: 0 },
    },
    certificates: [
      { hosts: ['*.example.io', 'www.example.com'], cert: join(FIX, 'wildcard-example-io.pem'), key: join(FIX, 'wildcard-example-io.key') },
      { hosts: ['api-prod.example.io'], cert: join(FIX, 'exact-api.pem'), key: join(FIX, 'exact-api.key') },
    ],
    apps: {
      'api-prod': { dynos: apiDynos },
      'ui-prod': { dynos: [dyno.address] },
      'locked-app': { dynos: [dyno.address], filters: [{ filter: 'auth' }] },
      'private-app': { dynos: [dyno.address], internal: true },
    },
    sites: { 'www.example.com': { routes: [{ path: '/v3/ws', app: 'api-prod', target: '/echo' }] } },
    filters: { auth: { type: 'jwt', jwks_uri: jwks.uri, issuer: ISSUER, audiences: [AUDIENCE] } },
  });
}

t.before(async () => {
  dyno = await new EchoWsDyno().listen();
  other = await new EchoWsDyno().listen();
  jwks = await new JwksServer().start();
  key = await makeKey('ES256');
  jwks.keys = [key.jwk];
  router = await startRouter(writeConfig(routerConfig([dyno.address])));
});

t.teardown(async () => {
  for (const c of clients) c.terminate();
  await router?.stop();
  await Promise.all([dyno?.close(), other?.close(), jwks?.stop()]);
});

const httpUrl = (path: string): string => `ws://127.0.0.1:${router.ports.http}${path}`;

t.test('ws:// via an app host: text and binary frames both ways, a 5 MB binary message, the access line', async (t) => {
  const before = dyno.conns.length;
  const ws = await opened(wsClient(httpUrl('/echo?room=1'), 'api-prod.example.io', {}, { 'x-request-id': 'ws-e2e-echo' }));
  t.equal(dyno.conns.length, before + 1, 'the dyno got the upgrade');
  const req = dyno.conns[before].req;
  t.equal(req.url, '/echo?room=1');
  t.equal(req.headers['x-forwarded-proto'], 'http');
  t.equal(req.headers['x-forwarded-port'], String(router.ports.http));
  t.equal(req.headers['x-request-id'], 'ws-e2e-echo');

  const text = await echo(ws, 'hello through the router');
  t.equal(text.isBinary, false);
  t.equal(text.data.toString(), 'hello through the router');
  const small = await echo(ws, Buffer.from([0, 1, 2, 254, 255]));
  t.equal(small.isBinary, true);
  t.same([...small.data], [0, 1, 2, 254, 255]);

  // the dyno speaks first too
  const pushed = nextMessage(ws);
  dyno.conns[before].ws.send('from the dyno');
  t.equal((await pushed).data.toString(), 'from the dyno');

  const big = pattern(5 * 1024 * 1024);
  const got = await echo(ws, big);
  t.equal(got.isBinary, true);
  t.equal(got.data.length, big.length, '5 MB back');
  t.equal(sha(got.data), sha(big), 'the same bytes');

  const closed = closeOf(ws);
  ws.close(1000, 'bye');
  t.same(await closed, [1000, 'bye']);
  t.same(await dyno.conns[before].closed, [1000, 'bye'], 'the dyno saw the client\'s close');
  const line = await router.waitForLine((l) => l.includes('request_id=ws-e2e-echo'));
  t.match(line, /^at=info method=GET path=\/echo\?room=1 host=api-prod\.example\.io request_id=ws-e2e-echo fwd="127\.0\.0\.1" dyno=127\.0\.0\.1:\d+ connect=\d+ms service=\d+ms total=\d+ms status=101 bytes=\d+ protocol=http$/);
  const bytes = Number(/ bytes=(\d+)/.exec(line)![1]);
  t.ok(bytes >= big.length, `bytes counts what the dyno sent the client (${bytes})`);
});

t.test('ws:// via a site route with rewrite: the dyno gets the rewritten path and the forwarded headers', async (t) => {
  const before = dyno.conns.length;
  const ws = await opened(wsClient(httpUrl('/v3/ws/room/7?x=1'), 'www.example.com', {}, { 'x-forwarded-for': '203.0.113.9' }));
  const req = dyno.conns[before].req;
  t.equal(req.url, '/echo/room/7?x=1');
  t.equal(req.headers['x-forwarded-path'], '/v3/ws/room/7');
  t.equal(req.headers['x-forwarded-host'], 'www.example.com');
  t.equal(req.headers['x-forwarded-for'], '203.0.113.9, 127.0.0.1');
  t.equal(req.headers.via, '1.1 edgeplane');
  t.equal((await echo(ws, 'via the site')).data.toString(), 'via the site');
  ws.close();
  const r = await refused(wsClient(httpUrl('/v3/wsx'), 'www.example.com'));
  t.equal(r.status, 404, 'no route: 404, no upgrade');
});

t.test('wss:// on the SNI names, verified against the test CA', async (t) => {
  for (const [name, cn] of [['api-prod.example.io', 'exact-api'], ['ui-prod.example.io', 'wildcard-example-io'], ['www.example.com', 'wildcard-example-io']]) {
    const before = dyno.conns.length;
    const path = name === 'www.example.com' ? '/v3/ws/tls' : '/echo';
    const ws = wsClient(`wss://127.0.0.1:${router.ports.https}${path}`, name, { servername: name, ca: CA });
    const [res] = await once(ws, 'upgrade') as [IncomingMessage];
    t.equal(res.statusCode, 101);
    t.equal((res.socket as TLSSocket).getPeerCertificate().subject.CN, cn, `${name}: served with its certificate`);
    if (ws.readyState !== WebSocket.OPEN) await opened(ws);
    t.equal(dyno.conns[before].req.headers['x-forwarded-proto'], 'https', `${name}: X-Forwarded-Proto https`);
    t.equal(dyno.conns[before].req.headers['x-forwarded-port'], String(router.ports.https));
    const big = pattern(256 * 1024);
    const m = await echo(ws, big);
    t.equal(sha(m.data), sha(big), `${name}: frames over TLS`);
    const closed = closeOf(ws);
    ws.close(1000);
    t.equal((await closed)[0], 1000);
  }
  const line = await router.waitForLine((l) => l.includes('host=ui-prod.example.io') && l.includes('protocol=https'));
  t.match(line, / status=101 .*protocol=https$/);
});

t.test('the internal listener proxies WebSockets of internal apps only', async (t) => {
  const ws = await opened(wsClient(`ws://127.0.0.1:${router.ports.internal}/echo`, 'private-app.example.io'));
  t.equal((await echo(ws, 'inside')).data.toString(), 'inside');
  ws.close();
  t.equal((await refused(wsClient(httpUrl('/echo'), 'private-app.example.io'))).status, 404, 'not on the public listener');
  t.equal((await refused(wsClient(`ws://127.0.0.1:${router.ports.internal}/echo`, 'api-prod.example.io'))).status, 404,
    'public apps not on the internal listener');
});

t.test('a JWT filter refuses the upgrade without a token; a valid token upgrades', async (t) => {
  const before = dyno.conns.length;
  const r = await refused(wsClient(httpUrl('/echo'), 'locked-app.example.io', {}, { 'x-request-id': 'ws-e2e-401' }));
  t.equal(r.status, 401);
  t.equal(r.headers['www-authenticate'], 'Bearer error="invalid_token"');
  t.equal(dyno.conns.length, before, 'the dyno saw nothing');
  t.match(await router.waitForLine((l) => l.includes('request_id=ws-e2e-401')), / status=401 /);

  const token = await mint(key);
  const ws = await opened(wsClient(httpUrl('/echo'), 'locked-app.example.io', {}, { authorization: `Bearer ${token}` }));
  t.equal(dyno.conns[before].req.headers.authorization, `Bearer ${token}`);
  t.equal((await echo(ws, 'authorised')).data.toString(), 'authorised');
  ws.close();
});

t.test('a reload keeping the dyno does not cut an open WebSocket; one removing it closes it with 1012', async (t) => {
  const ws = await opened(wsClient(httpUrl('/echo'), 'api-prod.example.io'));
  const closes: number[] = [];
  ws.on('close', (code: number) => closes.push(code));

  // the dyno stays (now with a second one beside it): a new version, the socket untouched
  const kept = await putConfig(router, routerConfig([dyno.address, other.address]));
  t.equal(kept.status, 200, kept.body);
  t.equal((await echo(ws, 'after reload 1')).data.toString(), 'after reload 1');
  // the same dyno now only through other apps (ui-prod, locked-app): still in the config
  const moved = await putConfig(router, routerConfig([other.address]));
  t.equal(moved.status, 200, moved.body);
  t.equal((await echo(ws, 'after reload 2')).data.toString(), 'after reload 2');
  t.same(closes, [], 'never closed');
  t.equal(await gauge(router, 'edgeplane_router_websockets_open'), 1);

  // new upgrades follow the new table
  const before = other.conns.length;
  const ws2 = await opened(wsClient(httpUrl('/echo'), 'api-prod.example.io'));
  t.equal(other.conns.length, before + 1, 'a new WebSocket goes to the new dyno list');
  ws2.close();

  // a config without the first dyno at all: its WebSockets get 1012 (Service Restart)
  const gone = routerConfig([other.address]);
  const apps = gone.apps as Record<string, { dynos: string[] }>;
  for (const a of Object.values(apps)) a.dynos = [other.address];
  const closed = closeOf(ws);
  const removed = await putConfig(router, gone);
  t.equal(removed.status, 200, removed.body);
  t.same(await closed, [1012, 'dyno removed']);
  t.equal((await putConfig(router, routerConfig([dyno.address]))).status, 200);
});

t.test('GET /metrics: websockets_open goes 1 then 0; connections_open counts client connections', async (t) => {
  // a router of its own: no connection of another test is open on its listener
  const own = await startRouter(writeConfig(baseConfig({ apps: { 'api-prod': { dynos: [dyno.address] } } })));
  t.teardown(() => own.stop());
  t.equal(await gauge(own, 'edgeplane_router_websockets_open'), 0);
  const conns = (): Promise<number | null> => gauge(own, 'edgeplane_router_connections_open{listener="http"}');
  t.equal(await conns(), 0);

  const ws = await opened(wsClient(`ws://127.0.0.1:${own.ports.http}/echo`, 'api-prod.example.io'));
  t.equal(await gauge(own, 'edgeplane_router_websockets_open'), 1);
  // two idle HTTP keep-alive connections beside it (a plain request each, answered 404)
  const sockets: Socket[] = [];
  t.teardown(() => sockets.forEach((s) => s.destroy()));
  for (let i = 0; i < 2; i++) {
    const s = connect(own.ports.http, '127.0.0.1');
    sockets.push(s);
    s.write('GET / HTTP/1.1\r\nHost: nope.example.io\r\n\r\n');
    const [chunk] = await once(s, 'data') as [Buffer];
    t.match(chunk.toString('latin1'), /^HTTP\/1\.1 404 /);
  }
  await until(async () => (await conns()) === 3, 10000, 'three connections open');
  t.equal(await conns(), 3, 'one WebSocket and two keep-alive connections');

  const closed = closeOf(ws);
  ws.close(1000);
  await closed;
  await until(async () => (await gauge(own, 'edgeplane_router_websockets_open')) === 0, 10000, 'websockets_open back to 0');
  for (const s of sockets) s.destroy();
  await until(async () => (await conns()) === 0, 10000, 'connections back to 0');
  t.equal(await conns(), 0);
  const text = await adminGet(own, '/metrics');
  t.match(text, /^edgeplane_router_requests_total\{app="api-prod",status="1xx"\} 1$/m, 'the handshake counted as a 101');
});

/** A raw WebSocket handshake head for api-prod, with `extra` header lines (each ending in CRLF). */
function upgradeHead(requestId: string, extra: string): string {
  return `GET /echo HTTP/1.1\r\nHost: api-prod.example.io\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n`
    + `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nX-Request-Id: ${requestId}\r\n${extra}\r\n`;
}

t.test('an upgrade with a bad head is refused like any request (400, closed); nothing reaches the dyno', async (t) => {
  const probes: [string, string, string][] = [
    ['two-lengths', 'Content-Length: 5\r\nContent-Length: 6\r\n', 'Bad request framing (Content-Length / Transfer-Encoding)\n'],
    ['xchunked', 'Transfer-Encoding: xchunked\r\n', 'Bad request framing (Content-Length / Transfer-Encoding)\n'],
    ['chunked-identity', 'Transfer-Encoding: chunked, identity\r\n', 'Bad request framing (Content-Length / Transfer-Encoding)\n'],
    ['two-hosts', 'Host: api-prod.example.io\r\n', 'Bad or missing Host header\n'],
    ['del-in-value', 'X-Note: a\x7fb\r\n', 'Control character in a header value\n'],
  ];
  const before = dyno.conns.length;
  for (const [name, extra, body] of probes) {
    const rid = `ws-bad-${name}`;
    const got = await rawExchange(router.ports.http, upgradeHead(rid, extra), 15000);
    const res = parseRawResponse(got.text);
    t.equal(res.status, 400, `${name}: 400 (${JSON.stringify(got.text.slice(0, 80))})`);
    t.equal(res.body, body, `${name}: the refusal's body`);
    t.ok(res.headers.some(([k, v]) => k === 'connection' && v === 'close'), `${name}: Connection: close`);
    t.ok(res.headers.some(([k, v]) => k === 'x-request-id' && v === rid), `${name}: its X-Request-Id`);
    t.ok(got.closed, `${name}: the connection is closed`);
  }
  // a refused head with a second upgrade behind it in the same bytes: that one is never routed
  const smuggled = await rawExchange(router.ports.http,
    upgradeHead('ws-bad-carrier', 'Transfer-Encoding: xchunked\r\n') + upgradeHead('ws-bad-smuggled', ''), 15000);
  t.notMatch(smuggled.text, /101 Switching Protocols/, 'no upgrade behind a refused head');
  t.ok(smuggled.closed, 'the connection is closed');
  t.equal(dyno.conns.length, before, 'the dyno saw no handshake at all');
});

t.test('an upgrade to an app of 33 dynos refusing connections: each tried once, then 503 H10', async (t) => {
  const dead: string[] = [];
  for (let i = 0; i < 33; i++) dead.push(await deadAddress());
  // a router of its own: the dead dynos stay out of the shared config
  const own = await startRouter(writeConfig(baseConfig({ apps: { 'many-dead': { dynos: dead } } })));
  t.teardown(() => own.stop());
  const r = await refused(wsClient(`ws://127.0.0.1:${own.ports.http}/echo`, 'many-dead.example.io', {}, { 'x-request-id': 'ws-33-dead' }));
  t.equal(r.status, 503);
  t.equal(r.body, 'App crashed (H10)\n');
  t.match(await own.waitForLine((l) => l.includes('request_id=ws-33-dead'), 30000),
    /^at=error code=H10 desc="App crashed" method=GET path=\/echo host=many-dead\.example\.io .* status=503 /);
});
