import t from 'tap';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import type { IncomingMessage } from 'node:http';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { pino } from 'pino';
import { request } from 'undici';
import uWS from 'uWebSockets.js';
import type { TemplatedApp, us_listen_socket } from 'uWebSockets.js';
import { WebSocket, WebSocketServer, type ClientOptions, type RawData } from 'ws';
import { compileRouteTable } from '../../../router/routing/compile.js';
import type { RouteTable } from '../../../router/routing/route-table.js';
import type { RouterConfig } from '../../../router/config/schema.js';
import { FilterFactory } from '../../../router/filters/filter-factory.js';
import { DynoRegistry } from '../../../router/upstream/dyno-registry.js';
import { RequestFront, type FrontHost } from '../../../router/front/request-front.js';
import type { ListenerInfo } from '../../../router/front/listeners.js';
import type { RequestContext } from '../../../router/front/request-context.js';
import { InFlight } from '../../../router/upstream/in-flight.js';
import { WebSocketRegistry } from '../../../router/websocket/websocket-registry.js';
import { TlsNames } from '../../../router/front/tls-names.js';
import { deadAddress, ROOT, until } from '../../support/router-harness.js';

const FIX = join(ROOT, 'test/fixtures/tls');
const CA = readFileSync(join(FIX, 'ca.pem'));
const CERTS = [
  { hosts: ['*.example.io', 'www.example.com'], cert: 'wildcard-example-io.pem', key: 'wildcard-example-io.key' },
  { hosts: ['api-prod.example.io'], cert: 'exact-api.pem', key: 'exact-api.key' },
];

/*
 * The WebSocket proxy on a real uWS listener in this process (the same handlers the router
 * worker registers), a real `ws` WebSocketServer as the dyno and `ws` clients: everything over
 * real sockets on 127.0.0.1.
 */

interface DynoConn {
  ws: WebSocket;
  req: IncomingMessage;
  closed: Promise<[number, string]>;
}

/** A WebSocket dyno: echoes on /echo, behaviour by path otherwise; records every connection. */
class WsDyno {
  readonly wss: WebSocketServer;
  readonly conns: DynoConn[] = [];
  address = '';

  constructor() {
    this.wss = new WebSocketServer({
      host: '127.0.0.1',
      port: 0,
      perMessageDeflate: false,
      maxPayload: 64 * 1024 * 1024,
      handleProtocols: (offered) => (offered.has('chat.v1') ? 'chat.v1' : false),
      verifyClient: (info, cb) => {
        if (info.req.url?.startsWith('/refuse')) cb(false, 403, 'Forbidden by the app');
        else cb(true);
      },
    });
    this.wss.on('headers', (headers) => headers.push('Set-Cookie: sid=abc; HttpOnly'));
    this.wss.on('connection', (ws, req) => {
      const closed = new Promise<[number, string]>((resolve) => ws.on('close', (code, reason) => resolve([code, reason.toString()])));
      this.conns.push({ ws, req, closed });
      const path = req.url ?? '';
      if (path.startsWith('/close-nocode')) {
        ws.close();
      } else if (path.startsWith('/crash')) {
        ws.send('last words', () => setTimeout(() => ws.terminate(), 50));
      } else if (path.startsWith('/ping')) {
        ws.on('pong', (data: Buffer) => ws.send(`pong:${data.toString()}`));
        ws.ping('are you there');
      } else if (path.startsWith('/close4000')) {
        ws.send('about to close');
        ws.close(4000, 'dyno says bye');
      } else if (path.startsWith('/quiet')) {
        // reads nothing: the router's buffer towards it grows
        ws.pause();
      } else if (!path.startsWith('/flood')) {
        ws.on('message', (data: RawData, isBinary: boolean) => ws.send(data as Buffer, { binary: isBinary }));
      }
    });
  }

  async listen(): Promise<void> {
    if (this.wss.address() === null) await once(this.wss, 'listening');
    this.address = `127.0.0.1:${(this.wss.address() as AddressInfo).port}`;
  }

  close(): Promise<void> {
    for (const c of this.wss.clients) c.terminate();
    return new Promise((resolve) => this.wss.close(() => resolve()));
  }
}

