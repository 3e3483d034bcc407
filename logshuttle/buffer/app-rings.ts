import { AppRing } from './app-ring.js';

interface Entry {
  ring: AppRing;
  lastLineAt: number;
}

/**
 * The ring of every app. An app exists from its first line; an app with no line for
 * `idleMs` is forgotten by `evictIdle` unless `isPinned(app)` (someone is tailing it).
 */
export class AppRings {
  private readonly apps = new Map<string, Entry>();
  private readonly history: number;
  private readonly idleMs: number;

  constructor(options: { history: number; idleMs: number }) {
    this.history = options.history;
    this.idleMs = options.idleMs;
  }

  append(app: string, line: string, now: number): void {
    let e = this.apps.get(app);
    if (e === undefined) {
      e = { ring: new AppRing(this.history), lastLineAt: now };
      this.apps.set(app, e);
    }
    e.lastLineAt = now;
    e.ring.push(line);
  }

  get(app: string): AppRing | undefined {
    return this.apps.get(app)?.ring;
  }

  get appCount(): number {
    return this.apps.size;
  }

  /** Forgets apps idle for longer than `idleMs`; returns how many went. */
  evictIdle(now: number, isPinned: (app: string) => boolean): number {
    let n = 0;
    for (const [app, e] of this.apps) {
      if (now - e.lastLineAt > this.idleMs && !isPinned(app)) {
        this.apps.delete(app);
        n++;
      }
    }
    return n;
  }

  /** Totals over all apps, for metrics. */
  totals(): { lines: number; bytesHeld: number; bytesAllocated: number } {
    let lines = 0;
    let bytesHeld = 0;
    let bytesAllocated = 0;
    for (const e of this.apps.values()) {
      lines += e.ring.length;
      bytesHeld += e.ring.bytesHeld;
      bytesAllocated += e.ring.bytesAllocated;
    }
    return { lines, bytesHeld, bytesAllocated };
  }
}
