// A handler that offers a slot (UpstreamHandler.upstreamSlot, as the router's pooled exchanges do)
// gets the same request object for each of its dispatches, and request heads are written from
// pooled byte stores. Neither may carry anything of one request into the next: after aborts at
// every stage, a refused head, a parse error, a dyno that closes a kept-alive connection (the
// stale-connection retry), heads larger than a store and bodies, every request the dyno reads is
// byte for byte the one dispatched, once, and every handler hears its own response.
import { Readable } from 'node:stream';
import t from 'tap';
import { H1Pool } from '../../../../router/upstream/h1/h1-pool.js';
import type { UpstreamDispatchOptions, UpstreamHandler } from '../../../../router/upstream/h1/dispatch-contract.js';
import { freeHeadStores, HEAD_STORE_BYTES } from '../../../../router/upstream/h1/request-head.js';
import { ok, scriptedDyno, type SeenRequest } from './support/scripted-dyno.js';

/** What one dispatch of the reused handler came to. */
interface Heard { status: number; body: string; error: string; events: string[] }

/** One handler object dispatched again and again (one at a time), with a slot. */
class Reused implements UpstreamHandler {
  upstreamSlot: unknown = null;
  abort: ((err?: Error) => void) | null = null;
  private heard: Heard = { status: 0, body: '', error: '', events: [] };
  private done: ((h: Heard) => void) | null = null;
  /** what to do at each stage of the current dispatch */
  hooks: { connect?: (abort: (err?: Error) => void) => void; headers?: (abort: (err?: Error) => void) => void } = {};

  send(pool: H1Pool, options: UpstreamDispatchOptions): Promise<Heard> {
    this.heard = { status: 0, body: '', error: '', events: [] };
    const p = new Promise<Heard>((resolve) => {
      this.done = resolve;
    });
    pool.dispatch(options, this);
    return p;
  }

  onConnect(abort: (err?: Error) => void): void {
    this.abort = abort;
    this.heard.events.push('connect');
    this.hooks.connect?.(abort);
  }

  onHeaders(status: number): boolean {
    this.heard.status = status;
    this.heard.events.push(`headers ${status}`);
    this.hooks.headers?.(this.abort!);
    return true;
  }

  onData(chunk: Buffer): boolean {
    this.heard.body += chunk.toString('latin1');
    return true;
  }

  onComplete(): void {
    this.heard.events.push('complete');
    this.finish();
  }

  onError(err: Error): void {
    this.heard.error = (err as { code?: string }).code ?? err.message;
    this.heard.events.push('error');
    this.finish();
  }

  private finish(): void {
    const d = this.done;
    this.done = null;
    this.hooks = {};
    d?.(this.heard);
  }
}

/** The head the lean client must write for a bodyless GET with `headers` (undici's layout). */
function expectedHead(address: string, path: string, headers: string[], method = 'GET', bodyLength = -1): string {
  let s = `${method} ${path} HTTP/1.1\r\nhost: ${address}\r\nconnection: keep-alive\r\n`;
  for (let i = 0; i < headers.length; i += 2) if (headers[i] !== 'content-length') s += `${headers[i]}: ${headers[i + 1]}\r\n`;
  if (bodyLength >= 0) s += `content-length: ${bodyLength}\r\n`;
  return `${s}\r\n`;
}

