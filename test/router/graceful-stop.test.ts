import t from 'tap';
import { once } from 'node:events';
import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { request } from 'undici';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { baseConfig, parseRawResponse, rawExchange, startDyno, startRouter, until, writeConfig, type Dyno, type RunningRouter } from '../support/router-harness.js';

/*
 * Graceful stop of the REAL router process (DESIGN.md "SIGTERM"): /readyz false, listeners
 * closed at once, requests in flight finish (deadline shutdownMs), WebSockets closed with 1001,
 * exit 0 as soon as nothing is in flight. Two workers, real dynos on loopback.
 */

/**
 * A dyno whose /slow requests wait for `release()`, whose /hang requests never get more than a
 * head and a first byte, and whose /silent requests never get a byte at all.
 */
async function slowDyno(): Promise<Dyno & { held: ServerResponse[]; release(): void }> {
  const held: ServerResponse[] = [];
  const d = await startDyno((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    if (req.url?.startsWith('/silent')) return;
    if (req.url?.startsWith('/slow') || req.url?.startsWith('/hang')) {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('slow '); // first byte now: the request is in flight, in the body
      if (req.url.startsWith('/slow')) held.push(res);
      return;
    }
    res.end('quick');
  });
  return Object.assign(d, {
    held,
    release: () => {
      for (const r of held.splice(0)) r.end('done');
    },
  });
}

/** A WebSocket echo dyno; resolves each connection's close. */
async function wsDyno(): Promise<{ address: string; closes: Promise<[number, string]>[]; close(): Promise<void> }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  const closes: Promise<[number, string]>[] = [];
  wss.on('connection', (ws) => {
    closes.push(new Promise((resolve) => ws.on('close', (code, reason) => resolve([code, reason.toString()]))));
    ws.on('message', (data: RawData, isBinary: boolean) => ws.send(data as Buffer, { binary: isBinary }));
  });
  await once(wss, 'listening');
  return {
    address: `127.0.0.1:${(wss.address() as AddressInfo).port}`,
    closes,
    close: () => {
      for (const c of wss.clients) c.terminate();
      return new Promise((resolve) => wss.close(() => resolve()));
    },
  };
}

/** A GET through the router on its own connection: status and whole body, or the error. */
function get(port: number, host: string, path: string, requestId: string): Promise<{ status: number; body: string } | Error> {
  return new Promise((resolve) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, headers: { host, 'x-request-id': requestId }, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
      res.on('error', (err) => resolve(err));
    });
    req.on('error', (err) => resolve(err));
    req.end();
  });
}

async function readyz(router: RunningRouter): Promise<number> {
  const res = await request(`http://127.0.0.1:${router.ports.admin}/readyz`);
  await res.body.dump();
  return res.statusCode;
}

/** Whether a new TCP connection to the port is refused. */
function refusesConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });
}

/** The promise's value, or a failure naming what did not happen within `ms`. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([p, new Promise<T>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms);
  })]).finally(() => clearTimeout(timer));
}

/** The exit code, or 'still running' once `timeoutMs` has passed (the process is then killed). */
function exitOf(router: RunningRouter, timeoutMs: number): Promise<number | null | 'still running'> {
  const proc = router.proc;
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve(proc.exitCode);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      resolve('still running');
      proc.kill('SIGKILL');
    }, timeoutMs);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

