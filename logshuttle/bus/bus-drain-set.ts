import type { LogRecord } from '../../shared/log-record.js';
import type { DrainManager } from '../drains/drain-manager.js';
import type { SettleTicket } from '../drains/settle-ticket.js';
import type { DrainInfo, DrainSet } from '../drains/types.js';

/** The bus message whose line the core is handing to the drains right now. */
export interface BusLine {
  /** MSGID of the drain frames: the stream sequence */
  msgid: string;
  ticket: SettleTicket;
}

/**
 * The drain set the core sees in bus mode. The partition consumer sets `current` around its
 * synchronous `core.accept` call, so each line the core hands over (every piece of a split line
 * too) goes to the drains with its stream sequence as MSGID and its message's ticket; lines the
 * core sends outside such a call go the plain way.
 */
export class BusDrainSet implements DrainSet {
  current: BusLine | null = null;

  constructor(readonly manager: DrainManager) {}

  deliver(record: LogRecord): void {
    const c = this.current;
    if (c !== null) this.manager.deliverTicketed(record, c.msgid, c.ticket);
    else this.manager.deliver(record);
  }

  deliverCanonical(app: string, buf: Buffer, from: number, to: number): void {
    this.manager.deliverCanonical(app, buf, from, to);
  }

  add(app: string, url: string): DrainInfo {
    return this.manager.add(app, url);
  }

  list(app: string): DrainInfo[] {
    return this.manager.list(app);
  }

  remove(app: string, id: string): boolean {
    return this.manager.remove(app, id);
  }

  close(deadlineMs: number): Promise<void> {
    return this.manager.close(deadlineMs);
  }
}