/** A router listener in this process: HTTP handler and WebSocket proxy on one uWS app. */
class TestRouter implements FrontHost {
  table: RouteTable;
  readonly dynos = new DynoRegistry();
  readonly filters = new FilterFactory({ logger: pino({ level: 'silent' }) });
  readonly webSockets = new WebSocketRegistry();
  readonly inFlight = new InFlight();
  readonly lines: { app: string; line: string }[] = [];
  readonly outcomes: string[] = [];
  readonly accessLog = { write: (app: string, line: string) => void this.lines.push({ app, line }) };
  port = 0;
  tls = false;
  private listenSocket: us_listen_socket | null = null;

  constructor(config: Record<string, unknown>) {
    this.table = this.compile(config, '1');
  }

  compile(config: Record<string, unknown>, version: string): RouteTable {
    return compileRouteTable(config as unknown as RouterConfig, {
      version, dynos: this.dynos, buildFilters: (refs, defs) => this.filters.chain(refs, defs),
    });
  }

  /** What the worker does on a reload: new table in one step, pools of gone dynos closed. */
  reload(config: Record<string, unknown>, version: string): RouteTable {
    this.table = this.compile(config, version);
    this.dynos.retainOnly(this.table.dynos);
    return this.table;
  }

  /** every routed request's outcome (the worker counts WebSocket handshakes with the requests) */
  recordOutcome(ctx: RequestContext, status: number, code: string | null): void {
    this.outcomes.push(`${ctx.app!.name} ${status} ${code ?? '-'}`);
  }

  /** open WebSockets, as the worker's gauge reads them */
  get open(): number {
    return this.webSockets.size;
  }

  /** As front/listeners.ts wires it: plain, or TLS with SNI names. */
  async listen(tls = false): Promise<void> {
    const listener: ListenerInfo = { protocol: tls ? 'https' : 'http', port: '0', internal: false };
    const front = new RequestFront(listener, this);
    let app: TemplatedApp;
    this.tls = tls;
    if (tls) {
      app = uWS.SSLApp(TlsNames.defaultOptions(CERTS, FIX));
      front.attach(app);
      new TlsNames(app, front.http, front.attachUpgrades).apply(CERTS, FIX);
    } else {
      app = uWS.App();
      front.attach(app);
    }
    await new Promise<void>((resolve, reject) => app.listen('127.0.0.1', 0, (s) => {
      if (!s) return reject(new Error('cannot listen'));
      this.listenSocket = s;
      this.port = uWS.us_socket_local_port(s as unknown as uWS.us_socket);
      (listener as { port: string }).port = String(this.port);
      resolve();
    }));
  }

  async close(): Promise<void> {
    if (this.listenSocket) uWS.us_listen_socket_close(this.listenSocket);
    this.listenSocket = null;
    await this.webSockets.closeAll(1001, 'test over', 1000);
    this.filters.close();
    await this.dynos.closeAll();
  }

  url(path: string): string {
    return `${this.tls ? 'wss' : 'ws'}://127.0.0.1:${this.port}${path}`;
  }

  async waitForLine(match: (line: string) => boolean): Promise<string> {
    let found: string | undefined;
    await until(() => (found = this.lines.find((l) => match(l.line))?.line) !== undefined, 10000, 'access line');
    return found!;
  }
}

function configFor(dyno: string, dead: string): Record<string, unknown> {
  return {
    domain: 'example.io',
    workers: 1,
    listen: { http: { host: '127.0.0.1', port: 0 } },
    timeouts: { connectMs: 2000, firstByteMs: 10000, idleMs: 55000 },
    apps: {
      'api-prod': { dynos: [dyno] },
      'other-app': { dynos: [dyno] },
      'down-app': { dynos: [dead] },
      'empty-app': { dynos: [] },
      'locked-app': { dynos: [dyno], filters: [{ filter: 'auth' }] },
      'quiet-app': { dynos: [dyno], maintenance: true },
      'private-app': { dynos: [dyno], internal: true },
    },
    sites: {
      'www.example.com': { routes: [{ path: '/v3/ws', app: 'api-prod', target: '/echo' }] },
    },
    filters: {
      auth: { type: 'jwt', jwks_uri: 'http://127.0.0.1:1/jwks.json', issuer: 'https://idp.example.com/', audiences: ['api'] },
    },
  };
}

const sockets: WebSocket[] = [];

