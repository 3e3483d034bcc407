/** What graceful stop does to a request still in flight at its deadline. */
export interface Cuttable {
  /** 503 when nothing of the response was sent yet, else the connection is cut; logged `code=shutdown` */
  cutForShutdown(): void;
  /** where it is in the in-flight list (InFlight's own bookkeeping; -1 when not in it) */
  inFlightSlot: number;
}

/**
 * The HTTP exchanges in flight in one worker: the one count (metrics' in-flight gauge) and the
 * one set graceful stop waits on, then cuts. An exchange joins when the front has routed it
 * (admit) and leaves when it is over (release), whatever ended it.
 */
export class InFlight<T extends Cuttable = Cuttable> {
  /** the requests in flight, in no order (a request knows its slot: removal swaps the last one in; no entry allocated per request) */
  private live: T[] = [];
  /** graceful stop's deadline has passed: whatever starts now is cut at once */
  private cut = false;
  private onIdle: (() => void) | null = null;

  get size(): number {
    return this.live.length;
  }

  /** A routed request starts. False after cutAll(): the caller cuts it itself. */
  admit(r: T): boolean {
    if (this.cut) return false;
    r.inFlightSlot = this.live.length;
    this.live.push(r);
    return true;
  }

  /** `r` is over (called once, from its finish). */
  release(r: T): void {
    const live = this.live;
    const i = r.inFlightSlot;
    if (i < 0 || i >= live.length || live[i] !== r) return;
    r.inFlightSlot = -1;
    const last = live.pop()!;
    if (last !== r) {
      live[i] = last;
      last.inFlightSlot = i;
    }
    if (live.length === 0 && this.onIdle !== null) {
      const idle = this.onIdle;
      this.onIdle = null;
      idle();
    }
  }

  /** Resolves once nothing is in flight, or after `deadlineMs`; true when nothing is left. */
  async drained(deadlineMs: number): Promise<boolean> {
    if (this.live.length > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, deadlineMs);
        timer.unref();
        this.onIdle = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.onIdle = null;
    }
    return this.live.length === 0;
  }

  /**
   * Graceful stop's deadline: every request still in flight is cut (cutForShutdown), and any
   * that starts later is cut at once. Call before the connections close (a closed connection
   * cannot be answered). Returns how many were cut.
   */
  cutAll(): number {
    this.cut = true;
    const all = this.live;
    this.live = [];
    for (const r of all) r.inFlightSlot = -1;
    for (const r of all) r.cutForShutdown();
    return all.length;
  }
}
