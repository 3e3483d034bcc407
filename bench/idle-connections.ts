/**
 * 10,000 idle keep-alive client connections to the router (1 worker): each connection sends one
 * GET, reads the answer, then stays open and idle. The router's RSS before (warmed up, one
 * request served) and with all connections open, and the cost per connection. The bench raises
 * the open-files limit itself: prlimit on this process and on the router (65,536, or the hard
 * limit when that cannot be raised, as in a container without CAP_SYS_RESOURCE).
 * uWS closes HTTP connections idle for 10 s (not configurable), so each open connection sends a
 * request every ~6 s (10,000 connections: ~1,700 req/s, mostly idle) until the figure is taken;
 * a request goes only once the previous answer is in (uWS drops a connection that pipelines
 * behind a pending response); the row says how many were open at that moment.
 *
 *   npm run build && node dist/bench/idle-connections.js [--connections 10000]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startBackend } from './lib/backend.js';
import { SUBJECT_CPU } from './lib/pinning.js';
import { stopChild, treeRssMb } from './lib/processes.js';
import { BENCH_HOST, benchRouterConfig, startRouter, type RouterProcess } from './lib/router-process.js';
import { requireTools } from './lib/tools.js';

export interface IdleConnectionFigures {
  wanted: number;
  open: number;
  rssBeforeMb: number;
  rssAfterMb: number;
  kbPerConnection: number;
  openSeconds: number;
  nofile: number;
}

const WANT_NOFILE = 65_536;

/** The hard RLIMIT_NOFILE of this process (a sandbox may forbid raising it). */
function hardNofile(): number {
  const r = spawnSync('prlimit', ['--pid', String(process.pid), '--nofile', '--raw', '--noheadings', '--output', 'HARD'], { encoding: 'utf8' });
  const n = Number(r.stdout.trim());
  return r.stdout.trim() === 'unlimited' ? WANT_NOFILE : Number.isFinite(n) && n > 0 ? n : 1024;
}
const REQUEST = Buffer.from(`GET /idle HTTP/1.1\r\nHost: ${BENCH_HOST}\r\n\r\n`);

/** A keep-alive client connection; `busy` while a request is waiting for its answer. */
interface Conn { socket: net.Socket; busy: boolean }

/** One keep-alive connection that has had one full answer (one request at a time: never pipelined). */
function openOne(port: number, closed: { n: number }): Promise<Conn> {
  return new Promise((resolve, reject) => {
    const conn: Conn = { socket: net.connect(port, '127.0.0.1', () => conn.socket.write(REQUEST)), busy: true };
    let got = '';
    conn.socket.on('data', (c: Buffer) => {
      got += c.toString('latin1');
      if (got.endsWith('Hello, world!')) {
        got = '';
        if (conn.busy) {
          conn.busy = false;
          resolve(conn);
        }
      }
    });
    conn.socket.once('error', reject);
    conn.socket.once('close', () => closed.n++);
  });
}

/** Sends the next request on an open connection whose last answer has arrived. */
function ping(conn: Conn): void {
  if (conn.busy || conn.socket.destroyed) return;
  conn.busy = true;
  conn.socket.write(REQUEST);
}

export async function measureIdleConnections(connections = 10_000, log: (l: string) => void = (l) => process.stderr.write(`${l}\n`)): Promise<IdleConnectionFigures> {
  requireTools(['prlimit']);
  // as high as allowed: 65,536 when the hard limit may be raised (root), else the hard limit
  let NOFILE = WANT_NOFILE;
  if (spawnSync('prlimit', ['--pid', String(process.pid), `--nofile=${NOFILE}:${NOFILE}`]).status !== 0) {
    NOFILE = hardNofile();
    spawnSync('prlimit', ['--pid', String(process.pid), `--nofile=${NOFILE}:${NOFILE}`]);
  }
  if (NOFILE < connections + 100) throw new Error(`open-files limit ${NOFILE} is too low for ${connections} connections (raise the hard limit: ulimit -Hn)`);
  const dir = mkdtempSync(join(tmpdir(), 'edgeplane-bench-idle-'));
  const backend = await startBackend(SUBJECT_CPU, NOFILE);
  let router: RouterProcess | null = null;
  const sockets: Conn[] = [];
  let ticker: NodeJS.Timeout | null = null;
  try {
    router = await startRouter({ dir, name: 'router-idle', cpu: SUBJECT_CPU, nofile: NOFILE, config: benchRouterConfig([`127.0.0.1:${backend.port}`], 1) });
    const port = router.ports.http!;
    const closed = { n: 0 };
    (await openOne(port, closed)).socket.destroy();
    await new Promise((r) => setTimeout(r, 1000));
    const rssBeforeMb = treeRssMb(router.child.pid);
    // a request on every open connection every ~6 s (60 slices, one each 100 ms): under uWS's 10 s idle cut
    let slice = 0;
    ticker = setInterval(() => {
      for (let i = slice % 60; i < sockets.length; i += 60) ping(sockets[i]);
      slice++;
    }, 100);
    const t0 = performance.now();
    const batch = 250;
    for (let i = 0; i < connections; i += batch) {
      const n = Math.min(batch, connections - i);
      sockets.push(...(await Promise.all(Array.from({ length: n }, () => openOne(port, closed)))));
    }
    const openSeconds = (performance.now() - t0) / 1000;
    await new Promise((r) => setTimeout(r, 500));
    const rssAfterMb = treeRssMb(router.child.pid);
    const open = connections - closed.n + 1; // the warm-up connection's close is counted too
    log(`idle: ${open} of ${connections} connections open after ${openSeconds.toFixed(1)} s; router RSS ${rssBeforeMb.toFixed(0)} -> ${rssAfterMb.toFixed(0)} MiB`);
    return { wanted: connections, open, rssBeforeMb, rssAfterMb, kbPerConnection: ((rssAfterMb - rssBeforeMb) * 1024) / Math.max(1, open), openSeconds, nofile: NOFILE };
  } finally {
    if (ticker) clearInterval(ticker);
    for (const c of sockets) c.socket.destroy();
    if (router) await stopChild(router.child);
    await stopChild(backend.child);
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { connections: { type: 'string' } } });
  const f = await measureIdleConnections(values.connections ? Number(values.connections) : undefined);
  process.stdout.write(`${JSON.stringify(f)}\n`);
}
