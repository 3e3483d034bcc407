/** Something with deadlines, checked on every tick while it is watched. */
export interface Ticking {
  onTick(now: number): void;
}

/** Resolution of every upstream deadline (connect, first byte, body idle, keep-alive). */
export const TICK_MS = 100;

const watched = new Set<Ticking>();
let timer: ReturnType<typeof setInterval> | null = null;
/** performance.now() as of the last tick: reading it costs nothing on the request path */
let cached = performance.now();

function tick(): void {
  cached = performance.now();
  for (const w of watched) w.onTick(cached);
}

/**
 * One shared interval for the deadlines of every upstream connection, instead of a timer per
 * request: setting a deadline is a field write. Deadlines are set from a clock that may be one
 * tick old and checked against the real one, so they fire between `ms` and `ms + 2 ticks` late.
 */
export const coarseClock = {
  /** the time to add a timeout to (ms, performance.now() scale) */
  now(): number {
    return cached;
  },

  /** a deadline `ms` from now that never fires early */
  deadline(ms: number): number {
    return cached + ms + TICK_MS;
  },

  watch(w: Ticking): void {
    watched.add(w);
    if (timer === null) {
      cached = performance.now();
      timer = setInterval(tick, TICK_MS);
      timer.unref();
    }
  },

  unwatch(w: Ticking): void {
    watched.delete(w);
    if (watched.size === 0 && timer !== null) {
      clearInterval(timer);
      timer = null;
    }
  },
};
