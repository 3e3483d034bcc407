import type { Counter } from 'prom-client';

/** Adds to `counter` (at `labels`) what the running total under `key` grew by since the last call. */
export type CatchUp = (counter: Counter<string>, key: string, labels: Record<string, string>, total: number) => void;

/**
 * Hot-path counts are plain running totals; a counter's `collect()` copies them in when scraped.
 * The catch-up remembers, per key, the total it reported last, and adds only the growth.
 */
export function counterCatchUp(): CatchUp {
  const reported = new Map<string, number>();
  return (counter, key, labels, total) => {
    const delta = total - (reported.get(key) ?? 0);
    if (delta > 0) {
      counter.inc(labels, delta);
      reported.set(key, total);
    }
  };
}
