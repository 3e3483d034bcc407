// The lean upstream client's flow control and lifecycle against raw TCP dynos: backpressure both
// ways (a slow consumer does not make it buffer a 50 MB body; a dyno that does not read stops the
// request body), abort() at every stage, the connection limit, close() and destroy().
import { createHash, randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { Readable } from 'node:stream';
import t from 'tap';
import { H1Pool } from '../../../../router/upstream/h1/h1-pool.js';
import { startRawDyno, until } from '../../../support/router-harness.js';
import { collect } from './support/collect.js';
import { ok, scriptedDyno } from './support/scripted-dyno.js';

const MB = 1024 * 1024;
const pools: H1Pool[] = [];
function pool(address: string, connections: number | null = null): H1Pool {
  const p = new H1Pool(address, { connect: { timeout: 5000 }, connections });
  pools.push(p);
  return p;
}
t.teardown(async () => {
  await Promise.all(pools.map((p) => p.destroy()));
});

/** Resolves once `read()` has not changed for `quietMs` (checked every 100 ms), at most after `maxMs`. */
async function settled(read: () => number, quietMs = 600, maxMs = 30000): Promise<number> {
  const start = Date.now();
  let last = read();
  let since = Date.now();
  while (Date.now() - start < maxMs) {
    await new Promise((r) => setTimeout(r, 100));
    const now = read();
    if (now !== last) {
      last = now;
      since = Date.now();
    } else if (Date.now() - since >= quietMs) break;
  }
  return last;
}

/** Writes `data` to the socket with backpressure, counting what the socket accepted. */
function pump(sock: Socket, data: Buffer, counter: { written: number }): void {
  let off = 0;
  const step = (): void => {
    while (off < data.length) {
      const piece = data.subarray(off, off + 64 * 1024);
      off += piece.length;
      counter.written += piece.length;
      if (!sock.write(piece)) {
        sock.once('drain', step);
        return;
      }
    }
  };
  step();
}

t.test('a slow consumer: the dyno is held back, the client buffers nothing of a 50 MB body', async (t) => {
  const body = randomBytes(50 * MB);
  const sha = createHash('sha256').update(body).digest('hex');
  const counter = { written: 0 };
  const dyno = await scriptedDyno((req) => {
    req.sock.write(`HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\n\r\n`);
    pump(req.sock, body, counter);
  });
  let resume: (() => void) | null = null;
  let received = 0;
  let paused = true;
  const hash = createHash('sha256');
  const done = collect(pool(dyno.address), { bodyTimeout: 60000 }, {
    onData(chunk, r) {
      received += chunk.length;
      hash.update(chunk);
      resume = r;
      return !paused;
    },
  });
  await until(() => resume !== null, 10000, 'the first body bytes');
  const heldBack = await settled(() => counter.written);
  t.ok(heldBack < 16 * MB, `the dyno could write only ${(heldBack / MB).toFixed(1)} MB of 50 MB while the consumer was paused`);
  t.ok(received <= 64 * 1024, `the consumer got one read's worth (${received} bytes), no more, while paused`);
  paused = false;
  resume!();
  const o = await done;
  t.equal(o.error, null);
  t.equal(received, body.length, 'every byte once resumed');
  t.equal(hash.digest('hex'), sha, 'the same bytes');
  await dyno.close();
});

t.test('a dyno that does not read: the request body is pulled only as fast as it is taken', async (t) => {
  const total = 50 * MB;
  let generated = 0;
  const source = new Readable({
    read() {
      if (generated >= total) {
        this.push(null);
        return;
      }
      generated += 64 * 1024;
      this.push(Buffer.alloc(64 * 1024, 7));
    },
  });
  let dynoSock: Socket | null = null;
  let got = 0;
  let headBytes = -1;
  const dyno = await startRawDyno((sock) => {
    dynoSock = sock;
    sock.pause(); // reads nothing for now
    sock.on('data', (d: Buffer) => {
      if (headBytes === -1) headBytes = d.indexOf('\r\n\r\n') + 4;
      got += d.length;
      if (got === headBytes + total) sock.write(ok(String(got - headBytes)));
    });
  });
  const done = collect(pool(dyno.address), { method: 'POST', headers: ['content-length', String(total)], body: source, headersTimeout: 60000 });
  await until(() => dynoSock !== null, 10000, 'the connection');
  const pulled = await settled(() => generated);
  t.ok(pulled < 16 * MB, `only ${(pulled / MB).toFixed(1)} MB of 50 MB pulled from the body while the dyno did not read`);
  dynoSock!.resume();
  const o = await done;
  t.equal(o.error, null, 'the response came once the dyno read it all');
  t.equal(Number(o.body.toString()), total, 'the dyno got the whole body');
  await dyno.close();
});

/** A dyno that answers `/slow` with a head, then a body in two pieces 100 ms apart, and `/x` at once. */
async function stagedDyno() {
  return scriptedDyno((req) => {
    if (req.head.startsWith('GET /wait')) return; // never answers
    if (!req.head.startsWith('GET /slow')) {
      req.sock.write(ok('x'));
      return;
    }
    req.sock.write('HTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\nabc');
    setTimeout(() => req.sock.writable && req.sock.write('def'), 100);
  });
}

t.test('abort from onConnect: nothing written, onError once, the connection kept for the next request', async (t) => {
  const dyno = await stagedDyno();
  const p = pool(dyno.address);
  const err = new Error('client went away');
  const o = await collect(p, { path: '/x' }, { onConnect: (abort) => abort(err) });
  t.same(o.events, ['connect', 'error Error']);
  t.equal(o.error, err, 'the error given to abort');
  t.equal((await collect(p, { path: '/x' })).body.toString(), 'x', 'the next request is served');
  t.equal(dyno.requests.length, 1, 'the aborted request never reached the dyno');
  t.equal(dyno.connections, 1, 'on the same connection');
  await dyno.close();
});

t.test('abort while waiting for the response, after the head, in the body, after completion', async (t) => {
  const dyno = await stagedDyno();
  const p = pool(dyno.address);
  const closedBefore = (): number => dyno.connections - p.stats.connections;

  let abortWaiting: ((e?: Error) => void) | null = null;
  const waiting = collect(p, { path: '/wait' }, { onConnect: (a) => (abortWaiting = a) });
  await until(() => dyno.requests.length === 1, 10000, 'the dyno has the request');
  abortWaiting!();
  const w = await waiting;
  t.same(w.events, ['connect', 'error UND_ERR_ABORTED'], 'waiting: aborted (RequestAbortedError without an error given)');

  let abortHead: ((e?: Error) => void) | null = null;
  const h = await collect(p, { path: '/slow' }, { onConnect: (a) => (abortHead = a), onHeaders: () => abortHead!(new Error('no')) });
  t.same(h.events, ['connect', 'headers 200', 'error Error'], 'in onHeaders: no data after the abort');

  let abortBody: ((e?: Error) => void) | null = null;
  const b = await collect(p, { path: '/slow' }, { onConnect: (a) => (abortBody = a), onData: () => abortBody!(new Error('no')) });
  t.same(b.events, ['connect', 'headers 200', 'data', 'error Error'], 'in onData: nothing after the abort');
  t.equal(b.body.toString(), 'abc', 'only the first piece');

  let abortLate: ((e?: Error) => void) | null = null;
  const c = await collect(p, { path: '/x' }, { onConnect: (a) => (abortLate = a) });
  abortLate!(new Error('too late'));
  t.same(c.events, ['connect', 'headers 200', 'data', 'complete'], 'after completion: abort does nothing');

  await until(() => closedBefore() >= 3, 10000, 'the aborted connections closed');
  t.equal((await collect(p, { path: '/x' })).body.toString(), 'x', 'the pool still serves');
  await dyno.close();
});

t.test('abort while the request body is being sent: the body stream is destroyed', async (t) => {
  let got = 0;
  const dyno = await startRawDyno((sock) => sock.on('data', (d: Buffer) => (got += d.length)));
  const source = new Readable({ read() {} });
  source.push(Buffer.alloc(1000, 1));
  let abort: ((e?: Error) => void) | null = null;
  const done = collect(pool(dyno.address), { method: 'POST', headers: [], body: source }, { onConnect: (a) => (abort = a) });
  await until(() => got > 1000, 10000, 'the dyno got the head and the first chunk');
  abort!(new Error('413'));
  const o = await done;
  t.same(o.events, ['connect', 'error Error']);
  t.ok(source.destroyed, 'the body stream was destroyed');
  await dyno.close();
});

t.test('the connection limit: requests wait for a free connection, in order', async (t) => {
  let open = 0;
  let maxOpen = 0;
  const dyno = await scriptedDyno((req) => {
    if (req.seq === 0) {
      open++;
      maxOpen = Math.max(maxOpen, open);
      req.sock.once('close', () => open--);
    }
    setTimeout(() => req.sock.write(ok(req.head.split(' ')[1])), 30);
  });
  const p = pool(dyno.address, 2);
  const outs = await Promise.all(Array.from({ length: 8 }, (_, i) => collect(p, { path: `/${i}` })));
  t.same(outs.map((o) => o.body.toString()), Array.from({ length: 8 }, (_, i) => `/${i}`), 'every request answered');
  t.equal(dyno.connections, 2, 'two connections in all');
  t.equal(maxOpen, 2, 'never more than two open');
  const unlimited = pool(dyno.address);
  await Promise.all(Array.from({ length: 5 }, () => collect(unlimited, { path: '/u' })));
  t.equal(dyno.connections, 2 + 5, 'without a limit: a connection per concurrent request (as undici)');
  await dyno.close();
});

t.test('close(): in-flight requests finish, new ones are refused, connections closed', async (t) => {
  let closed = 0;
  const dyno = await scriptedDyno((req) => {
    if (req.seq === 0) req.sock.once('close', () => closed++);
    setTimeout(() => req.sock.write(ok('late')), req.head.startsWith('GET /slow') ? 300 : 20);
  });
  const p = pool(dyno.address);
  await Promise.all([collect(p, { path: '/a' }), collect(p, { path: '/b' })]); // two idle connections
  const slow = collect(p, { path: '/slow' }); // on one of them
  let closeDone = false;
  const closing = p.close().then(() => (closeDone = true));
  const refused = await collect(p, {});
  t.same(refused.events, ['error UND_ERR_CLOSED'], 'a request after close() is refused (H13 for the router)');
  await until(() => closed === 1, 10000, 'the idle connection closed at once');
  t.notOk(closeDone, 'close() waits for the request in flight');
  const o = await slow;
  t.equal(o.body.toString(), 'late', 'the request in flight completes');
  await closing;
  await until(() => closed === 2, 10000, 'the other connection closed after its request');
  t.equal(p.stats.connections, 0);
  await dyno.close();
});

t.test('destroy(): queued and in-flight requests fail at once', async (t) => {
  const dyno = await scriptedDyno(() => undefined); // never answers
  const p = pool(dyno.address, 1);
  const first = collect(p, { path: '/1' });
  const second = collect(p, { path: '/2' });
  await until(() => dyno.requests.length === 1, 10000, 'the first request reached the dyno');
  await p.destroy();
  t.same((await first).events, ['connect', 'error UND_ERR_DESTROYED'], 'in flight: failed');
  t.same((await second).events, ['error UND_ERR_DESTROYED'], 'queued: failed, never connected');
  await dyno.close();
});

t.test('resume() called from inside onData cancels that call\'s pause', async (t) => {
  const dyno = await scriptedDyno((req) => {
    req.sock.write('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n');
    setTimeout(() => req.sock.write('3\r\ndef\r\n0\r\n\r\n'), 50);
  });
  const o = await collect(pool(dyno.address), { bodyTimeout: 5000 }, {
    onData(_chunk, resume) {
      resume();
      return false;
    },
  });
  t.same([o.error, o.body.toString()], [null, 'abcdef'], 'the whole body, no stall');
  await dyno.close();
});