/** A client through the router; resolves once open (or rejects with the refusal). */
function connectClient(router: TestRouter, host: string, path: string, protocols: string[] = [],
  headers: Record<string, string> = {}): Promise<WebSocket> {
  const ws = new WebSocket(router.url(path), protocols, { headers: { host, ...headers }, perMessageDeflate: false, maxPayload: 64 * 1024 * 1024 });
  sockets.push(ws);
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

/** A handshake the router answers without upgrading: status, headers, body. */
function refusedHandshake(router: TestRouter, host: string, path: string, headers: Record<string, string> = {}):
  Promise<{ status: number; headers: IncomingMessage['headers']; body: string }> {
  const ws = new WebSocket(router.url(path), { headers: { host, ...headers }, perMessageDeflate: false });
  sockets.push(ws);
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

function nextMessage(ws: WebSocket): Promise<{ data: Buffer; isBinary: boolean }> {
  return new Promise((resolve) => ws.once('message', (data: RawData, isBinary: boolean) => resolve({ data: data as Buffer, isBinary })));
}

function closeOf(ws: WebSocket): Promise<[number, string]> {
  return new Promise((resolve) => {
    if (ws.readyState === WebSocket.CLOSED) throw new Error('already closed');
    ws.once('close', (code: number, reason: Buffer) => resolve([code, reason.toString()]));
  });
}

let dyno: WsDyno;
let router: TestRouter;
let dead: string;

t.before(async () => {
  dyno = new WsDyno();
  await dyno.listen();
  dead = await deadAddress();
  router = new TestRouter(configFor(dyno.address, dead));
  await router.listen();
});

t.teardown(async () => {
  for (const s of sockets) s.terminate();
  await router?.close();
  await dyno?.close();
});

t.test('text and binary frames are echoed both ways', async (t) => {
  const ws = await connectClient(router, 'api-prod.example.io', '/echo');
  t.equal(router.open, 1, 'one open WebSocket counted');
  const text = nextMessage(ws);
  ws.send('hello dyno');
  const m1 = await text;
  t.equal(m1.isBinary, false);
  t.equal(m1.data.toString(), 'hello dyno');
  const bin = nextMessage(ws);
  ws.send(Buffer.from([0, 1, 2, 255]), { binary: true });
  const m2 = await bin;
  t.equal(m2.isBinary, true);
  t.same([...m2.data], [0, 1, 2, 255]);
  const closed = closeOf(ws);
  ws.close(1000, 'done');
  t.same(await closed, [1000, 'done']);
  await until(() => router.open === 0, 10000, 'open count back to 0');
});

t.test('the 101 carries the request id, Via and the dyno\'s own headers; the outcome is recorded', async (t) => {
  const ws = new WebSocket(router.url('/echo'), { headers: { host: 'other-app.example.io', 'x-request-id': 'req-101' }, perMessageDeflate: false });
  sockets.push(ws);
  const opened = once(ws, 'open');
  const [res] = await once(ws, 'upgrade') as [IncomingMessage];
  t.equal(res.statusCode, 101);
  t.equal(res.headers['x-request-id'], 'req-101');
  t.equal(res.headers.via, '1.1 edgeplane');
  t.same(res.headers['set-cookie'], ['sid=abc; HttpOnly']);
  await opened;
  t.ok(router.outcomes.includes('other-app 101 -'), 'handshake recorded as 101');
  ws.close();
});

t.test('a 1 MB message in each direction arrives whole', async (t) => {
  const ws = await connectClient(router, 'api-prod.example.io', '/echo');
  const big = Buffer.alloc(1024 * 1024);
  for (let i = 0; i < big.length; i++) big[i] = (i * 7 + (i >> 10)) & 0xff;
  const echoed = nextMessage(ws);
  ws.send(big, { binary: true });
  const m = await echoed;
  t.equal(m.data.length, big.length);
  t.ok(m.data.equals(big), 'same bytes back');
  ws.close();
});

t.test('the sub-protocol the dyno chooses is negotiated with the client', async (t) => {
  const before = dyno.conns.length;
  const ws = await connectClient(router, 'api-prod.example.io', '/echo', ['chat.v2', 'chat.v1']);
  t.equal(ws.protocol, 'chat.v1');
  t.same(String(dyno.conns[before].req.headers['sec-websocket-protocol']).split(',').map((p) => p.trim()), ['chat.v2', 'chat.v1'],
    'the dyno saw what the client offered');
  ws.close();
});

t.test('the dyno receives forwarded headers, the rewritten path and the client host', async (t) => {
  const before = dyno.conns.length;
  const ws = await connectClient(router, 'www.example.com', '/v3/ws/room/7?x=1', [], {
    'x-forwarded-for': '203.0.113.9', 'x-request-id': 'req-ws-1', cookie: 'a=1',
  });
  const req = dyno.conns[before].req;
  t.equal(req.url, '/echo/room/7?x=1');
  t.equal(req.headers['x-forwarded-for'], '203.0.113.9, 127.0.0.1');
  t.equal(req.headers['x-forwarded-proto'], 'http');
  t.equal(req.headers['x-forwarded-port'], String(router.port));
  t.equal(req.headers['x-forwarded-host'], 'www.example.com');
  t.equal(req.headers['x-forwarded-path'], '/v3/ws/room/7');
  t.equal(req.headers['x-request-id'], 'req-ws-1');
  t.equal(req.headers.via, '1.1 edgeplane');
  t.equal(req.headers.host, 'www.example.com');
  t.equal(req.headers.cookie, 'a=1');
  t.equal(req.rawHeaders.filter((h) => h.toLowerCase() === 'sec-websocket-key').length, 1, 'one handshake key (the router\'s)');
  const closed = closeOf(ws);
  ws.close(1000);
  await closed;
  const line = await router.waitForLine((l) => l.includes('request_id=req-ws-1'));
  t.match(line, /^at=info method=GET path=\/v3\/ws\/room\/7\?x=1 host=www\.example\.com request_id=req-ws-1 fwd="203\.0\.113\.9, 127\.0\.0\.1" dyno=127\.0\.0\.1:\d+ .* status=101 /);
});

t.test('unknown host: 404 and no upgrade', async (t) => {
  const before = dyno.conns.length;
  const r = await refusedHandshake(router, 'nope.example.io', '/echo');
  t.equal(r.status, 404);
  t.equal(r.body, 'No such app\n');
  t.equal(dyno.conns.length, before, 'the dyno saw nothing');
});

t.test('an internal app is not served on a public listener', async (t) => {
  const before = dyno.conns.length;
  const r = await refusedHandshake(router, 'private-app.example.io', '/echo');
  t.equal(r.status, 404);
  t.equal(dyno.conns.length, before, 'the dyno saw nothing');
});

t.test('handshake failures: silent dyno H12, dyno hanging up H13, client leaving first H27', async (t) => {
  // raw TCP dynos: one never answers, one hangs up on the request
  const silentSockets: Socket[] = [];
  const silent = createServer((sock) => void silentSockets.push(sock));
  const hangup = createServer((sock) => sock.once('data', () => sock.destroy()));
  await Promise.all([silent, hangup].map((srv) => new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))));
  t.teardown(async () => {
    for (const s of silentSockets) s.destroy();
    await Promise.all([silent, hangup].map((srv) => new Promise((r) => srv.close(r))));
  });
  const addr = (srv: Server): string => `127.0.0.1:${(srv.address() as AddressInfo).port}`;
  const cfg = configFor(dyno.address, dead);
  cfg.timeouts = { connectMs: 2000, firstByteMs: 300, idleMs: 55000 };
  (cfg.apps as Record<string, unknown>)['silent-app'] = { dynos: [addr(silent)] };
  (cfg.apps as Record<string, unknown>)['hangup-app'] = { dynos: [addr(hangup)] };
  const r2 = new TestRouter(cfg);
  await r2.listen();
  t.teardown(() => r2.close());

  const timedOut = await refusedHandshake(r2, 'silent-app.example.io', '/echo');
  t.equal(timedOut.status, 503);
  t.equal(timedOut.body, 'Request timeout (H12)\n');
  const hungUp = await refusedHandshake(r2, 'hangup-app.example.io', '/echo');
  t.equal(hungUp.status, 503);
  t.equal(hungUp.body, 'Connection closed without response (H13)\n');
  t.match(await r2.waitForLine((l) => l.includes('host=hangup-app.example.io')), /^at=error code=H13 .* status=503 /);

  // the client leaves while the dyno is still silent (a long first-byte timeout now)
  r2.reload({ ...cfg, timeouts: { connectMs: 2000, firstByteMs: 60000, idleMs: 55000 } }, '2');
  const leaving = new WebSocket(r2.url('/echo'), { headers: { host: 'silent-app.example.io', 'x-request-id': 'leaves-early' }, perMessageDeflate: false });
  sockets.push(leaving);
  leaving.on('error', () => undefined);
  const count = silentSockets.length;
  await until(() => silentSockets.length > count, 10000, 'handshake reaching the dyno');
  leaving.terminate();
  t.match(await r2.waitForLine((l) => l.includes('request_id=leaves-early')), /^at=error code=H27 .* status=499 /);
});

