/**
 * The router reuses its per-request exchange objects (router/upstream/exchange.ts, a pool per
 * worker). A reused object must never carry anything of the request it served before: a client
 * that goes away mid-response, or before the response began, while the dyno goes on sending
 * (late chunks, a late answer), is followed on the same worker by new requests whose responses
 * must be theirs alone: status, headers, body bytes and access line.
 */
import { connect } from 'node:net';
import t, { type Test } from 'tap';
import { request } from 'undici';
import { baseConfig, startDyno, startRouter, until, writeConfig, type Dyno, type RunningRouter } from '../../support/router-harness.js';

let router: RunningRouter;
let dyno: Dyno;
/** late writes the dyno made after the router's client had gone (they must reach nobody) */
let lateWrites = 0;

const STREAM_TOTAL = 256 * 1024;
/** ids of /stale-once requests the dyno has already dropped once */
const staleSeen = new Set<string>();

t.before(async () => {
  dyno = await startDyno((req, res) => {
    const url = req.url ?? '/';
    const id = String(req.headers['x-request-id'] ?? '');
    if (url.startsWith('/stall')) {
      // head and a first piece, then more pieces later (whoever still listens), never the whole body
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(STREAM_TOTAL), 'x-for': id });
      res.write(Buffer.alloc(16 * 1024, 0x41));
      const timer = setInterval(() => {
        if (res.destroyed) return;
        lateWrites++;
        res.write(Buffer.alloc(1024, 0x5a));
      }, 50);
      res.on('close', () => clearInterval(timer));
      setTimeout(() => {
        clearInterval(timer);
        res.destroy();
      }, 3000);
      return;
    }
    if (url.startsWith('/late')) {
      // answers only after the client is gone
      setTimeout(() => {
        if (res.destroyed) return;
        lateWrites++;
        res.writeHead(200, { 'content-type': 'text/plain', 'x-for': id });
        res.end(`late answer for ${id}\n`);
      }, 400);
      return;
    }
    if (url.startsWith('/drop')) {
      // the connection closed without a byte of response (H13), every time
      req.socket.destroy();
      return;
    }
    if (url.startsWith('/cut')) {
      // a head and part of the body, then the connection closed (the client's connection is cut)
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '100000', 'x-for': id });
      res.write(`cut for ${id} `.repeat(100));
      setTimeout(() => req.socket.destroy(), 20);
      return;
    }
    if (url.startsWith('/stale-once')) {
      // the first time an id is seen the connection closes without an answer: the router sends it again
      if (!staleSeen.has(id)) {
        staleSeen.add(id);
        req.socket.destroy();
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain', 'x-for': id });
      res.end(`stale-once for ${id}\n`);
      return;
    }
    if (url.startsWith('/pieces')) {
      // a body in three writes under a Content-Length (the router relays it piece by piece)
      const body = `pieces for ${id} `.repeat(2000);
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': String(Buffer.byteLength(body)), 'x-for': id });
      const third = Math.floor(body.length / 3);
      res.write(body.slice(0, third));
      setTimeout(() => {
        res.write(body.slice(third, 2 * third));
        setTimeout(() => res.end(body.slice(2 * third)), 5);
      }, 5);
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain', 'x-for': id });
    res.end(`${req.method} ${url} for ${id}\n`);
  });
  router = await startRouter(writeConfig(baseConfig({
    timeouts: { connectMs: 2000, firstByteMs: 10000, idleMs: 10000 },
    apps: { reuse: { dynos: [dyno.address] } },
  })));
});
t.teardown(async () => {
  await router?.stop();
  await dyno?.close();
});

