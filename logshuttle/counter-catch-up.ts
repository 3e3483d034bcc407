import { Counter, type Registry } from 'prom-client';

/** Running totals, each with the labels it is counted under. */
export type Totals = () => Iterable<readonly [labels: Record<string, string>, total: number]>;

/**
 * Hot-path counts are plain running totals; a counter's `collect()` copies them in when scraped.
 * The counter remembers, per label set, the total it reported last, and adds only the growth.
 */
export function totalsCounter(registry: Registry, name: string, help: string, labelNames: readonly string[], totals: Totals): Counter<string> {
  const reported = new Map<string, number>();
  return new Counter({
    name, help, labelNames, registers: [registry],
    collect() {
      for (const [labels, total] of totals()) {
        const key = labelNames.map((l) => labels[l]).join('\0');
        const delta = total - (reported.get(key) ?? 0);
        if (delta > 0) {
          this.inc(labels, delta);
          reported.set(key, total);
        }
      }
    },
  });
}
