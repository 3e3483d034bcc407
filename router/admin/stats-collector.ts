import { StatsHistory, type StatsHistoryOptions } from '../metrics/stats-history.js';
import type { EjectedDyno, WorkerSecond } from '../metrics/worker-second.js';

/** What the collector asks every second (the WorkerPool). */
export interface SecondSource {
  /** posts `second` to every ready worker; returns how many were asked */
  collectSeconds(tick: number): number;
}

/** A dyno out of rotation in some workers now (ejection is per worker). */
export interface DynoEjection {
  /** workers holding it out of rotation */
  workers: number;
  /** the longest time until one of them takes it back, ms */
  forMs: number;
}

/** How long a second waits for the workers' answers before it is closed without the missing ones. */
const ANSWER_WAIT_MS = 500;

/**
 * Once a second, asks every worker thread for its counts since the last time (each answers
 * with a WorkerSecond, a few typed arrays) and closes the second in the StatsHistory as soon
 * as all have answered (or after 500 ms: an answer later than that counts in the next second,
 * nothing is lost). Keeps the latest gauges (dynos out of rotation, requests in flight,
 * WebSockets) and tells its listeners (the dashboard's streams) after each second.
 */
export class StatsCollector {
  readonly history: StatsHistory;
  private source: SecondSource | null = null;
  private timer: NodeJS.Timeout | null = null;
  private waitTimer: NodeJS.Timeout | null = null;
  private tick = 0;
  private asked = 0;
  private answered = 0;
  /** this tick's answers so far: worker index -> its gauges */
  private answers = new Map<number, Pick<WorkerSecond, 'ejected' | 'inFlight' | 'websockets'>>();
  private readonly listeners = new Set<() => void>();
  /** the gauges as of the last closed second */
  ejections: ReadonlyMap<string, DynoEjection> = new Map();
  inFlight = 0;
  websockets = 0;
  workersAnswering = 0;

  constructor(options: StatsHistoryOptions = {}, private readonly intervalMs = 1000) {
    this.history = new StatsHistory(options);
  }

  /** Starts asking `source` every second. */
  start(source: SecondSource): void {
    this.source = source;
    this.timer = setInterval(() => this.ask(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.waitTimer) clearTimeout(this.waitTimer);
    this.timer = this.waitTimer = null;
    this.listeners.clear();
  }

  /** A listener called after every closed second; returns its removal. */
  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get subscribers(): number {
    return this.listeners.size;
  }

  /** A worker's answer (WorkerPoolOptions.onSecond). */
  readonly onSecond = (index: number, tick: number, second: WorkerSecond): void => {
    this.history.add(second);
    if (tick !== this.tick || this.waitTimer === null) return; // late: its counts go to the open second
    this.answers.set(index, second);
    if (++this.answered >= this.asked) this.close();
  };

  private ask(): void {
    if (this.waitTimer !== null) this.close();
    this.tick++;
    this.answers = new Map();
    this.answered = 0;
    this.asked = this.source?.collectSeconds(this.tick) ?? 0;
    this.waitTimer = setTimeout(() => this.close(), ANSWER_WAIT_MS);
    this.waitTimer.unref();
    if (this.asked === 0) this.close();
  }

  private close(): void {
    if (this.waitTimer !== null) clearTimeout(this.waitTimer);
    this.waitTimer = null;
    this.history.seal(Date.now());
    const ejections = new Map<string, DynoEjection>();
    let inFlight = 0;
    let websockets = 0;
    for (const a of this.answers.values()) {
      inFlight += a.inFlight;
      websockets += a.websockets;
      for (const d of a.ejected as readonly EjectedDyno[]) {
        const e = ejections.get(d.address);
        if (e === undefined) ejections.set(d.address, { workers: 1, forMs: d.forMs });
        else {
          e.workers++;
          e.forMs = Math.max(e.forMs, d.forMs);
        }
      }
    }
    this.ejections = ejections;
    this.inFlight = inFlight;
    this.websockets = websockets;
    this.workersAnswering = this.answers.size;
    for (const l of this.listeners) l();
  }
}
