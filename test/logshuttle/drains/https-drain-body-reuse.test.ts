/**
 * A refused HTTPS drain batch keeps its bytes while newer batches are built and sent behind it:
 * here batches are refused (503) while newer batches are being built behind them (several in
 * flight), and every retry must carry exactly the bytes of its first attempt, every line
 * arriving once. (Guards any reuse of body memory across batches.)
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
  status: number;
}

/**
 * A logplex receiver answering in arrival order, each answer only once `depth` more requests are
 * in (so the sender has built a new batch, behind the ones in flight, before each answer), or
 * after 300 ms without a new request (the last batches, a retry).
 */
async function startReceiver(depth: number, status: (n: number, frameId: string) => number) {
  const requests: Seen[] = [];
  const waiting: Array<() => void> = [];
  let idle: NodeJS.Timeout | null = null;
  const answer = (all: boolean): void => {
    while (waiting.length > 0 && (all || waiting.length >= depth)) waiting.shift()!();
  };
  const server = https.createServer({ key: fixture('localhost.key'), cert: fixture('localhost.pem') }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      let msgs: string[];
      try {
        const { messages, rest } = splitOctetCounted(body);
        msgs = rest.length === 0 ? messages.map((m) => parseSyslog(m.toString('utf8')).msg) : ['<trailing bytes>'];
      } catch {
        msgs = ['<not octet-counted frames>'];
      }
      const seen: Seen = {
        frameId: String(req.headers['logplex-frame-id']),
        msgCount: String(req.headers['logplex-msg-count']),
        body,
        msgs,
        status: 0,
      };
      const n = requests.length;
      requests.push(seen);
      waiting.push(() => {
        seen.status = status(n, seen.frameId);
        res.writeHead(seen.status, { 'content-type': 'text/plain' }).end('ok');
      });
      answer(false);
      if (idle) clearTimeout(idle);
      idle = setTimeout(() => answer(true), 300);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as AddressInfo).port,
    requests,
    close: () => new Promise<void>((r) => {
      if (idle) clearTimeout(idle);
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}

const LINES = 400;
const PER_BATCH = 10;
const expected = Array.from({ length: LINES }, (_, i) => `line ${i} ${'x'.repeat(i % 37)}`);

t.test('HTTPS drain: batches refused while newer ones are built and in flight are retried with their own bytes', async (t) => {
  // every 7th batch is refused twice (its first attempt and its first retry), the others accepted
  const refusals = new Map<string, number>();
  const rx = await startReceiver(4, (n, frameId) => {
    const r = refusals.get(frameId);
    if (r === undefined && n % 7 === 5) {
      refusals.set(frameId, 1);
      return 503;
    }
    if (r === 1) {
      refusals.set(frameId, 2);
      return 503;
    }
    return 200;
  });
  const h = makeManager({ tuning: { httpBatchLines: PER_BATCH, httpInFlight: 4, backoff: { baseMs: 1, maxMs: 5 } } });
  t.teardown(async () => {
    await h.manager.close(0);
    await rx.close();
  });
  h.manager.add('reuse', `https://localhost:${rx.port}/logs`);
  for (const m of expected) h.manager.deliver(line('reuse', m));
  // the drain's own count: every batch answered 200 (what the receiver found in them is checked below)
  await waitFor(async () => new RegExp(`edgeplane_shuttle_drain_delivered_total\\{app="reuse",[^}]*\\} ${LINES}\\b`).test(await h.registry.metrics()), 'delivered 400', 30_000);

  const reqs = rx.requests;
  t.ok(refusals.size >= 3, `${refusals.size} batches refused and retried`);
  const firstById = new Map<string, Seen>();
  let same = 0;
  for (const r of reqs) {
    const first = firstById.get(r.frameId);
    if (first === undefined) {
      firstById.set(r.frameId, r);
      continue;
    }
    t.ok(r.body.equals(first.body), `the retry of batch ${r.frameId} has the bytes of its first attempt`);
    same++;
  }
  t.equal(same, 2 * refusals.size, 'each refused batch was sent twice more');
  t.ok(reqs.every((r) => r.msgCount === String(r.msgs.length)), 'Logplex-Msg-Count is the frames in each body');
  const accepted = reqs.filter((r) => r.status === 200).flatMap((r) => r.msgs);
  t.equal(accepted.length, LINES, 'no line twice');
  t.same([...accepted].sort(byNumber), expected, 'every line exactly once');
});

function byNumber(a: string, b: string): number {
  return Number(a.split(' ')[1]) - Number(b.split(' ')[1]);
}
