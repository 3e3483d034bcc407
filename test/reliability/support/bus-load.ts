// Load and bookkeeping for the bus fault scenarios: apps with drains to real receivers (syslog
// over TCP, and a slow logplex HTTP collector), senders that POST numbered lines to the
// replicas' /ingest and fail over to another replica until the bus stored them (200), and the
// check of what the receivers got: every line at least once, per-app order of first
// occurrences, duplicates counted by cause.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { httpRequest } from '../../logshuttle/helpers/http-client.js';
import { splitOctetCounted, startStreamReceiver, type StreamReceiver } from '../../logshuttle/drains/receivers.js';
import { ndjson, parseReceived, type ReceivedLine } from '../../logshuttle/bus/helpers/bus-shuttle.js';

/** A logplex collector that answers each batch after `delayMs` (a slow HTTPS drain peer). */
export interface SlowCollector {
  port: number;
  /** syslog messages of every batch answered 200, in order */
  messages: string[];
  close(): Promise<void>;
}

export async function startSlowCollector(delayMs: number): Promise<SlowCollector> {
  const c: SlowCollector = { port: 0, messages: [], close: async () => {} };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (d: Buffer) => chunks.push(d));
    req.on('end', () => {
      setTimeout(() => {
        const { messages } = splitOctetCounted(Buffer.concat(chunks));
        for (const m of messages) c.messages.push(m.toString('utf8'));
        res.writeHead(200).end('ok');
      }, delayMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  c.port = (server.address() as AddressInfo).port;
  c.close = () => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
  return c;
}

export interface Receivers {
  syslog: StreamReceiver;
  collector: SlowCollector;
  /** config `drains`: most apps to the syslog receiver, every fifth to the slow collector */
  drains: Record<string, string[]>;
  received(): ReceivedLine[];
  close(): Promise<void>;
}

export const appName = (i: number): string => `app-${String(i).padStart(2, '0')}`;

export async function startReceivers(apps: number, collectorDelayMs = 150): Promise<Receivers> {
  const syslog = await startStreamReceiver();
  const collector = await startSlowCollector(collectorDelayMs);
  const drains: Record<string, string[]> = {};
  for (let i = 0; i < apps; i++) {
    drains[appName(i)] = [i % 5 === 4 ? `http://127.0.0.1:${collector.port}/logs` : `syslog://127.0.0.1:${syslog.port}`];
  }
  return {
    syslog, collector, drains,
    received: () => [...syslog.messages, ...collector.messages].map(parseReceived),
    close: async () => { await syslog.close(); await collector.close(); },
  };
}

/**
 * A sender of numbered lines (`<app> n=<k>`) for its apps: one POST at a time (so each app's
 * lines reach the bus in order), `perPost` lines per app per POST, alternating replicas; a POST
 * that is not answered 200 is sent again to the next replica until one stores it.
 */
export class LineSender {
  posts = 0;
  failedPosts = 0;
  /** lines the bus acknowledged (200), per app: the highest n */
  readonly acked = new Map<string, number>();
  private stopped = false;
  private running: Promise<void> | null = null;

  constructor(private readonly bases: () => string[], private readonly apps: string[], private readonly rounds: number, private readonly perPost: number) {}

  get linesAcked(): number {
    let n = 0;
    for (const v of this.acked.values()) n += v;
    return n;
  }

  start(): this {
    this.running = this.run();
    return this;
  }

  done(): Promise<void> {
    return this.running ?? Promise.resolve();
  }

  stop(): Promise<void> {
    this.stopped = true;
    return this.done();
  }

  private async run(): Promise<void> {
    let turn = 0;
    for (let round = 0; round < this.rounds && !this.stopped; round++) {
      const lines: Array<{ app: string; message: string }> = [];
      for (let k = 1; k <= this.perPost; k++) {
        for (const app of this.apps) lines.push({ app, message: `${app} n=${round * this.perPost + k}` });
      }
      const body = ndjson(lines);
      for (;;) {
        const bases = this.bases();
        const base = bases[turn++ % bases.length];
        this.posts++;
        let status = 0;
        try {
          status = (await httpRequest(`${base}/ingest`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body })).status;
        } catch {
          status = 0;
        }
        if (status === 200) break;
        this.failedPosts++;
        if (this.stopped) return;
        await new Promise((r) => setTimeout(r, 50));
      }
      for (const app of this.apps) this.acked.set(app, (round + 1) * this.perPost);
    }
  }
}

export interface Delivery {
  /** lines acknowledged by the bus and never seen at a receiver */
  missing: string[];
  /** apps whose lines (first occurrences) did not arrive in order */
  outOfOrder: string[];
  /** the first few such arrivals, for the report: `app: n=N (msgid) after n=M (msgid)` */
  outOfOrderAt: string[];
  received: number;
  /** the same stream sequence (MSGID) more than once: redelivered after a takeover or a lost ack */
  redelivered: number;
  /** the same line under two stream sequences: its POST was sent again after a failure */
  resent: number;
  /** MSGIDs that were not a stream sequence */
  badMsgid: number;
}

/** What the receivers got against what the senders had acknowledged. */
export function checkDelivery(got: ReceivedLine[], acked: Map<string, number>): Delivery {
  const seenMsgid = new Set<string>();
  const seenLine = new Map<string, string>();
  const last = new Map<string, number>();
  const lastMsgid = new Map<string, string>();
  const outOfOrder = new Set<string>();
  const outOfOrderAt: string[] = [];
  let redelivered = 0;
  let resent = 0;
  let badMsgid = 0;
  for (const g of got) {
    if (!/^[1-9]\d*$/.test(g.msgid)) badMsgid++;
    if (seenMsgid.has(g.msgid)) {
      redelivered++;
      continue;
    }
    seenMsgid.add(g.msgid);
    const first = seenLine.get(g.msg);
    if (first !== undefined) {
      resent++;
      continue;
    }
    seenLine.set(g.msg, g.msgid);
    const n = Number(/ n=(\d+)$/.exec(g.msg)?.[1]);
    if ((last.get(g.app) ?? 0) >= n) {
      outOfOrder.add(g.app);
      if (outOfOrderAt.length < 5) outOfOrderAt.push(`${g.app}: n=${n} (msgid ${g.msgid}) after n=${last.get(g.app)} (msgid ${lastMsgid.get(g.app)})`);
    }
    last.set(g.app, n);
    lastMsgid.set(g.app, g.msgid);
  }
  const missing: string[] = [];
  for (const [app, max] of acked) {
    for (let n = 1; n <= max; n++) if (!seenLine.has(`${app} n=${n}`)) missing.push(`${app} n=${n}`);
  }
  return { missing, outOfOrder: [...outOfOrder], outOfOrderAt, received: got.length, redelivered, resent, badMsgid };
}
