import type { RunningRouter } from '../../support/router-harness.js';

/** One JSON log line of the router (stderr), parsed. */
export type LogEntry = Record<string, unknown> & { msg?: string };

/** The router's own log lines so far, parsed (non-JSON lines skipped). */
export function logEntries(router: RunningRouter): LogEntry[] {
  const out: LogEntry[] = [];
  for (const line of router.errLines) {
    try {
      out.push(JSON.parse(line) as LogEntry);
    } catch { /* not JSON (e.g. a uWS debug line) */ }
  }
  return out;
}

/** Waits for the `n`-th log line matching `match` (polling), and returns it. */
export async function waitForLog(router: RunningRouter, match: (e: LogEntry) => boolean, what: string, n = 1, timeoutMs = 20000): Promise<LogEntry> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const found = logEntries(router).filter(match);
    if (found.length >= n) return found[n - 1];
    if (Date.now() > end) throw new Error(`no log line for ${what} in ${timeoutMs} ms; log:\n${router.errLines.join('\n')}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