/** Sends `path` on a raw connection and closes it once `bytes` bytes of the response (head included) arrived. */
async function abandon(path: string, id: string, bytes: number): Promise<void> {
  const sock = connect(router.ports.http, '127.0.0.1');
  sock.on('error', () => undefined);
  let got = 0;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${bytes} bytes of ${path} within 20 s`)), 20_000);
    const done = (): void => {
      clearTimeout(timer);
      sock.destroy();
      resolve();
    };
    sock.on('data', (d: Buffer) => {
      got += d.length;
      if (got >= bytes) done();
    });
    sock.once('connect', () => {
      sock.write(`GET ${path} HTTP/1.1\r\nHost: reuse.example.io\r\nX-Request-Id: ${id}\r\n\r\n`);
      if (bytes === 0) setTimeout(done, 100);
    });
  });
}

/** `n` requests at once on kept-alive connections, each checked for its own status, headers, body and log line. */
async function freshRequests(tt: Test, round: number, n: number): Promise<void> {
  const checks = Array.from({ length: n }, async (_, i) => {
    const id = `fresh-${round}-${i}`;
    const pieces = i % 3 === 0;
    const path = pieces ? `/pieces/${round}/${i}` : `/echo/${round}/${i}?q=${i}`;
    const res = await request(router.url(path), { headers: { host: 'reuse.example.io', 'x-request-id': id } });
    const body = await res.body.text();
    const expected = pieces ? `pieces for ${id} `.repeat(2000) : `GET ${path} for ${id}\n`;
    return { id, path, status: res.statusCode, xfor: res.headers['x-for'], xid: res.headers['x-request-id'], via: res.headers.via, same: body === expected, len: body.length };
  });
  const results = await Promise.all(checks);
  const wrong = results.filter((r) => r.status !== 200 || r.xfor !== r.id || r.xid !== r.id || r.via !== '1.1 edgeplane' || !r.same);
  tt.same(wrong, [], `round ${round}: every one of ${n} responses is its own (status, x-request-id, the dyno's headers, body)`);
  for (const r of results) {
    const line = await router.waitForLine((l) => l.includes(`request_id=${r.id} `), 20_000);
    const want = `path=${r.path} host=reuse.example.io request_id=${r.id} `;
    if (!line.includes(want) || !/ status=200 /.test(line)) tt.fail(`the log line of ${r.id}: ${line}`);
  }
}

t.test('clients gone mid-response, then new requests on the same worker get their own responses', async (tt) => {
  for (let round = 0; round < 6; round++) {
    // mid-response: the head and part of the body reached the client, the dyno keeps sending
    await Promise.all([
      abandon(`/stall/${round}/a`, `gone-mid-${round}-a`, 4096),
      abandon(`/stall/${round}/b`, `gone-mid-${round}-b`, 20_000),
      // before the response began: the dyno answers after the client left
      abandon(`/late/${round}`, `gone-early-${round}`, 0),
    ]);
    await freshRequests(tt, round, 24);
  }
  for (const id of ['gone-mid-0-a', 'gone-mid-5-b', 'gone-early-3']) {
    const line = await router.waitForLine((l) => l.includes(`request_id=${id} `), 20_000);
    tt.match(line, /^at=error code=H27 desc="Client Request Interrupted" .* status=499 /, `${id} is logged as the client's abort`);
  }
  // the late pieces and answers came while new requests were served: they reached none of them
  await until(() => lateWrites > 0, 20_000, 'the dyno to write after its clients were gone');
  await freshRequests(tt, 99, 24);
  tt.equal(router.lines.filter((l) => / status=200 /.test(l) && /request_id=gone-/.test(l)).length, 0, 'no abandoned request is logged as a success');
});

t.test('upstream failures and retries between requests: the requests after them get their own responses', async (tt) => {
  for (let round = 0; round < 4; round++) {
    const failures = await Promise.all([
      request(router.url(`/drop/${round}`), { headers: { host: 'reuse.example.io', 'x-request-id': `drop-${round}` } })
        .then(async (r) => ({ status: r.statusCode, body: await r.body.text() })),
      request(router.url(`/cut/${round}`), { headers: { host: 'reuse.example.io', 'x-request-id': `cut-${round}` } })
        .then(async (r) => ({ status: r.statusCode, body: await r.body.text().catch(() => 'cut') }))
        .catch(() => ({ status: 0, body: 'cut' })),
      request(router.url(`/stale-once/${round}`), { headers: { host: 'reuse.example.io', 'x-request-id': `stale-${round}` } })
        .then(async (r) => ({ status: r.statusCode, body: await r.body.text(), xfor: r.headers['x-for'] })),
      abandon(`/late/f${round}`, `gone-early-f${round}`, 0).then(() => null),
    ]);
    tt.equal(failures[0].status, 503, `round ${round}: the dropped request is a 503`);
    tt.equal(failures[1].body, 'cut', `round ${round}: the cut response never completes`);
    tt.same(failures[2], { status: 200, body: `stale-once for stale-${round}\n`, xfor: `stale-${round}` }, `round ${round}: the request sent again is answered with its own response`);
    await freshRequests(tt, 100 + round, 24);
  }
  for (const [id, code] of [['drop-0', 'H13'], ['cut-3', 'H13']]) {
    const line = await router.waitForLine((l) => l.includes(`request_id=${id} `), 20_000);
    tt.match(line, new RegExp(`code=${code} `), `${id} is logged with ${code}`);
  }
  const stale = await router.waitForLine((l) => l.includes('request_id=stale-2 '), 20_000);
  tt.match(stale, / status=200 /, 'the request sent again is logged as a success');
});
