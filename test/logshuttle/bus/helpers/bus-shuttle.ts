// Bus-mode shuttles for tests: real processes from dist/ with a `bus` section, their /readyz and
// /metrics, and the syslog lines a drain receiver got (MSGID = stream sequence).
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { startShuttle, type ShuttleProcess } from '../../helpers/shuttle-process.js';
import { httpRequest } from '../../helpers/http-client.js';
import { waitFor } from '../../helpers/wait.js';
import { parseSyslog } from '../../drains/receivers.js';

interface Teardown {
  teardown(fn: () => unknown): void;
}

/** Short lease/ack timings: takeovers within a few seconds; still generous for a loaded machine. */
export const TEST_TUNING = { leaseTtlMs: 4000, ackWaitMs: 4000, holdMs: 2000, fetchExpiresMs: 1000, requestTimeoutMs: 1500 };

export interface BusShuttleOptions {
  servers: string[];
  partitions?: number;
  replicas?: number;
  stream?: string;
  /** a NATS .creds file */
  credentials?: string;
  history?: number;
  tuning?: Record<string, number>;
  /** more config keys (drains, drainBuffer, listen, …) */
  extra?: Record<string, unknown>;
  /** wait for /readyz 200 (default true) */
  waitReady?: boolean;
}

/** Starts a bus-mode shuttle (every listener on an ephemeral port unless `extra.listen`). */
export async function startBusShuttle(t: Teardown, o: BusShuttleOptions): Promise<ShuttleProcess> {
  const s = await startShuttle(t, {
    bus: { servers: o.servers, partitions: o.partitions ?? 16, replicas: o.replicas ?? 3, ...(o.stream ? { stream: o.stream } : {}), ...(o.credentials ? { credentials: o.credentials } : {}) },
    busTuning: { ...TEST_TUNING, ...o.tuning },
    history: o.history ?? 1500,
    ...o.extra,
  });
  if (o.waitReady !== false) await waitReady(s);
  return s;
}

export interface Readiness {
  ready: boolean;
  bus: string;
  partitions: number[];
  replica: string;
}

export async function readyz(s: ShuttleProcess): Promise<{ status: number; body: Readiness }> {
  const r = await httpRequest(`${s.base}/readyz`);
  return { status: r.status, body: JSON.parse(r.body) as Readiness };
}

export async function waitReady(s: ShuttleProcess, timeoutMs = 60_000): Promise<void> {
  await waitFor(async () => (await readyz(s)).status === 200, 'shuttle ready on the bus', timeoutMs, 100);
}

/** The partitions a replica pulls now (/readyz). */
export async function owned(s: ShuttleProcess): Promise<number[]> {
  try {
    return (await readyz(s)).body.partitions;
  } catch {
    return [];
  }
}

/** One sample of a Prometheus metric (sum over the samples matching `labels`). */
export async function metric(s: ShuttleProcess, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = (await httpRequest(`${s.base}/metrics`)).body;
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name + ' ') && !line.startsWith(name + '{')) continue;
    const m = /^([^\s{]+)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = m[2] ?? '';
    if (Object.entries(labels).every(([k, v]) => have.includes(`${k}="${v}"`))) sum += Number(m[3]);
  }
  return sum;
}

/** A plain NATS client for the test itself (publishing straight to the bus, reading streams). */
export async function natsClient(t: Teardown, servers: string[]): Promise<NatsConnection> {
  const nc = await connect({ servers, maxReconnectAttempts: -1, reconnectTimeWait: 200 });
  t.teardown(() => nc.close());
  return nc;
}

/** A syslog line a drain receiver got, as the tests check it. */
export interface ReceivedLine {
  app: string;
  msgid: string;
  msg: string;
}

export function parseReceived(message: string): ReceivedLine {
  const s = parseSyslog(message);
  return { app: s.hostname, msgid: s.msgid, msg: s.msg };
}

/** ndjson body of records for POST /ingest. */
export function ndjson(lines: Array<{ app: string; message: string; process?: string }>): string {
  const now = Date.now();
  return lines.map((l) => JSON.stringify({ app: l.app, source: 'app', process: l.process ?? 'web.1', stream: 'stdout', time: now, message: l.message })).join('\n') + '\n';
}

export async function postLines(base: string, lines: Array<{ app: string; message: string }>): Promise<number> {
  try {
    const r = await httpRequest(`${base}/ingest`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: ndjson(lines) });
    return r.status;
  } catch {
    return 0;
  }
}

/**
 * Removes the log stream, its history stream and its buckets (every stream on a cluster
 * captures `logs.*.*`, so two log streams cannot coexist: tests sharing a cluster start each
 * case from nothing, once the previous case's shuttles are gone).
 */
export async function freshBus(nc: NatsConnection, stream = 'EDGEPLANE_LOGS'): Promise<void> {
  const jsm = await jetstreamManager(nc, { timeout: 10_000 });
  for (const name of [stream, `${stream}_HIST`, `KV_${stream}_LEASES`, `KV_${stream}_DRAINS`]) {
    await waitFor(async () => {
      try {
        await jsm.streams.delete(name);
        return true;
      } catch (err) {
        return /not found/i.test((err as Error).message);
      }
    }, `stream ${name} deleted`, 60_000, 250);
  }
}
