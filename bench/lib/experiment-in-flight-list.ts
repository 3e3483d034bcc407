/**
 * A bench-only experiment (never product code): preloaded with
 * `node --require dist/bench/lib/experiment-in-flight-list.js`, it replaces, in the router's
 * worker threads, the `Set` of router/upstream/in-flight.ts with an intrusive doubly linked list
 * (two fields on each exchange, no table), the change proposed for that file in
 * bench/PROFILE.md "Router p99". The `Set` under add/delete churn keeps the request graphs of
 * finished exchanges alive through scavenges (measured with `--trace-gc-nvp`: ~2.2 MB survive
 * each scavenge with the Set, ~0.6 MB without it); this lets bench/loop-turns.ts measure the
 * proposal as a third column without touching that file:
 *
 *   node dist/bench/loop-turns.js --router-b="--require $PWD/dist/bench/lib/experiment-in-flight-list.js"
 */
import { createRequire } from 'node:module';
import { isMainThread } from 'node:worker_threads';

interface Linked { ifPrev?: Linked | null; ifNext?: Linked | null; ifIn?: boolean; cutForShutdown(): void }
interface ListState { head: Linked | null; tail: Linked | null; count: number; cut: boolean; onIdle: (() => void) | null }

if (!isMainThread) {
  const require = createRequire(import.meta.url);
  const { InFlight } = require('../../router/upstream/in-flight.js') as { InFlight: { prototype: Record<string, unknown> } };
  const proto = InFlight.prototype;
  const st = (self: unknown): ListState => {
    const s = self as ListState & { ifHead?: boolean };
    if (s.ifHead !== true) {
      s.ifHead = true;
      s.head = null;
      s.tail = null;
      s.count = 0;
    }
    return s;
  };
  Object.defineProperty(proto, 'size', { get(this: unknown) { return st(this).count; }, configurable: true });
  proto.admit = function admit(this: unknown, r: Linked): boolean {
    const s = st(this);
    if (s.cut) return false;
    r.ifIn = true;
    r.ifNext = null;
    r.ifPrev = s.tail;
    if (s.tail !== null) s.tail.ifNext = r;
    else s.head = r;
    s.tail = r;
    s.count++;
    return true;
  };
  proto.release = function release(this: unknown, r: Linked): void {
    const s = st(this);
    if (r.ifIn !== true) return;
    r.ifIn = false;
    const prev = r.ifPrev ?? null;
    const next = r.ifNext ?? null;
    if (prev !== null) prev.ifNext = next;
    else s.head = next;
    if (next !== null) next.ifPrev = prev;
    else s.tail = prev;
    r.ifPrev = null;
    r.ifNext = null;
    s.count--;
    if (s.count === 0 && s.onIdle !== null) {
      const idle = s.onIdle;
      s.onIdle = null;
      idle();
    }
  };
  proto.drained = async function drained(this: unknown, deadlineMs: number): Promise<boolean> {
    const s = st(this);
    if (s.count > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, deadlineMs);
        timer.unref();
        s.onIdle = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      s.onIdle = null;
    }
    return s.count === 0;
  };
  proto.cutAll = function cutAll(this: unknown): number {
    const s = st(this);
    s.cut = true;
    const all: Linked[] = [];
    for (let r = s.head; r !== null; r = r.ifNext ?? null) all.push(r);
    for (const r of all) {
      r.ifIn = false;
      r.ifPrev = null;
      r.ifNext = null;
    }
    s.head = null;
    s.tail = null;
    s.count = 0;
    for (const r of all) r.cutForShutdown();
    return all.length;
  };
}
