import { TailStream } from './tail-stream.js';

/**
 * Open tails by app. `publish` queues a line for every tail of its app; writes are coalesced:
 * one flush per event-loop turn for all tails that got lines.
 */
export class TailHub {
  private readonly byApp = new Map<string, Set<TailStream>>();
  private readonly dirty = new Set<TailStream>();
  private scheduled = false;
  private openCount = 0;
  /** L11 drops of tails already closed */
  private droppedClosed = 0;

  add(stream: TailStream): void {
    let set = this.byApp.get(stream.app);
    if (!set) this.byApp.set(stream.app, (set = new Set()));
    set.add(stream);
    this.openCount++;
  }

  remove(stream: TailStream): void {
    const set = this.byApp.get(stream.app);
    if (!set || !set.delete(stream)) return;
    if (set.size === 0) this.byApp.delete(stream.app);
    this.dirty.delete(stream);
    this.openCount--;
    this.droppedClosed += stream.droppedTotal;
    stream.close();
  }

  /** Ends every open tail (the shuttle is stopping). */
  endAll(now = Date.now()): void {
    for (const set of this.byApp.values()) {
      for (const s of [...set]) {
        s.end(now);
        this.remove(s);
      }
    }
  }

  hasTails(app: string): boolean {
    return this.byApp.has(app);
  }

  publish(app: string, line: string, now: number): void {
    const set = this.byApp.get(app);
    if (set === undefined) return;
    for (const s of set) if (s.enqueue(line, now)) this.dirty.add(s);
    if (this.dirty.size > 0 && !this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flushAll);
    }
  }

  private readonly flushAll = (): void => {
    this.scheduled = false;
    const now = Date.now();
    for (const s of this.dirty) s.flush(now);
    this.dirty.clear();
  };

  get open(): number {
    return this.openCount;
  }

  droppedTotal(): number {
    let n = this.droppedClosed;
    for (const set of this.byApp.values()) for (const s of set) n += s.droppedTotal;
    return n;
  }
}
