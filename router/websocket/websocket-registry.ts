import type { RouteTable } from '../routing/route-table.js';
import type { WebSocketHandshake } from './websocket-handshake.js';

/**
 * The WebSockets of one worker, open ones and handshakes in progress: the metrics gauge, what
 * graceful stop closes (1001), and what a reload closes (1012) when their dyno left the config.
 * A reload does not touch the others: each holds its own `ws` connection to its dyno (not the
 * HTTP pool that a reload may close) and the table it was routed with.
 */
export class WebSocketRegistry {
  private readonly live = new Set<WebSocketHandshake>();
  private closing = false;

  /** open WebSockets (client upgraded, not yet closed) */
  get size(): number {
    let n = 0;
    for (const h of this.live) if (h.session !== null && h.session.client !== null) n++;
    return n;
  }

  /** open WebSockets whose dyno socket is paused because the client is slow (for tests and metrics) */
  get pausedCount(): number {
    let n = 0;
    for (const h of this.live) if (h.session !== null && h.session.paused) n++;
    return n;
  }

  /** whether new upgrades are refused (after closeAll) */
  get stopping(): boolean {
    return this.closing;
  }

  /** A routed upgrade starts; false once closeAll has run (the caller refuses it). */
  admit(h: WebSocketHandshake): boolean {
    if (this.closing) return false;
    this.live.add(h);
    return true;
  }

  /** `h` is over (called once, from its finish). */
  release(h: WebSocketHandshake): void {
    this.live.delete(h);
  }

  /**
   * Closes every WebSocket with `code` (1001 on graceful stop) and refuses new ones; handshakes
   * in progress are abandoned (503). Resolves once every dyno socket is closed, at most after
   * `waitMs` (the rest are cut).
   */
  async closeAll(code = 1001, reason = 'router stopping', waitMs = 2000): Promise<void> {
    this.closing = true;
    const all = [...this.live];
    for (const h of all) h.shutdown(code, reason);
    const end = Date.now() + waitMs;
    while (all.some((h) => h.dynoOpen) && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
    for (const h of all) if (h.dynoOpen) h.upstream!.terminate();
  }

  /**
   * After a reload: closes, with `code`, the WebSockets whose dyno is no longer in the new
   * table. Those to dynos still in the config are left alone. Returns how many closed.
   */
  closeRemoved(table: RouteTable, code = 1012, reason = 'dyno removed'): number {
    const addresses = new Set<string>();
    for (const d of table.dynos) addresses.add(d.address);
    let n = 0;
    for (const h of [...this.live]) {
      if (h.dyno !== null && !addresses.has(h.dyno.address)) {
        h.shutdown(code, reason);
        n++;
      }
    }
    return n;
  }
}
