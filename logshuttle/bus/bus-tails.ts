import { DeliverPolicy, type ConsumerMessages, type JetStreamClient, type JsMsg } from '@nats-io/jetstream';
import type { Logger } from '../../shared/logger.js';
import { formatTailLine } from '../tail/format-line.js';
import { recordOf } from './message-delivery.js';

/** What a bus tail starts with: the newest history lines and where the live lines go on. */
export interface TailHistory {
  /** tail lines (LF included), oldest first */
  lines: string[];
  /** the main stream's sequence of the newest line in `<stream>_HIST` for the app (0: none) */
  lastSeq: number;
}

/** A live follow of one app on the bus. */
export interface LiveFollow {
  stop(): void;
}

/** how many history messages one pull asks for */
const HISTORY_PULL = 1000;
/** an ordered consumer left behind (a replica that died) is removed by the server after this */
const INACTIVE_MS = 30_000;

/** The main stream's sequence a `<stream>_HIST` message was sourced from (`Nats-Stream-Source: <stream> <seq> …`). */
export function sourceSequence(m: JsMsg): number {
  const h = m.headers?.get('Nats-Stream-Source') ?? '';
  const seq = Number(h.split(' ')[1]);
  return Number.isSafeInteger(seq) && seq > 0 ? seq : 0;
}

/**
 * Tails in bus mode, the same on every replica whether or not it owns the app's partition.
 * History comes from `<stream>_HIST` (which sources the main stream and keeps `history` lines
 * per subject), read with an ordered consumer filtered on `logs.<p>.<app>`. Its newest message
 * carries the main stream's sequence S it was sourced from; the live lines are an ordered
 * consumer on the main stream, same filter, starting at S + 1. Every line up to S is history,
 * every line after S is live: no gap and no line twice at the junction, even when HIST lags
 * behind the main stream (the lines it has not sourced yet are after S, so they come live).
 */
export class BusTails {
  private readonly follows = new Set<{ app: string; stop(): void; end(): void }>();

  constructor(
    /** the JetStream client once the bus is set up, else null */
    private readonly jsNow: () => JetStreamClient | null,
    private readonly stream: string,
    private readonly subjectOf: (app: string) => string,
    private readonly logger: Logger,
  ) {}

  get histStream(): string {
    return `${this.stream}_HIST`;
  }

  /** The newest `lines` lines of the app's history, and the sequence the live lines start after. */
  async history(app: string, lines: number): Promise<TailHistory> {
    const js = this.jsNow();
    if (js === null) throw new Error('the bus is not reachable yet');
    const oc = await js.consumers.get(this.histStream, {
      filter_subjects: this.subjectOf(app),
      deliver_policy: DeliverPolicy.All,
      inactive_threshold: INACTIVE_MS,
    });
    try {
      let remaining = (await oc.info(true)).num_pending;
      const out: string[] = [];
      let lastSeq = 0;
      while (remaining > 0) {
        const batch = await oc.fetch({ max_messages: Math.min(HISTORY_PULL, remaining), expires: 5000 });
        let got = 0;
        for await (const m of batch) {
          got++;
          remaining = m.info.pending;
          lastSeq = sourceSequence(m) || lastSeq;
          const r = recordOf(m.data);
          if (typeof r !== 'string') {
            out.push(formatTailLine(r));
            if (out.length > lines) out.shift();
          }
          if (remaining === 0) break;
        }
        if (got === 0) throw new Error(`history of ${app} not read: the bus did not answer`);
      }
      return { lines: lines === 0 ? [] : out, lastSeq };
    } finally {
      oc.delete().catch(() => undefined);
    }
  }

  /**
   * Follows the app's lines after main-stream sequence `afterSeq`; `onLine` gets each tail line.
   * An ordered consumer: after a reconnect it resumes after the last line it gave. `onEnd`
   * runs when the shuttle ends every tail (endAll).
   */
  follow(app: string, afterSeq: number, onLine: (line: string) => void, onEnd: () => void): LiveFollow {
    let stopped = false;
    let messages: ConsumerMessages | null = null;
    const handle = {
      app,
      stop: () => {
        stopped = true;
        this.follows.delete(handle);
        messages?.stop();
      },
      end: () => {
        handle.stop();
        onEnd();
      },
    };
    this.follows.add(handle);
    void (async () => {
      let after = afterSeq;
      for (let attempt = 1; !stopped; attempt++) {
        try {
          const js = this.jsNow();
          if (js === null) throw new Error('the bus is not reachable yet');
          const oc = await js.consumers.get(this.stream, {
            filter_subjects: this.subjectOf(app),
            deliver_policy: DeliverPolicy.StartSequence,
            opt_start_seq: after + 1,
            inactive_threshold: INACTIVE_MS,
          });
          if (stopped) {
            oc.delete().catch(() => undefined);
            return;
          }
          messages = await oc.consume({ max_messages: 256 });
          if (stopped) messages.stop();
          attempt = 0;
          for await (const m of messages) {
            after = m.seq;
            const r = recordOf(m.data);
            if (typeof r !== 'string') onLine(formatTailLine(r));
          }
          oc.delete().catch(() => undefined);
        } catch (err) {
          if (!stopped && attempt === 1) this.logger.warn({ app, err: (err as Error).message }, 'live tail from the bus interrupted; resuming');
        }
        if (!stopped) await new Promise((r) => setTimeout(r, Math.min(5000, 250 * Math.max(1, attempt))));
      }
    })();
    return handle;
  }

  /** live follows open */
  get open(): number {
    return this.follows.size;
  }

  /** Ends every live follow and its response (the shuttle is stopping). */
  endAll(): void {
    for (const f of [...this.follows]) f.end();
  }
}
