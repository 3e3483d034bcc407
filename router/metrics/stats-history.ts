import { CLASS_COUNT, SECOND_STRIDE, type WorkerSecond } from './worker-second.js';
import { LATENCY_BUCKET_COUNT, quantileMs } from './latency-histogram.js';

/** Seconds of history per app. */
export const WINDOW_SECONDS = 60;

export interface StatsHistoryOptions {
  /** apps with a history at most (the busiest, plus those asked for); default 200 */
  capacity?: number;
  /** how long an app asked for by name keeps its history whatever its traffic; default 10 min */
  pinMs?: number;
  /** apps held by being asked for at most (the others then make room); default 32 */
  maxPins?: number;
  now?: () => number;
}

/** One second of one app (or the window summed). */
export interface SecondStats {
  requests: number;
  /** requests by status class 1xx .. 5xx */
  classes: number[];
  p50Ms: number | null;
  p99Ms: number | null;
}

/** The last WINDOW_SECONDS seconds of an app, oldest first. */
export interface AppSeries {
  requests: number[];
  /** one array per status class 1xx .. 5xx */
  classes: number[][];
  p50Ms: (number | null)[];
  p99Ms: (number | null)[];
}

class TrackedApp {
  /** WINDOW_SECONDS slots of SECOND_STRIDE counters, slot = second % WINDOW_SECONDS */
  readonly ring = new Uint32Array(WINDOW_SECONDS * SECOND_STRIDE);
  /** requests per slot (the histogram's sum) */
  readonly requests = new Uint32Array(WINDOW_SECONDS);
  /** requests over the window */
  total = 0;
  /** epoch ms until which it is held whatever its traffic (asked for by name) */
  pinnedUntil = 0;

  /** `since`: the first second (sequence number) it has counts for */
  constructor(readonly name: string, readonly since: number) {}
}

/**
 * The dashboard's request history on the main thread: per app, the last 60 one-second buckets
 * of requests by status class and a latency histogram, merged from every worker's second
 * (worker-second.ts). Memory is bounded whatever the number of apps: at most `capacity` apps
 * have a history (Uint32 counters, about 16 KiB each). When it is full, an app not held whose
 * requests in the last second exceed the quietest held app's whole window takes that app's
 * place (the quietest is forgotten), so the busiest apps are always held; an app asked for by
 * name (pin) is held from then on for `pinMs`, whatever its traffic.
 */
export class StatsHistory {
  private readonly capacity: number;
  private readonly pinMs: number;
  private readonly maxPins: number;
  private readonly now: () => number;
  /** sealed seconds so far */
  private seq = 0;
  /** epoch ms at which each slot's second was sealed */
  private readonly times = new Float64Array(WINDOW_SECONDS);
  private readonly tracked = new Map<string, TrackedApp>();
  /** the open second: counts merged from the workers' answers so far */
  private readonly pending = new Map<string, Uint32Array>();
  private readonly spare: Uint32Array[] = [];

  constructor(options: StatsHistoryOptions = {}) {
    this.capacity = Math.max(1, options.capacity ?? 200);
    this.pinMs = options.pinMs ?? 600_000;
    this.maxPins = Math.min(options.maxPins ?? 32, this.capacity);
    this.now = options.now ?? Date.now;
  }

  /** Adds one worker's answer to the open second. */
  add(second: WorkerSecond): void {
    const { apps, counts } = second;
    for (let i = 0; i < apps.length; i++) {
      let into = this.pending.get(apps[i]);
      if (into === undefined) {
        into = this.spare.pop() ?? new Uint32Array(SECOND_STRIDE);
        this.pending.set(apps[i], into);
      }
      const base = i * SECOND_STRIDE;
      for (let k = 0; k < SECOND_STRIDE; k++) into[k] += counts[base + k];
    }
  }

  /** Closes the open second (at epoch ms `time`): it becomes the newest of every app's window. */
  seal(time: number): void {
    const slot = this.seq % WINDOW_SECONDS;
    const seq = this.seq++;
    this.times[slot] = time;
    for (const app of this.tracked.values()) {
      app.total -= app.requests[slot];
      app.requests[slot] = 0;
      app.ring.fill(0, slot * SECOND_STRIDE, (slot + 1) * SECOND_STRIDE);
    }
    const newcomers: [string, Uint32Array, number][] = [];
    for (const [name, counts] of this.pending) {
      const app = this.tracked.get(name);
      if (app !== undefined) this.put(app, slot, counts);
      else newcomers.push([name, counts, requestsOf(counts)]);
    }
    // the busiest newcomers first: each takes the place of the quietest held app it outnumbers
    newcomers.sort((a, b) => b[2] - a[2]);
    for (const [name, counts, requests] of newcomers) {
      const app = this.makeRoom(requests) ? this.hold(name, seq) : null;
      if (app === null) break;
      this.put(app, slot, counts);
    }
    for (const counts of this.pending.values()) {
      if (this.spare.length >= 1024) break;
      counts.fill(0);
      this.spare.push(counts);
    }
    this.pending.clear();
  }

  /**
   * An app asked for by name: held (its history starts now if it had none) for the next
   * `pinMs`. False when `maxPins` apps are held that way already and it is not one of them.
   */
  pin(name: string): boolean {
    const now = this.now();
    let app = this.tracked.get(name);
    if (app === undefined || app.pinnedUntil <= now) {
      let pins = 0;
      for (const a of this.tracked.values()) if (a.pinnedUntil > now) pins++;
      if (pins >= this.maxPins) return false;
    }
    if (app === undefined) {
      if (!this.makeRoom(Infinity)) return false;
      app = this.hold(name, this.seq);
    }
    app.pinnedUntil = now + this.pinMs;
    return true;
  }