t.test('SIGTERM with a request in flight and an open WebSocket', async (t) => {
  const dyno = await slowDyno();
  const ws = await wsDyno();
  t.teardown(() => Promise.all([dyno.close(), ws.close()]));
  const router = await startRouter(writeConfig(baseConfig({
    workers: 2,
    shutdownMs: 120000,
    apps: { 'api-prod': { dynos: [dyno.address] }, 'ws-app': { dynos: [ws.address] } },
  })));
  t.teardown(() => router.stop('SIGKILL'));
  const port = router.ports.http;
  t.equal(await readyz(router), 200, 'ready before');

  const client = new WebSocket(`ws://127.0.0.1:${port}/echo`, { headers: { host: 'ws-app.example.io' }, perMessageDeflate: false });
  t.teardown(() => client.terminate());
  await once(client, 'open');
  const clientClosed = new Promise<[number, string]>((resolve) => client.once('close', (code: number, reason: Buffer) => resolve([code, reason.toString()])));
  const echoed = once(client, 'message');
  client.send('before stop');
  t.equal(String((await echoed)[0]), 'before stop');

  const slow = get(port, 'api-prod.example.io', '/slow', 'in-flight-at-stop');
  await until(() => dyno.held.length === 1, 10000, 'the slow request at the dyno');

  router.proc.kill('SIGTERM');
  await until(async () => (await readyz(router)) === 503, 10000, '/readyz 503');
  t.equal(await readyz(router), 503, '/readyz false while draining');
  t.same(await within(clientClosed, 15000, 'client close'), [1001, 'router stopping'], 'the WebSocket client got 1001');
  t.same(await within(ws.closes[0], 15000, 'dyno close'), [1001, 'router stopping'], 'and so did its dyno');
  await until(() => refusesConnections(port), 10000, 'listeners closed');
  t.ok(await refusesConnections(port), 'new connections are refused');

  t.equal(router.proc.exitCode, null, 'still running while the request is in flight');
  dyno.release();
  const r = await within(slow, 15000, 'response');
  t.notOk(r instanceof Error, `the in-flight request completed (${String(r)})`);
  if (!(r instanceof Error)) {
    t.equal(r.status, 200);
    t.equal(r.body, 'slow done', 'its whole body');
  }
  // exits as soon as nothing is in flight: far before shutdownMs (120 s)
  t.equal(await exitOf(router, 30000), 0, 'exit code 0, without waiting for the deadline');
  t.match(router.lines.find((l) => l.includes('request_id=in-flight-at-stop')) ?? '', /^at=info method=GET path=\/slow .* status=200 /,
    'the in-flight request was logged as a success');
});

t.test('SIGTERM with requests that never end: at the deadline they are answered 503 or cut, logged code=shutdown, and the process exits', async (t) => {
  const dyno = await slowDyno();
  t.teardown(() => dyno.close());
  const router = await startRouter(writeConfig(baseConfig({
    workers: 2,
    shutdownMs: 1000,
    apps: { 'api-prod': { dynos: [dyno.address] } },
  })));
  t.teardown(() => router.stop('SIGKILL'));
  const hits = dyno.hits;
  // the response began (head and a first byte sent on): it can only be cut
  const hanging = rawExchange(router.ports.http, 'GET /hang HTTP/1.1\r\nHost: api-prod.example.io\r\nX-Request-Id: stop-hang\r\n\r\n', 60000);
  // nothing of the response yet: it can still be answered
  const silent = rawExchange(router.ports.http, 'GET /silent HTTP/1.1\r\nHost: api-prod.example.io\r\nX-Request-Id: stop-silent\r\n\r\n', 60000);
  await until(() => dyno.hits >= hits + 2, 10000, 'both requests at the dyno');

  router.proc.kill('SIGTERM');
  // the deadline is 1 s; allow a busy machine plenty beyond it, still far below the 60 s the client waits
  t.equal(await exitOf(router, 30000), 0, 'exit code 0 once the deadline has passed');
  const r = await hanging;
  t.ok(r.closed, 'the hanging request\'s connection was closed by the router');
  t.notOk(/\r\n0\r\n\r\n/.test(r.text), 'its response was cut, never completed');
  t.match(r.text, /^HTTP\/1\.1 200 /, 'after the dyno\'s head');

  const s = await silent;
  const res = parseRawResponse(s.text);
  t.equal(res.status, 503, `the request with nothing sent yet got a 503 (${JSON.stringify(s.text.slice(0, 60))})`);
  t.equal(res.body, 'Router shutting down\n');
  t.ok(res.headers.some(([k, v]) => k === 'connection' && v === 'close'), 'with Connection: close');
  t.ok(res.headers.some(([k, v]) => k === 'x-request-id' && v === 'stop-silent'), 'and its X-Request-Id');
  t.ok(s.closed, 'then the connection was closed');

  const lineOf = (rid: string): string => router.lines.find((l) => l.includes(`request_id=${rid} `)) ?? `(no line for ${rid})`;
  t.match(lineOf('stop-silent'), /^at=error code=shutdown desc="Router shutting down" method=GET path=\/silent .* status=503 bytes=0 protocol=http$/,
    'logged as the router\'s shutdown, not as the client leaving (H27/499)');
  t.match(lineOf('stop-hang'), /^at=error code=shutdown desc="Router shutting down" method=GET path=\/hang .* status=200 bytes=\d+ protocol=http$/,
    'the cut response: code=shutdown with the status it had begun with');
});

