/**
 * What the HTTP routes need to know about a stop: once `stopping`, POST /ingest answers 503
 * (a keep-alive connection cannot slip lines in while the drains flush) and new live tails
 * are refused; ingest requests already reading their body finish (`inflight`, `whenIdle`).
 */
export class ServerState {
  stopping = false;
  private inflight = 0;
  private waiters: Array<() => void> = [];

  /** an ingest request started reading its body */
  begin(): void {
    this.inflight++;
  }

  /** that request is done (ingested, refused or aborted) */
  end(): void {
    if (--this.inflight > 0) return;
    this.inflight = 0;
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  get inflightIngest(): number {
    return this.inflight;
  }

  /** Resolves when no ingest request is in flight, or after `ms`. */
  whenIdle(ms: number): Promise<void> {
    if (this.inflight === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, Math.max(0, ms));
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