t.test('one handler, many dispatches through failures: each request goes out exactly as dispatched, each answer is its own', async (t) => {
  const behaviour = new Map<string, (r: SeenRequest) => void>();
  const dyno = await scriptedDyno((r) => {
    const path = r.head.slice(r.head.indexOf(' ') + 1, r.head.indexOf(' HTTP/'));
    const act = behaviour.get(path.split('?')[0]);
    if (act !== undefined) act(r);
    else r.sock.write(ok(`answer to ${path} (${r.body.length} body bytes)`));
  });
  const pool = new H1Pool(dyno.address, { connect: { timeout: 10000 } });
  t.teardown(async () => {
    await pool.destroy();
    await dyno.close();
  });
  const h = new Reused();
  const sent: { path: string; head: string }[] = [];
  const get = async (path: string, headers: string[]): Promise<Heard> => {
    const heard = await h.send(pool, { path, method: 'GET', headers, body: null, headersTimeout: 20000, bodyTimeout: 20000 });
    return heard;
  };
  const expectOk = async (path: string, headers: string[], name: string): Promise<void> => {
    const before = dyno.requests.length;
    const heard = await get(path, headers);
    t.same(heard, { status: 200, body: `answer to ${path} (0 body bytes)`, error: '', events: ['connect', 'headers 200', 'complete'] }, `${name}: its own answer`);
    const seen = dyno.requests.slice(before);
    t.same(seen.map((r) => r.head), [expectedHead(dyno.address, path, headers)], `${name}: the dyno read exactly its head, once`);
    sent.push({ path, head: expectedHead(dyno.address, path, headers) });
  };

  await expectOk('/one', ['x-a', '1', 'x-request-id', 'first-request-with-a-long-id'], 'a first request');
  await expectOk('/2', ['x-b', '2'], 'a shorter head on the same store');
  await expectOk('/2', ['x-b', '3'], 'a head of the same length');

  // aborted from onConnect: nothing written
  h.hooks.connect = (abort) => abort(new Error('gone before the write'));
  const before = dyno.requests.length;
  const aborted = await get('/never', ['x-never', 'sent']);
  t.same(aborted.events, ['connect', 'error'], 'aborted from onConnect: an error, no answer');
  await expectOk('/after-connect-abort', ['x-c', 'c'], 'after an abort before the write');
  t.notOk(dyno.requests.slice(before).some((r) => r.head.includes('/never')), 'the aborted request never reached the dyno');

  // aborted once the head arrived (the connection is closed with the rest of the response)
  behaviour.set('/slow-body', (r) => r.sock.write('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\npart'));
  h.hooks.headers = (abort) => abort(new Error('client went away'));
  const mid = await get('/slow-body', ['x-d', 'd']);
  t.same([mid.status, mid.events], [200, ['connect', 'headers 200', 'error']], 'aborted mid-response');
  await expectOk('/after-mid-abort', ['x-e', 'e'], 'after an abort mid-response');

  // a head refused before it is written (CR in a value), then a good one
  const refused = await get('/bad', ['x-bad', 'a\r\nx-injected: 1']);
  t.equal(refused.error, 'UND_ERR_INVALID_ARG', 'a value with CR LF is refused');
  await expectOk('/after-refusal', ['x-f', 'f'], 'after a refused head');

  // a response that is not HTTP
  behaviour.set('/garbage', (r) => r.sock.write('SMTP ready\r\n\r\n'));
  const garbage = await get('/garbage', ['x-g', 'g']);
  t.ok(garbage.error !== '' && garbage.status === 0, `garbage: a parse error (${garbage.error})`);
  await expectOk('/after-garbage', ['x-h', 'h'], 'after a parse error');

  // the dyno closes the kept-alive connection when the request arrives: sent again on a fresh one
  let closed = 0;
  behaviour.set('/stale', (r) => {
    if (r.seq > 0 && closed === 0) {
      closed++;
      r.sock.destroy();
      return;
    }
    r.sock.write(ok(`answer to /stale (${r.body.length} body bytes)`));
  });
  await expectOk('/warm', ['x-w', 'w'], 'a request that keeps the connection warm');
  const staleBefore = dyno.requests.length;
  const stale = await get('/stale', ['x-s', 's']);
  t.same([stale.status, stale.body, stale.events], [200, 'answer to /stale (0 body bytes)', ['connect', 'headers 200', 'complete']], 'the stale-connection retry answered once, onConnect once');
  const staleSeen = dyno.requests.slice(staleBefore);
  t.same(staleSeen.map((r) => r.head), [expectedHead(dyno.address, '/stale', ['x-s', 's']), expectedHead(dyno.address, '/stale', ['x-s', 's'])],
    'the same head went out twice, byte for byte');
  t.not(staleSeen[0].conn, staleSeen[1].conn, 'the second time on a fresh connection');
  await expectOk('/after-retry', ['x-i', 'i'], 'after a retry');

  // a head larger than a pooled store, then small ones again
  const big = ['x-big', 'b'.repeat(HEAD_STORE_BYTES + 100)];
  await expectOk('/big', big, 'a head larger than a store');
  await expectOk('/small', ['x-j', 'j'], 'a small head after a large one');

  // a body with its Content-Length, then a bodyless request
  const postBefore = dyno.requests.length;
  const posted = await h.send(pool, {
    path: '/post', method: 'POST', headers: ['content-length', '11', 'x-k', 'k'], body: Readable.from([Buffer.from('hello world')]),
    headersTimeout: 20000, bodyTimeout: 20000,
  });
  t.same([posted.status, posted.body], [200, 'answer to /post (11 body bytes)'], 'a request with a body');
  t.same(dyno.requests.slice(postBefore).map((r) => [r.head, r.body.toString()]),
    [[expectedHead(dyno.address, '/post', ['x-k', 'k'], 'POST', 11), 'hello world']], 'its head and body as dispatched');
  await expectOk('/after-post', ['x-l', 'l'], 'a bodyless request after one with a body');

  // the stale abort of an earlier dispatch is never called here; the slot kept one object
  t.ok(h.upstreamSlot !== null, 'the handler\'s slot holds the client\'s request object');
  t.ok(freeHeadStores() > 0, 'head stores went back to the pool');
});

