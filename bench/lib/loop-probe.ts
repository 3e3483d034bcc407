/**
 * A bench-only preload (`node --require dist/bench/lib/loop-probe.js …`; `--require`, not
 * `--import`, because only `--require` preloads also run in worker threads on Node 20) that
 * records, in every thread that serves HTTP through uWS, what each event-loop turn did:
 *
 * - a turn starts at its first event (a uWS request handler call, or a read on a node:net
 *   socket: the upstream side) and is closed by a setImmediate (the check phase of the same
 *   loop iteration): no immediate is scheduled in a turn without events, so an idle loop still
 *   blocks in epoll (no spinning);
 * - per turn: its end time, its busy time (wall time since the previous closed turn minus the
 *   time the loop spent waiting in epoll, from `performance.eventLoopUtilization()`: timers,
 *   poll callbacks, immediates, everything the thread ran), the time from its first event to its
 *   end, the requests the uWS handler got in it and the socket reads;
 * - per turn, from the thread's own `/proc/thread-self/schedstat` (one pread at its first event
 *   and one at its end): the time the thread was runnable but not running (the run-queue wait:
 *   another thread of the CPU ran, e.g. the backend or V8's GC helpers) inside the turn, and
 *   before it (between the previous turn's end and this turn's first event: the wake-up delay
 *   once epoll had something);
 * - every GC of the thread (PerformanceObserver 'gc': start, duration, kind).
 *
 * At the thread's exit it writes `$LOOP_PROBE_OUT/turns-<pid>-<threadId>.json` (only threads that
 * served a request). Times are epoch milliseconds (`performance.timeOrigin + now`), comparable
 * across processes to the bench's own clock. Nothing here is product code.
 */
import { closeSync, openSync, readSync, writeFileSync } from 'node:fs';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import net from 'node:net';
import { join } from 'node:path';
import { performance, PerformanceObserver } from 'node:perf_hooks';
import { isMainThread, threadId } from 'node:worker_threads';

const OUT = process.env.LOOP_PROBE_OUT;

/** one record per turn: end (epoch ms), busy µs, first-event-to-end µs, requests, reads, run-queue wait µs inside, before */
const FIELDS = 7;
const CAPACITY = 400_000;

export interface ProbeFile {
  pid: number;
  threadId: number;
  main: boolean;
  /** FIELDS numbers per turn */
  turns: number[];
  /** start (epoch ms), duration ms, kind (NODE_PERFORMANCE_GC_*) */
  gcs: number[];
  /** turns dropped because the buffer was full */
  dropped: number;
}

if (OUT) install(OUT);

function install(outDir: string): void {
  const origin = performance.timeOrigin;
  let turns: Float64Array | null = null;
  let n = 0;
  let dropped = 0;
  const gcs: number[] = [];
  let served = false;

  let open = false;
  let first = 0;
  let requests = 0;
  let reads = 0;
  // run-queue wait of this thread (ns, schedstat's second field), read without allocating a string
  let schedFd = -1;
  const schedBuf = Buffer.alloc(128);
  const runDelayNs = (): number => {
    if (schedFd < 0) return 0;
    const len = readSync(schedFd, schedBuf, 0, schedBuf.length, 0);
    let i = 0;
    while (i < len && schedBuf[i] !== 0x20) i++;
    let v = 0;
    for (i++; i < len && schedBuf[i] >= 0x30 && schedBuf[i] <= 0x39; i++) v = v * 10 + (schedBuf[i] - 0x30);
    return v;
  };
  let waitAtStart = 0;
  let waitAtEnd = 0;
  let waitBefore = 0;
  let lastWall = performance.now();
  let lastIdle = performance.eventLoopUtilization().idle;

  const close = (): void => {
    const now = performance.now();
    const idle = performance.eventLoopUtilization().idle;
    turns ??= new Float64Array(CAPACITY * FIELDS);
    if (n < CAPACITY) {
      const o = n * FIELDS;
      turns[o] = origin + now;
      turns[o + 1] = (now - lastWall - (idle - lastIdle)) * 1000;
      turns[o + 2] = (now - first) * 1000;
      turns[o + 3] = requests;
      turns[o + 4] = reads;
      const w = runDelayNs();
      turns[o + 5] = (w - waitAtStart) / 1000;
      turns[o + 6] = waitBefore / 1000;
      waitAtEnd = w;
      n++;
    } else dropped++;
    lastWall = now;
    lastIdle = idle;
    open = false;
    requests = 0;
    reads = 0;
  };
  const mark = (): void => {
    if (!open) {
      open = true;
      first = performance.now();
      if (schedFd < 0 && process.env.LOOP_PROBE_SCHED !== '0') {
        try {
          schedFd = openSync('/proc/thread-self/schedstat', 'r');
          waitAtEnd = runDelayNs();
        } catch {
          schedFd = -2;
        }
      }
      waitAtStart = runDelayNs();
      waitBefore = waitAtEnd === 0 ? 0 : waitAtStart - waitAtEnd;
      setImmediate(close);
    }
  };

  // the client side: every uWS app's request handlers
  const require = createRequire(import.meta.url);
  const uWS = require('uWebSockets.js') as Record<string, (...a: unknown[]) => Record<string, (...a: unknown[]) => unknown>>;
  for (const name of ['App', 'SSLApp']) {
    const create = uWS[name];
    uWS[name] = function probed(this: unknown, ...args: unknown[]) {
      const app = create.apply(this, args);
      const any = app.any;
      app.any = function probedAny(this: unknown, ...a: unknown[]) {
        const handler = a[1] as (res: unknown, req: unknown) => unknown;
        return any.call(this, a[0], (res: unknown, req: unknown) => {
          served = true;
          mark();
          requests++;
          return handler(res, req);
        });
      };
      return app;
    };
  }

  // the upstream side: reads on every node:net client socket (`onread` callbacks or 'data')
  const connect = net.connect;
  const probedConnect = function probedConnect(this: unknown, ...args: unknown[]): net.Socket {
    const opts = args[0];
    if (typeof opts === 'object' && opts !== null && 'onread' in opts) {
      const onread = (opts as { onread: { callback: (n: number, b: Buffer) => unknown } }).onread;
      const cb = onread.callback;
      onread.callback = function probedRead(this: unknown, bytes: number, buf: Buffer) {
        mark();
        reads++;
        return cb.call(this, bytes, buf);
      };
    }
    const s = (connect as (...a: unknown[]) => net.Socket).apply(this, args);
    if (!(typeof opts === 'object' && opts !== null && 'onread' in opts)) {
      s.prependListener('data', () => {
        mark();
        reads++;
      });
    }
    return s;
  };
  net.connect = probedConnect as typeof net.connect;
  net.createConnection = probedConnect as typeof net.createConnection;
  syncBuiltinESMExports();

  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gcs.push(origin + e.startTime, e.duration, ((e as unknown as { detail?: { kind?: number } }).detail)?.kind ?? 0);
  }).observe({ entryTypes: ['gc'] });

  process.on('exit', () => {
    if (schedFd >= 0) closeSync(schedFd);
    if (!served) return;
    const file: ProbeFile = { pid: process.pid, threadId, main: isMainThread, turns: Array.from(turns?.subarray(0, n * FIELDS) ?? []), gcs, dropped };
    try {
      writeFileSync(join(outDir, `turns-${process.pid}-${threadId}.json`), JSON.stringify(file));
    } catch {
      // the directory is gone: the bench ended without us
    }
  });
}
