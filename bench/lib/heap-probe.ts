/**
 * A bench-only preload (`node --require dist/bench/lib/heap-probe.js …`: it runs in worker
 * threads too) that samples, in every thread that serves uWS requests, the allocations that
 * survive scavenges: the inspector's `HeapProfiler.startSampling` with
 * `includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: false` (objects a
 * minor GC freed are left out; objects that lived long enough to be promoted and died later in a
 * mark-compact are kept). It starts `HEAP_PROBE_DELAY_MS` after the thread's first request
 * (default 3000: past the warm-up), samples for `HEAP_PROBE_MS` (default 5000), and writes
 * `$HEAP_PROBE_OUT/heap-<pid>-<threadId>.heapprofile` (open it in Chrome DevTools, or read it
 * with bench/heap-survivors.ts). With `HEAP_PROBE_SNAPSHOT=1` it takes a heap snapshot instead
 * (after V8's full GC: only what is reachable), `heap-<pid>-<threadId>.heapsnapshot`.
 * Nothing here is product code.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { threadId } from 'node:worker_threads';

const OUT = process.env.HEAP_PROBE_OUT;

if (OUT) {
  const delay = Number(process.env.HEAP_PROBE_DELAY_MS ?? 3000);
  const span = Number(process.env.HEAP_PROBE_MS ?? 5000);
  let started = false;
  const begin = (): void => {
    const session = new Session();
    session.connect();
    if (process.env.HEAP_PROBE_SNAPSHOT === '1') {
      // a heap snapshot (after V8's full GC): what is still reachable, with its retainers
      const chunks: string[] = [];
      session.on('HeapProfiler.addHeapSnapshotChunk', (m) => chunks.push((m.params as { chunk: string }).chunk));
      session.post('HeapProfiler.takeHeapSnapshot', { reportProgress: false } as never, (err) => {
        if (err) process.stderr.write(`heap-probe: ${err.message}\n`);
        else writeFileSync(join(OUT, `heap-${process.pid}-${threadId}.heapsnapshot`), chunks.join(''));
        session.disconnect();
      });
      return;
    }
    session.post('HeapProfiler.startSampling', {
      samplingInterval: Number(process.env.HEAP_PROBE_INTERVAL ?? 4096),
      includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: false,
    } as never, (err) => {
      if (err) {
        process.stderr.write(`heap-probe: ${err.message}\n`);
        return;
      }
      setTimeout(() => {
        session.post('HeapProfiler.stopSampling', (err2, res) => {
          if (err2) process.stderr.write(`heap-probe: ${err2.message}\n`);
          else writeFileSync(join(OUT, `heap-${process.pid}-${threadId}.heapprofile`), JSON.stringify((res as { profile: unknown }).profile));
          session.disconnect();
        });
      }, span).unref();
    });
  };
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
          if (!started) {
            started = true;
            setTimeout(begin, delay).unref();
          }
          return handler(res, req);
        });
      };
      return app;
    };
  }
}
