import t from 'tap';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { baseConfig, parseRawResponse, rawRequest, startRouter, until, writeConfig, type RunningRouter } from '../../support/router-harness.js';

/*
 * A WebSocket upgrade goes through the same front as any request (router/front/): the 101 the
 * client gets carries the dyno's own `Via` followed by `Via: 1.1 edgeplane`, and the request id,
 * like every HTTP response; so does a dyno's refusal of the upgrade; a target with an empty
 * query (`/echo?`) reaches the dyno and the log line as the client wrote it, exactly as for
 * HTTP. Real router process, one dyno serving HTTP and `ws` upgrades, raw sockets as clients.
 */

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';

interface Seen {
  url: string;
  headers: IncomingMessage['headers'];
  ws: WebSocket | null;
}

let router: RunningRouter;
let wss: WebSocketServer;
let server: Server;
const seen: Seen[] = [];
const open: Socket[] = [];

t.before(async () => {
  // the dyno's responses (HTTP, the 101, a refused upgrade) each carry a Via of its own
  server = createServer((req, res) => {
    seen.push({ url: req.url ?? '', headers: req.headers, ws: null });
    res.writeHead(200, { via: '1.0 dyno-proxy', 'content-type': 'text/plain' }).end('plain\n');
  });
  wss = new WebSocketServer({
    server,
    perMessageDeflate: false,
    verifyClient: (info, cb) => {
      if (info.req.url?.startsWith('/refuse')) cb(false, 403, 'Forbidden', { via: '1.0 dyno-proxy' });
      else cb(true);
    },
  });
  wss.on('headers', (headers) => headers.push('Via: 1.0 dyno-proxy'));
  wss.on('connection', (ws, req) => seen.push({ url: req.url ?? '', headers: req.headers, ws }));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const dyno = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  router = await startRouter(writeConfig(baseConfig({ apps: { 'api-prod': { dynos: [dyno] } } })));
});

t.teardown(async () => {
  for (const s of open) s.destroy();
  await router?.stop();
  for (const c of wss?.clients ?? []) c.terminate();
  await new Promise((r) => wss?.close(r));
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r));
});

/** Sends an upgrade head on a raw socket; resolves with the response head once it is complete. */
function upgrade(path: string, requestId: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect(router.ports.http, '127.0.0.1');
    open.push(sock);
    let text = '';
    sock.setEncoding('latin1');
    const timer = setTimeout(() => reject(new Error(`no response head in 20 s: ${JSON.stringify(text)}`)), 20000);
    sock.on('data', (d: string) => {
      text += d;
      const end = text.indexOf('\r\n\r\n');
      if (end >= 0) {
        clearTimeout(timer);
        resolve(text.slice(0, end + 4));
      }
    });
    sock.on('error', reject);
    sock.write(`GET ${path} HTTP/1.1\r\nHost: api-prod.example.io\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n`
      + `Sec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\nX-Request-Id: ${requestId}\r\n\r\n`);
  });
}

const header = (raw: string, name: string): string[] => parseRawResponse(raw).headers.filter(([k]) => k === name).map(([, v]) => v);

t.test('the 101 carries the dyno\'s Via, then the router\'s, and the request id, as every HTTP response does', async (t) => {
  const head = await upgrade('/echo', 'ws-front-via');
  t.equal(parseRawResponse(head).status, 101);
  t.same(header(head, 'via'), ['1.0 dyno-proxy', '1.1 edgeplane']);
  t.same(header(head, 'x-request-id'), ['ws-front-via']);
  const dyno = seen.at(-1)!;
  t.equal(dyno.headers.via, '1.1 edgeplane', 'the dyno got Via too');
});

t.test('a dyno refusing the upgrade: its answer reaches the client with both Vias', async (t) => {
  const head = await upgrade('/refuse', 'ws-front-refused');
  t.equal(parseRawResponse(head).status, 403);
  t.same(header(head, 'via'), ['1.0 dyno-proxy', '1.1 edgeplane']);
  t.same(header(head, 'x-request-id'), ['ws-front-refused']);
});

t.test('an empty query is kept: the dyno and the log line get `/echo?`, as for HTTP', async (t) => {
  const before = seen.length;
  const head = await upgrade('/echo?', 'ws-front-query');
  t.equal(parseRawResponse(head).status, 101);
  await until(() => seen.length > before, 20000, 'the dyno got the upgrade');
  t.equal(seen[before].url, '/echo?');
  seen[before].ws!.close(1000, 'done');
  const line = await router.waitForLine((l) => l.includes('request_id=ws-front-query'), 20000);
  t.match(line, / path=\/echo\? host=api-prod\.example\.io /);
});

t.test('an HTTP request to the same target, for comparison: both Vias, `/echo?` sent and logged as written', async (t) => {
  const before = seen.length;
  const raw = await rawRequest(router.ports.http, 'GET /echo? HTTP/1.1\r\nHost: api-prod.example.io\r\nX-Request-Id: http-front-query\r\nConnection: close\r\n\r\n', 20000);
  t.equal(parseRawResponse(raw).status, 200);
  t.same(header(raw, 'via'), ['1.0 dyno-proxy', '1.1 edgeplane']);
  t.equal(seen[before].url, '/echo?');
  const line = await router.waitForLine((l) => l.includes('request_id=http-front-query'), 20000);
  t.match(line, / path=\/echo\? host=api-prod\.example\.io /);
});
