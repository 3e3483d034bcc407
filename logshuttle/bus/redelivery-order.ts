/** What the order keeper needs of a bus message: its stream sequence. */
export interface Sequenced {
  readonly seq: number;
}

/**
 * Keeps a partition's lines in stream order while the lines nobody acknowledged come back.
 *
 * When a replica takes a partition over (or lost deliveries on the way), the consumer has
 * `expected` lines delivered before and never acknowledged, all at stream sequences up to
 * `upTo`. The server redelivers them once their ack wait ran out, but nothing makes it send
 * them before newer lines: its redelivery timer may fire after the next pull was answered with
 * newer lines (seen on a loaded machine), and redeliveries need not come in stream order. So
 * from `begin` until every expected redelivery arrived, every message is held (not delivered,
 * not acknowledged) and then released sorted by stream sequence. A deadline bounds the hold:
 * when it passes, what is held goes out in order and the count of missing redeliveries is
 * reported (lines the old owner acknowledged after all).
 */
export class RedeliveryOrder<M extends Sequenced> {
  private upTo = 0;
  private expected = 0;
  private deadline = 0;
  private readonly held = new Map<number, M>();
  private redelivered = 0;
  private maxSeen = 0;
  /** lines that arrived after a line with a higher stream sequence: the hold put them back in order */
  reordered = 0;
  /** redeliveries still missing when the hold ended (0 when all came) */
  missing = 0;
  /** set when a hold ended (for its one report line); the reader clears it */
  released = false;

  /** true while lines are held back for missing redeliveries */
  get holding(): boolean {
    return this.expected > 0;
  }

  /** Starts holding: `expected` unacknowledged lines at stream sequences ≤ `upTo` are due. */
  begin(upTo: number, expected: number, deadline: number): void {
    this.held.clear();
    this.upTo = upTo;
    this.expected = Math.max(0, expected);
    this.deadline = deadline;
    this.redelivered = 0;
    this.maxSeen = 0;
    this.reordered = 0;
    this.missing = 0;
  }

  /** Drops what is held (it stays unacknowledged: the server sends it again) and stops holding. */
  reset(): void {
    this.held.clear();
    this.expected = 0;
  }

  /** Takes one message: the messages to deliver now, in stream order (often just `m`). */
  take(m: M, now: number): M[] {
    if (this.expected === 0) return [m];
    const again = this.held.has(m.seq);
    this.held.set(m.seq, m); // a second delivery of a held line replaces the first
    if (!again) {
      if (m.seq <= this.upTo) this.redelivered++;
      if (m.seq < this.maxSeen) this.reordered++;
      else this.maxSeen = m.seq;
    }
    return this.redelivered >= this.expected || now >= this.deadline ? this.release() : [];
  }

  /** What is held, in stream order, when the deadline passed (else nothing). */
  expire(now: number): M[] {
    return this.expected > 0 && now >= this.deadline ? this.release() : [];
  }

  private release(): M[] {
    this.missing = Math.max(0, this.expected - this.redelivered);
    this.expected = 0;
    this.released = true;
    const out = [...this.held.values()].sort((a, b) => a.seq - b.seq);
    this.held.clear();
    return out;
  }
}
