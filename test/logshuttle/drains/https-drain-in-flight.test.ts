/**
 * HTTPS drain with several batches in flight (pipelined on one keep-alive connection): a
 * receiver that holds its answers until several requests are out proves they are in flight at
 * once; a 503 among them is retried (same Logplex-Frame-Id and body) before any newer batch, and
 * every line arrives exactly once.
 */
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { fixture, line, makeManager, parseSyslog, splitOctetCounted, waitFor } from './receivers.js';

interface Seen {
  frameId: string;
  msgCount: string;
  body: Buffer;
  msgs: string[];
  /** requests the receiver had got, this one included, when it answered this one */
  seenWhenAnswered: number;
  status: number;
}

/**
 * A logplex receiver answering in arrival order (HTTP/1.1 pipelining). `hold(n)`: while true,
 * no answer goes (the receiver waits for more requests to come in). `status(n)`: the answer to
 * the n-th request (0-based).
 */
async function startReceiver(hold: (received: number) => boolean, status: (n: number) => number) {
  const requests: Seen[] = [];
  const waiting: Array<() => void> = [];
  const release = (): void => {
    while (waiting.length && !hold(requests.length)) waiting.shift()!();
  };
  const server = https.createServer({ key: fixture('localhost.key'), cert: fixture('localhost.pem') }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const { messages, rest } = splitOctetCounted(body);
      const seen: Seen = {
        frameId: String(req.headers['logplex-frame-id']),
        msgCount: String(req.headers['logplex-msg-count']),
        body,
        msgs: rest.length === 0 ? messages.map((m) => parseSyslog(m.toString('utf8')).msg) : ['<trailing bytes>'],
        seenWhenAnswered: 0,
        status: 0,
      };
      const n = requests.length;
      requests.push(seen);
      waiting.push(() => {
        seen.status = status(n);
        seen.seenWhenAnswered = requests.length;
        res.writeHead(seen.status, { 'content-type': 'text/plain' }).end('ok');
      });
      release();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as AddressInfo).port,
    requests,
    release,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

const LINES = 80;
const PER_BATCH = 10;
const expected = Array.from({ length: LINES }, (_, i) => `line ${i}`);

t.test('HTTPS drain: a 503 to one batch among several in flight: retried before any newer batch, every line once', async (t) => {
  // the first three requests are held until all three are in: only several in flight can pass
  const rx = await startReceiver((received) => received < 3, (n) => (n === 1 ? 503 : 200));
  const h = makeManager({ tuning: { httpBatchLines: PER_BATCH, httpInFlight: 4 } });
  t.teardown(async () => {
    await h.manager.close(0);
    await rx.close();
  });
  h.manager.add('inflight', `https://localhost:${rx.port}/logs`);
  for (const m of expected) h.manager.deliver(line('inflight', m));
  await waitFor(() => rx.requests.filter((r) => r.status === 200).reduce((n, r) => n + r.msgs.length, 0) >= LINES, 'every line accepted', 30_000);

  const reqs = rx.requests;
  t.ok(reqs[0].seenWhenAnswered >= 3, `the first answer went with ${reqs[0].seenWhenAnswered} requests in (several in flight)`);
  t.ok(reqs.every((r) => r.msgCount === String(r.msgs.length)), 'Logplex-Msg-Count is the frames in each body');
  const refused = reqs[1];
  t.equal(refused.status, 503);
  const retries = reqs.filter((r) => r.frameId === refused.frameId);
  t.equal(retries.length, 2, 'the refused batch is sent once more');
  const retry = retries[1];
  t.ok(retry.body.equals(refused.body), 'the retry has the same body');
  // between the refusal and its retry, only the batches already in flight behind it (at most
  // httpInFlight - 1 = 3): nothing taken from the queue once the drain knew of the refusal
  const between = reqs.indexOf(retry) - reqs.indexOf(refused) - 1;
  t.ok(between >= 0 && between <= 3, `${between} batches between the refusal and its retry`);
  const afterRetry = reqs.slice(reqs.indexOf(retry) + 1).flatMap((r) => r.msgs);
  const before = reqs.slice(0, reqs.indexOf(retry)).flatMap((r) => r.msgs);
  t.ok(afterRetry.every((m) => before.every((b) => lineNo(m) > lineNo(b))), 'every batch after the retry is newer than all before it');

  const accepted = reqs.filter((r) => r.status === 200).flatMap((r) => r.msgs);
  t.same([...accepted].sort(byNumber), expected, 'every line exactly once');
  // the order: as the queue had them, but for the refused batch, which lands after the
  // batches that were already in flight behind it
  const refusedLines = new Set(refused.msgs);
  t.same(accepted.filter((m) => !refusedLines.has(m)), expected.filter((m) => !refusedLines.has(m)), 'every other line in order');
  await waitFor(async () => /edgeplane_shuttle_drain_delivered_total\{app="inflight",[^}]*\} 80/.test(await h.registry.metrics()), 'delivered 80');
  t.match(await h.registry.metrics(), /edgeplane_shuttle_drain_retries_total\{app="inflight",[^}]*\} 1/);
});

t.test('HTTPS drain: the receiver answers 503 to every batch in flight for a while: lines arrive in order, once', async (t) => {
  let down = true;
  const rx = await startReceiver((received) => received < 3, () => (down ? 503 : 200));
  const h = makeManager({ tuning: { httpBatchLines: PER_BATCH, httpInFlight: 4 } });
  t.teardown(async () => {
    await h.manager.close(0);
    await rx.close();
  });
  h.manager.add('inflight2', `https://localhost:${rx.port}/logs`);
  for (const m of expected) h.manager.deliver(line('inflight2', m));
  await waitFor(() => rx.requests.length >= 5, 'several batches refused', 30_000);
  down = false;
  await waitFor(() => rx.requests.filter((r) => r.status === 200).reduce((n, r) => n + r.msgs.length, 0) >= LINES, 'every line accepted', 30_000);
  t.ok(rx.requests[0].seenWhenAnswered >= 3, 'several in flight');
  t.ok(rx.requests.slice(0, 3).every((r) => r.status === 503), 'the batches in flight were refused');
  t.same(rx.requests.filter((r) => r.status === 200).flatMap((r) => r.msgs), expected, 'in order, exactly once');
});

function lineNo(m: string): number {
  return Number(m.slice('line '.length));
}

function byNumber(a: string, b: string): number {
  return lineNo(a) - lineNo(b);
}
