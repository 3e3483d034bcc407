// Shared by the router bus tests: a router whose access lines go to a real NATS bus, and the
// stream read back by a test consumer.
import { request as httpRequest } from 'node:http';
import { BusConnection } from '../../../../shared/bus/connection.js';
import { baseConfig, echoDyno, startRouter, writeConfig, type Dyno, type RunningRouter } from '../../../support/router-harness.js';
import { StreamReader, type StreamMessage } from '../../../support/bus-reader.js';
import type { NatsCluster } from '../../../support/nats-cluster.js';
import { parseMsgId } from '../../../../shared/bus/msg-id.js';

export const L10 = /^Error L10 \(output buffer overflow\): (\d+) messages dropped since \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

export interface BusRig {
  router: RunningRouter;
  dyno: Dyno;
  /** a client of the test's own (reads the stream), connected once a server runs */
  conn: BusConnection;
  reader: StreamReader;
}

/** A router (one worker unless said) with `bus` pointing at the cluster, an echo dyno behind apps, and a reader of the stream. */
export async function startBusRig(t: { teardown(fn: () => unknown): void }, nats: NatsCluster, opts: {
  stream: string; apps: string[]; bus?: Record<string, unknown>; workers?: number; args?: string[]; readerNodes?: number[];
}): Promise<BusRig> {
  const dyno = await echoDyno('d1');
  t.teardown(() => dyno.close());
  const apps = Object.fromEntries(opts.apps.map((a) => [a, { dynos: [dyno.address] }]));
  const config = baseConfig({ apps, workers: opts.workers ?? 1, bus: { servers: nats.servers, stream: opts.stream, partitions: 4, replicas: nats.nodes.length, ...opts.bus } });
  const router = await startRouter(writeConfig(config), opts.args ?? []);
  t.teardown(() => router.stop());
  const conn = new BusConnection({ servers: nats.servers, maxBackoffMs: 500 }).start();
  t.teardown(() => conn.close());
  const reader = StreamReader.start(conn.whenReady(), opts.stream);
  t.teardown(() => reader.stop());
  return { router, dyno, conn, reader };
}

/** The access lines (source router) and the L10 counts per app in what was read. */
export function summarize(msgs: readonly StreamMessage[]): { lines: StreamMessage[]; l10: Map<string, number> } {
  const lines: StreamMessage[] = [];
  const l10 = new Map<string, number>();
  for (const m of msgs) {
    if (!m.record) continue;
    if (m.record.source === 'router') lines.push(m);
    const x = m.record.source === 'platform' ? L10.exec(m.record.message) : null;
    if (x) l10.set(m.record.app, (l10.get(m.record.app) ?? 0) + Number(x[1]));
  }
  return { lines, l10 };
}

/** request_id=… of an access line */
export function requestIdOf(line: string): string | undefined {
  return /(?:^|\s)request_id=(\S+)/.exec(line)?.[1];
}

/**
 * For each app, the Nats-Msg-Id sequences of each producer (router worker) in stream order:
 * returns a description of the first place where a sequence goes backwards, or null.
 */
export function orderProblem(msgs: readonly StreamMessage[]): string | null {
  const last = new Map<string, number>();
  for (const m of msgs) {
    if (!m.record || !m.msgId) continue;
    const id = parseMsgId(m.msgId);
    if (!id) return `malformed Nats-Msg-Id ${m.msgId}`;
    const key = `${m.record.app} ${id.producerId}-${id.startMs}`;
    const prev = last.get(key) ?? 0;
    if (id.sequence <= prev) return `${key}: sequence ${id.sequence} after ${prev} (stream seq ${m.seq})`;
    last.set(key, id.sequence);
  }
  return null;
}

/** One GET through the router with a Host header and a request id; the status. */
export function getVia(port: number, host: string, path: string, requestId: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, method: 'GET', headers: { host, 'x-request-id': requestId }, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}