t.test('handlers without a slot, many at once, each hear their own answer', async (t) => {
  const dyno = await scriptedDyno((r) => {
    const path = r.head.slice(r.head.indexOf(' ') + 1, r.head.indexOf(' HTTP/'));
    setTimeout(() => r.sock.write(ok(`answer to ${path}`)), (r.seq * 7) % 20);
  });
  const pool = new H1Pool(dyno.address, { connect: { timeout: 10000 }, connections: 4 });
  t.teardown(async () => {
    await pool.destroy();
    await dyno.close();
  });
  const many = Array.from({ length: 60 }, (_, i) => new Promise<[string, string]>((resolve) => {
    let body = '';
    pool.dispatch({ path: `/p${i}`, method: 'GET', headers: ['x-n', String(i).repeat(i % 9 + 1)], headersTimeout: 20000, bodyTimeout: 20000 }, {
      onData(c) {
        body += c.toString();
        return true;
      },
      onComplete: () => resolve([`/p${i}`, body]),
      onError: (e) => resolve([`/p${i}`, `error ${e.message}`]),
    });
  }));
  const results = await Promise.all(many);
  t.same(results.filter(([p, b]) => b !== `answer to ${p}`), [], 'every answer is its own');
  const heads = dyno.requests.map((r) => r.head);
  const wrong = heads.filter((head) => {
    const path = head.slice(4, head.indexOf(' HTTP/'));
    const i = Number(path.slice(2));
    return head !== expectedHead(dyno.address, path, ['x-n', String(i).repeat(i % 9 + 1)]);
  });
  t.same(wrong, [], 'every head byte for byte as dispatched');
  t.equal(heads.length, 60, 'each request sent once');
});

t.test('a handler that pauses with part of a read left: it gets exactly the bytes read, then the rest', async (t) => {
  const body = Array.from({ length: 1000 }, (_, i) => String.fromCharCode(97 + (i % 26))).join('');
  const dyno = await scriptedDyno((r) => {
    r.sock.write(`HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\n\r\n${body.slice(0, 100)}`);
    setTimeout(() => r.sock.write(body.slice(100)), 300);
  });
  const pool = new H1Pool(dyno.address, { connect: { timeout: 10000 } });
  t.teardown(async () => {
    await pool.destroy();
    await dyno.close();
  });
  for (let round = 0; round < 3; round++) {
    const got = await new Promise<string>((resolve) => {
      let text = '';
      pool.dispatch({ path: `/r${round}`, method: 'GET', headers: [], headersTimeout: 20000, bodyTimeout: 20000 }, {
        onHeaders(_status, _raw, resume) {
          // paused at the head; what was read with it waits, and only that
          setTimeout(resume, 100);
          return false;
        },
        onData(c) {
          text += c.toString('latin1');
          return true;
        },
        onComplete: () => resolve(text),
        onError: (e) => resolve(`error ${e.message}`),
      });
    });
    t.equal(got, body, `round ${round}: the body byte for byte`);
  }
});
