/**
 * A bench-only preload (`node --import dist/bench/lib/alloc-sampler.js …`): in every worker
 * thread of the process (Node runs `--import` modules in each worker), an inspector session on
 * that thread's own isolate samples allocations with `HeapProfiler.startSampling`, counting the
 * objects scavenges and mark-compacts collect too (`includeObjectsCollectedByMinorGC/MajorGC`):
 * the allocation *rate* by site, which `--heap-prof` cannot give (it keeps only what is alive at
 * exit). Nothing in product code: the router is started with this flag by bench/alloc-profile.ts.
 *
 * Controlled by files in EDGEPLANE_ALLOC_DIR (polled every 50 ms, the timer unref'd): `start`
 * appearing starts sampling, `stop` stops it and writes `alloc-<threadId>.heapprofile` (then
 * `alloc-<threadId>.done`). EDGEPLANE_ALLOC_INTERVAL: the mean sampling interval in bytes
 * (default 4096). EDGEPLANE_ALLOC_MAIN=1 samples the main thread instead (the minimal proxy).
 */
import { existsSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';
import { isMainThread, threadId } from 'node:worker_threads';

const dir = process.env.EDGEPLANE_ALLOC_DIR;
const interval = Number(process.env.EDGEPLANE_ALLOC_INTERVAL ?? 4096);
/** EDGEPLANE_ALLOC_MAIN=1: the main thread instead (a single-threaded subject: the minimal proxy) */
const wanted = process.env.EDGEPLANE_ALLOC_MAIN === '1' ? isMainThread : !isMainThread;

function post(session: Session, method: string, params?: object): Promise<unknown> {
  return new Promise((resolve, reject) => {
    session.post(method, params ?? {}, (err, res) => (err ? reject(err) : resolve(res)));
  });
}

if (wanted && dir !== undefined && dir !== '') {
  const session = new Session();
  session.connect();
  let phase: 'waiting' | 'sampling' | 'done' = 'waiting';
  const poll = setInterval(() => {
    if (phase === 'waiting' && existsSync(join(dir, 'start'))) {
      phase = 'sampling';
      post(session, 'HeapProfiler.enable')
        .then(() => post(session, 'HeapProfiler.startSampling', {
          samplingInterval: interval,
          includeObjectsCollectedByMinorGC: true,
          includeObjectsCollectedByMajorGC: true,
        }))
        .catch((err: unknown) => process.stderr.write(`alloc-sampler: ${String(err)}\n`));
    } else if (phase === 'sampling' && existsSync(join(dir, 'stop'))) {
      phase = 'done';
      clearInterval(poll);
      post(session, 'HeapProfiler.stopSampling')
        .then((res) => {
          const profile = (res as { profile: unknown }).profile;
          writeFileSync(join(dir, `alloc-${threadId}.heapprofile`), JSON.stringify(profile));
          writeFileSync(join(dir, `alloc-${threadId}.done`), '');
          session.disconnect();
        })
        .catch((err: unknown) => process.stderr.write(`alloc-sampler: ${String(err)}\n`));
    }
  }, 50);
  poll.unref();
}
