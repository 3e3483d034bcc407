/**
 * A bench-only preload (`node --require dist/bench/lib/memory-probe.js …`: it runs in every
 * thread, worker threads included) that writes, once a second, this thread's memory as V8 and
 * Node see it to `$MEMORY_PROBE_OUT/mem-<pid>-<threadId>.json` (overwritten: the file holds the
 * latest snapshot): `process.memoryUsage()` (heap used/total, external, arrayBuffers of this
 * isolate; rss is the process's) and `v8.getHeapSpaceStatistics()` (new, old, code, large
 * object spaces: size and used). bench/router-memory.ts reads them. Nothing here is product code.
 */
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { getHeapSpaceStatistics } from 'node:v8';
import { isMainThread, threadId } from 'node:worker_threads';

export interface MemorySnapshot {
  pid: number;
  threadId: number;
  main: boolean;
  at: number;
  usage: NodeJS.MemoryUsage;
  spaces: { name: string; size: number; used: number; physical: number }[];
}

const OUT = process.env.MEMORY_PROBE_OUT;

if (OUT) {
  const file = join(OUT, `mem-${process.pid}-${threadId}.json`);
  const write = (): void => {
    const snap: MemorySnapshot = {
      pid: process.pid, threadId, main: isMainThread, at: Date.now(), usage: process.memoryUsage(),
      spaces: getHeapSpaceStatistics().map((s) => ({ name: s.space_name, size: s.space_size, used: s.space_used_size, physical: s.physical_space_size })),
    };
    try {
      writeFileSync(`${file}.tmp`, JSON.stringify(snap));
      renameSync(`${file}.tmp`, file);
    } catch {
      // the directory is gone
    }
  };
  setInterval(write, 1000).unref();
}
