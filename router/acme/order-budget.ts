/**
 * The global cap on new ACME orders: at most `perMinute` started in any 60 s (a sliding
 * window). It bounds what on-demand names can cost (each approved name is an order) and keeps
 * a router well inside a CA's rate limits.
 */
export class OrderBudget {
  private readonly started: number[] = [];

  constructor(private perMinute: number, private readonly now: () => number = Date.now) {}

  set limit(n: number) {
    this.perMinute = n;
  }

  /** Takes one order's place when there is one. */
  take(): boolean {
    const now = this.now();
    while (this.started.length > 0 && now - this.started[0] >= 60000) this.started.shift();
    if (this.started.length >= this.perMinute) return false;
    this.started.push(now);
    return true;
  }
}