t.test('a dyno answering a 101 that is not a WebSocket handshake: 503 H17', async (t) => {
  // raw TCP dynos: one sends the wrong Sec-WebSocket-Accept, one an extension nobody asked for
  const reply = (accept: string, extra: string) => createServer((sock) => sock.once('data', () =>
    sock.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n${extra}\r\n`)));
  const badAccept = reply('AAAAAAAAAAAAAAAAAAAAAAAAAAA=', '');
  const badExtension = reply('AAAAAAAAAAAAAAAAAAAAAAAAAAA=', 'Sec-WebSocket-Extensions: x-unknown\r\n');
  const servers = [badAccept, badExtension];
  await Promise.all(servers.map((srv) => new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))));
  t.teardown(() => Promise.all(servers.map((srv) => new Promise((r) => srv.close(r)))));
  const addr = (srv: Server): string => `127.0.0.1:${(srv.address() as AddressInfo).port}`;
  const cfg = configFor(dyno.address, dead);
  (cfg.apps as Record<string, unknown>)['accept-app'] = { dynos: [addr(badAccept)] };
  (cfg.apps as Record<string, unknown>)['extension-app'] = { dynos: [addr(badExtension)] };
  const r2 = new TestRouter(cfg);
  await r2.listen();
  t.teardown(() => r2.close());
  for (const app of ['accept-app', 'extension-app']) {
    const r = await refusedHandshake(r2, `${app}.example.io`, '/echo');
    t.equal(r.status, 503, app);
    t.equal(r.body, 'Poorly formatted HTTP response (H17)\n', app);
    t.match(await r2.waitForLine((l) => l.includes(`host=${app}.example.io`)), /^at=error code=H17 .* status=503 /);
  }
});

t.test('a filter answer is sent instead of upgrading', async (t) => {
  const before = dyno.conns.length;
  const r = await refusedHandshake(router, 'locked-app.example.io', '/echo');
  t.equal(r.status, 401);
  t.match(r.headers['www-authenticate'], /Bearer/);
  t.equal(dyno.conns.length, before, 'the dyno saw nothing');
});

t.test('the dyno refusing the handshake: its answer reaches the client', async (t) => {
  const r = await refusedHandshake(router, 'api-prod.example.io', '/refuse');
  t.equal(r.status, 403);
  t.equal(r.body, 'Forbidden by the app');
});

t.test('dyno down: 503 H10; no dynos: 503 H14; maintenance: 503 H80', async (t) => {
  const down = await refusedHandshake(router, 'down-app.example.io', '/echo');
  t.equal(down.status, 503);
  t.equal(down.body, 'App crashed (H10)\n');
  t.match(await router.waitForLine((l) => l.includes('host=down-app.example.io')), /^at=error code=H10 .* status=503 /);
  const empty = await refusedHandshake(router, 'empty-app.example.io', '/echo');
  t.equal(empty.status, 503);
  t.equal(empty.body, 'No web dynos running (H14)\n');
  const maint = await refusedHandshake(router, 'quiet-app.example.io', '/echo');
  t.equal(maint.status, 503);
  t.equal(maint.body, 'Maintenance mode (H80)\n');
});

t.test('plain HTTP requests still reach the HTTP handler', async (t) => {
  const res = await request(`http://127.0.0.1:${router.port}/echo`, { headers: { host: 'empty-app.example.io' } });
  t.equal(res.statusCode, 503);
  t.equal(await res.body.text(), 'No web dynos running (H14)\n');
});

t.test('the dyno closing with 4000 reaches the client as 4000, after its last frame', async (t) => {
  const ws = new WebSocket(router.url('/close4000'), { headers: { host: 'api-prod.example.io' }, perMessageDeflate: false });
  sockets.push(ws);
  const got: string[] = [];
  ws.on('message', (d: RawData) => got.push(d.toString()));
  const [code, reason] = await closeOf(ws);
  t.equal(code, 4000);
  t.equal(reason, 'dyno says bye');
  t.same(got, ['about to close']);
});

t.test('a dyno closing without a code: the client sees 1005; a dyno that vanishes: 1011', async (t) => {
  const ws = new WebSocket(router.url('/close-nocode'), { headers: { host: 'api-prod.example.io' }, perMessageDeflate: false });
  sockets.push(ws);
  t.same(await closeOf(ws), [1005, '']);
  const ws2 = new WebSocket(router.url('/crash'), { headers: { host: 'api-prod.example.io' }, perMessageDeflate: false });
  sockets.push(ws2);
  const got: string[] = [];
  ws2.on('message', (d: RawData) => got.push(d.toString()));
  const [code] = await closeOf(ws2);
  t.equal(code, 1011);
  t.same(got, ['last words']);
});

t.test('a dyno\'s ping reaches the client and the client\'s pong reaches the dyno', async (t) => {
  const ws = new WebSocket(router.url('/ping'), { headers: { host: 'api-prod.example.io' }, perMessageDeflate: false });
  sockets.push(ws);
  const pinged = once(ws, 'ping');
  const reply = nextMessage(ws);
  t.equal(String((await pinged)[0]), 'are you there', 'the client got the dyno\'s ping');
  t.equal((await reply).data.toString(), 'pong:are you there', 'the dyno got the client\'s pong');
  ws.close();
});

t.test('the client closing reaches the dyno with its code; a vanished client as 1001', async (t) => {
  const before = dyno.conns.length;
  const ws = await connectClient(router, 'api-prod.example.io', '/echo');
  const conn = dyno.conns[before];
  ws.close(4001, 'client done');
  t.same(await conn.closed, [4001, 'client done']);

  const ws2 = await connectClient(router, 'api-prod.example.io', '/echo');
  const conn2 = dyno.conns[before + 1];
  ws2.terminate();
  t.same(await conn2.closed, [1001, 'client went away']);
  await until(() => router.open === 0, 10000, 'open count back to 0');
});

t.test('backpressure: a client that does not read pauses the dyno, and nothing is lost', async (t) => {
  const before = dyno.conns.length;
  const ws = new WebSocket(router.url('/flood'), { headers: { host: 'api-prod.example.io' }, perMessageDeflate: false });
  sockets.push(ws);
  const received: number[] = [];
  let receivedBytes = 0;
  ws.on('message', (d: RawData) => {
    const b = d as Buffer;
    received.push(b.readUInt32BE(0));
    receivedBytes += b.length;
  });
  await once(ws, 'open');
  ws.pause(); // the client reads nothing from now on
  await until(() => dyno.conns.length > before, 10000, 'dyno connection');
  const conn = dyno.conns[before];
  const COUNT = 256;
  const SIZE = 256 * 1024;
  for (let i = 0; i < COUNT; i++) {
    const b = Buffer.alloc(SIZE, i & 0xff);
    b.writeUInt32BE(i, 0);
    conn.ws.send(b, { binary: true });
  }
  const total = COUNT * SIZE;
  await until(() => router.webSockets.pausedCount === 1, 20000, 'router pausing the dyno');
  // settle: the dyno's unsent amount stops moving once every buffer on the way is full
  let last = -1;
  await until(async () => {
    const now = conn.ws.bufferedAmount;
    const stable = now === last;
    last = now;
    if (!stable) await new Promise((r) => setTimeout(r, 250));
    return stable;
  }, 30000, 'the dyno blocked');
  t.ok(conn.ws.bufferedAmount > total / 4, `most of the ${total} bytes still wait in the dyno (${conn.ws.bufferedAmount})`);
  t.equal(received.length, 0, 'the paused client got nothing');

  ws.resume();
  await until(() => received.length === COUNT, 30000, 'all messages');
  t.same(received, Array.from({ length: COUNT }, (_, i) => i), 'every message, in order');
  t.equal(receivedBytes, total);
  await until(() => router.webSockets.pausedCount === 0 && conn.ws.bufferedAmount === 0, 10000, 'dyno resumed and drained');
  ws.close();
});

t.test('a dyno that does not read: the client is closed with 1013 instead of buffering without bound', async (t) => {
  const ws = await connectClient(router, 'api-prod.example.io', '/quiet');
  const closed = closeOf(ws);
  const chunk = Buffer.alloc(1024 * 1024, 1);
  let sent = 0;
  const pump = (): void => {
    while (ws.readyState === WebSocket.OPEN && sent < 96 && ws.bufferedAmount < 4 * 1024 * 1024) {
      ws.send(chunk, { binary: true });
      sent++;
    }
    if (ws.readyState === WebSocket.OPEN && sent < 96) setTimeout(pump, 5);
  };
  pump();
  const [code] = await closed;
  t.equal(code, 1013);
});

t.test('a reload keeps open WebSockets; closeRemoved closes those whose dyno left (1012)', async (t) => {
  const ws = await connectClient(router, 'api-prod.example.io', '/echo');
  // the dyno stays (other-app still names it); api-prod gets a new dyno list
  const other = new WsDyno();
  await other.listen();
  t.teardown(() => other.close());
  const cfg = configFor(dyno.address, dead);
  (cfg.apps as Record<string, unknown>)['api-prod'] = { dynos: [other.address] };
  const t2 = router.reload(cfg, '2');
  t.equal(router.webSockets.closeRemoved(t2), 0, 'its dyno is still in the config');
  const m = nextMessage(ws);
  ws.send('still there');
  t.equal((await m).data.toString(), 'still there');
  t.equal(router.open, 1);

  // new upgrades follow the new table
  const before = other.conns.length;
  const ws2 = await connectClient(router, 'api-prod.example.io', '/echo');
  t.equal(other.conns.length, before + 1, 'routed with the new table');
  ws2.close();

  // now the first dyno leaves the config entirely: its pool is closed, the WebSocket is not cut by that
  const cfg3 = configFor(other.address, dead);
  const t3 = router.reload(cfg3, '3');
  const m2 = nextMessage(ws);
  ws.send('pool closed, socket alive');
  t.equal((await m2).data.toString(), 'pool closed, socket alive');
  const closed = closeOf(ws);
  t.equal(router.webSockets.closeRemoved(t3), 1);
  t.same(await closed, [1012, 'dyno removed']);
  router.reload(configFor(dyno.address, dead), '4');
});

t.test('wss: WebSockets through the TLS listener, on SNI names and the default certificate', async (t) => {
  const tlsRouter = new TestRouter(configFor(dyno.address, dead));
  await tlsRouter.listen(true);
  t.teardown(() => tlsRouter.close());
  for (const [name, cn] of [['api-prod.example.io', 'exact-api'], ['other-app.example.io', 'wildcard-example-io']]) {
    const before = dyno.conns.length;
    const opts: ClientOptions & { servername: string } = { servername: name, ca: CA, headers: { host: name }, perMessageDeflate: false };
    const ws = new WebSocket(tlsRouter.url('/echo'), opts);
    sockets.push(ws);
    const [res] = await once(ws, 'upgrade') as [IncomingMessage];
    t.equal((res.socket as TLSSocket).getPeerCertificate().subject.CN, cn, `${name}: its certificate`);
    if (ws.readyState !== WebSocket.OPEN) await once(ws, 'open');
    const m = nextMessage(ws);
    ws.send(`over tls to ${name}`);
    t.equal((await m).data.toString(), `over tls to ${name}`);
    t.equal(dyno.conns[before].req.headers['x-forwarded-proto'], 'https');
    const closed = closeOf(ws);
    ws.close(1000);
    await closed;
  }
});

t.test('graceful stop closes WebSockets with 1001 and refuses new ones', async (t) => {
  const before = dyno.conns.length;
  const ws = await connectClient(router, 'api-prod.example.io', '/echo');
  const conn = dyno.conns[before];
  const closed = closeOf(ws);
  await router.webSockets.closeAll(1001, 'router stopping');
  t.same(await closed, [1001, 'router stopping']);
  t.same(await conn.closed, [1001, 'router stopping']);
  t.equal(router.open, 0);
  const r = await refusedHandshake(router, 'api-prod.example.io', '/echo');
  t.equal(r.status, 503);
});