  /** Held apps by requests over the window, busiest first (those without any left out). */
  busiest(limit: number): string[] {
    return [...this.tracked.values()].filter((a) => a.total > 0).sort((a, b) => b.total - a.total || (a.name < b.name ? -1 : 1))
      .slice(0, limit).map((a) => a.name);
  }

  has(name: string): boolean {
    return this.tracked.has(name);
  }

  get size(): number {
    return this.tracked.size;
  }

  /** Epoch ms of each second of the window, oldest first; null before the first second. */
  timeline(): (number | null)[] {
    const out: (number | null)[] = [];
    for (let k = 0; k < WINDOW_SECONDS; k++) {
      const s = this.seq - WINDOW_SECONDS + k;
      out.push(s < 0 ? null : this.times[s % WINDOW_SECONDS]);
    }
    return out;
  }

  /** Epoch ms of the newest second; null before the first. */
  get lastTime(): number | null {
    return this.seq === 0 ? null : this.times[(this.seq - 1) % WINDOW_SECONDS];
  }

  /** The app's newest second; null when it has no history. */
  last(name: string): SecondStats | null {
    const app = this.tracked.get(name);
    if (app === undefined || this.seq === 0) return null;
    return this.statsOf(app.ring, ((this.seq - 1) % WINDOW_SECONDS) * SECOND_STRIDE);
  }

  /** The app's whole window summed; null when it has no history. */
  window(name: string): SecondStats | null {
    const app = this.tracked.get(name);
    if (app === undefined) return null;
    const sum = new Uint32Array(SECOND_STRIDE);
    for (let slot = 0; slot < WINDOW_SECONDS; slot++) {
      if (app.requests[slot] === 0) continue;
      const base = slot * SECOND_STRIDE;
      for (let k = 0; k < SECOND_STRIDE; k++) sum[k] += app.ring[base + k];
    }
    return this.statsOf(sum, 0);
  }

  /** Epoch ms of the first second the app has counts for; null when it has no history. */
  since(name: string): number | null {
    const app = this.tracked.get(name);
    if (app === undefined) return null;
    const first = Math.max(app.since, this.seq - WINDOW_SECONDS);
    return first < this.seq ? this.times[first % WINDOW_SECONDS] : null;
  }

  /** The app's window, oldest second first; null when it has no history. */
  series(name: string): AppSeries | null {
    const app = this.tracked.get(name);
    if (app === undefined) return null;
    const out: AppSeries = { requests: [], classes: Array.from({ length: CLASS_COUNT }, () => []), p50Ms: [], p99Ms: [] };
    for (let k = 0; k < WINDOW_SECONDS; k++) {
      const s = this.seq - WINDOW_SECONDS + k;
      const slot = ((s % WINDOW_SECONDS) + WINDOW_SECONDS) % WINDOW_SECONDS;
      const counted = s >= 0 && s >= app.since;
      const base = slot * SECOND_STRIDE;
      out.requests.push(counted ? app.requests[slot] : 0);
      for (let c = 0; c < CLASS_COUNT; c++) out.classes[c].push(counted ? app.ring[base + c] : 0);
      out.p50Ms.push(counted ? quantileMs(app.ring, base + CLASS_COUNT, 0.5) : null);
      out.p99Ms.push(counted ? quantileMs(app.ring, base + CLASS_COUNT, 0.99) : null);
    }
    return out;
  }

  private statsOf(counts: Uint32Array, base: number): SecondStats {
    return {
      requests: requestsOf(counts, base),
      classes: Array.from(counts.subarray(base, base + CLASS_COUNT)),
      p50Ms: quantileMs(counts, base + CLASS_COUNT, 0.5),
      p99Ms: quantileMs(counts, base + CLASS_COUNT, 0.99),
    };
  }

  private put(app: TrackedApp, slot: number, counts: Uint32Array): void {
    const requests = requestsOf(counts);
    app.ring.set(counts, slot * SECOND_STRIDE);
    app.requests[slot] = requests;
    app.total += requests;
  }

  private hold(name: string, since: number): TrackedApp {
    const app = new TrackedApp(name, since);
    this.tracked.set(name, app);
    return app;
  }

  /**
   * Room for one more app: free already, or made by forgetting the quietest app not pinned,
   * if it counted fewer than `requests` over its window. False when no room can be made.
   */
  private makeRoom(requests: number): boolean {
    if (this.tracked.size < this.capacity) return true;
    const now = this.now();
    let quietest: TrackedApp | null = null;
    for (const a of this.tracked.values()) {
      if (a.pinnedUntil > now) continue;
      if (quietest === null || a.total < quietest.total) quietest = a;
    }
    if (quietest === null || quietest.total >= requests) return false;
    this.tracked.delete(quietest.name);
    return true;
  }
}

/** Requests in one second's counters: the latency histogram's sum (every request is in one bucket). */
function requestsOf(counts: Uint32Array, base = 0): number {
  let n = 0;
  for (let k = CLASS_COUNT; k < CLASS_COUNT + LATENCY_BUCKET_COUNT; k++) n += counts[base + k];
  return n;
}