/** Sends one request on an open socket and resolves with the whole response (Content-Length framed). */
function exchangeOn(sock: Socket, text: string): Promise<ReturnType<typeof parseRawResponse> & { closed: boolean }> {
  return new Promise((resolve) => {
    let raw = '';
    const done = (closed: boolean): void => {
      sock.off('data', onData);
      sock.off('close', onClose);
      resolve({ ...parseRawResponse(raw), closed });
    };
    const onData = (d: Buffer): void => {
      raw += d.toString('latin1');
      const end = raw.indexOf('\r\n\r\n');
      if (end < 0) return;
      const m = /\r\ncontent-length: *(\d+)/i.exec(raw.slice(0, end));
      if (m !== null && raw.length - end - 4 >= Number(m[1])) {
        // a close right behind the response is part of the answer: give it a moment to arrive
        setTimeout(() => done(sock.destroyed || sock.readableEnded), 200);
        sock.off('data', onData);
      }
    };
    const onClose = (): void => done(true);
    sock.on('data', onData);
    sock.once('close', onClose);
    sock.write(text);
  });
}

t.test('while draining, responses on kept-alive connections carry Connection: close', async (t) => {
  const dyno = await slowDyno();
  t.teardown(() => dyno.close());
  // one worker: the kept-alive connections and the request that keeps the drain going share it
  const router = await startRouter(writeConfig(baseConfig({
    workers: 1,
    shutdownMs: 120000,
    apps: { 'api-prod': { dynos: [dyno.address] } },
  })));
  t.teardown(() => router.stop('SIGKILL'));
  const port = router.ports.http;
  const open = async (): Promise<Socket> => {
    const sock = connect(port, '127.0.0.1');
    sock.on('error', () => undefined);
    t.teardown(() => sock.destroy());
    await once(sock, 'connect');
    return sock;
  };
  const proxied = await open();
  const answered = await open();
  const quick = 'GET /quick HTTP/1.1\r\nHost: api-prod.example.io\r\n\r\n';
  const before = await exchangeOn(proxied, quick);
  t.equal(before.status, 200);
  t.notOk(before.headers.some(([k]) => k === 'connection'), 'before the stop: no Connection header, kept alive');
  t.notOk(before.closed, 'and the connection stays open');

  const slow = get(port, 'api-prod.example.io', '/slow', 'keeps-draining');
  await until(() => dyno.held.length === 1, 10000, 'the slow request at the dyno');
  router.proc.kill('SIGTERM');
  await until(() => refusesConnections(port), 10000, 'listeners closed (the worker is stopping)');

  const during = await exchangeOn(proxied, quick);
  t.equal(during.status, 200, 'a request on a kept-alive connection is still served while draining');
  t.equal(during.body, 'quick');
  t.ok(during.headers.some(([k, v]) => k === 'connection' && v === 'close'), 'with Connection: close');
  const notFound = await exchangeOn(answered, 'GET / HTTP/1.1\r\nHost: nope.example.io\r\n\r\n');
  t.equal(notFound.status, 404, 'a request the router answers itself');
  t.ok(notFound.headers.some(([k, v]) => k === 'connection' && v === 'close'), 'with Connection: close');
  await until(() => answered.destroyed || answered.readableEnded, 10000, 'the router to close that connection');

  dyno.release();
  const r = await within(slow, 15000, 'response');
  t.notOk(r instanceof Error, `the in-flight request completed (${String(r)})`);
  t.equal(await exitOf(router, 30000), 0, 'exit code 0');
});
