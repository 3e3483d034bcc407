/**
 * Reconnecting without printing a line twice. After a break the CLI asks for the whole history
 * again (the shuttle says in `X-History-Lines` how many of the response's first lines are
 * history) and skips the history up to the last line it already printed. To tell repeated
 * identical lines apart, the match is checked against up to `RECENT` lines printed before it.
 * When the history does not contain that line (the shuttle restarted and lost its ring, or
 * more than `history` lines went by), every history line is new and all are printed.
 */
export const RECENT = 64;

/** The last `RECENT` lines printed, oldest first. */
export class RecentLines {
  private readonly lines: string[] = [];

  add(line: string): void {
    this.lines.push(line);
    if (this.lines.length > RECENT * 2) this.lines.splice(0, this.lines.length - RECENT);
  }

  get size(): number {
    return Math.min(this.lines.length, RECENT);
  }

  /** the k-th newest line printed (0 = newest) */
  back(k: number): string {
    return this.lines[this.lines.length - 1 - k];
  }
}

/**
 * How many of `history`'s lines were already printed: the index after the newest position
 * where the history holds the last printed line preceded by the lines printed before it (as far
 * as both go), or 0 (nothing matches: all are new). `matched` tells which.
 */
export function resumePoint(history: readonly string[], recent: RecentLines): { skip: number; matched: boolean } {
  const n = recent.size;
  if (n === 0) return { skip: 0, matched: false };
  const last = recent.back(0);
  for (let i = history.length - 1; i >= 0; i--) {
    if (history[i] !== last) continue;
    let k = 1;
    while (k <= i && k < n && history[i - k] === recent.back(k)) k++;
    if (k > i || k >= n) return { skip: i + 1, matched: true };
  }
  return { skip: 0, matched: false };
}
