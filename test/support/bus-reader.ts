// Reads a JetStream stream from the start as a test consumer (an ordered consumer: no state
// left on the server), collecting every message with its subject, sequence, Nats-Msg-Id and the
// decoded msgpack log record.
import { decode } from '@msgpack/msgpack';
import type { NatsConnection } from '@nats-io/transport-node';
import { DeliverPolicy, jetstream } from '@nats-io/jetstream';
import type { LogRecord } from '../../shared/log-record.js';

export interface StreamMessage {
  seq: number;
  subject: string;
  msgId: string | undefined;
  data: Uint8Array;
  /** the payload decoded as a msgpack map (null when it is not one) */
  record: LogRecord | null;
}

export class StreamReader {
  readonly messages: StreamMessage[] = [];
  private stopped = false;
  private error: unknown = null;

  private constructor(private readonly nc: NatsConnection | Promise<NatsConnection>, private readonly stream: string, private readonly filter?: string) {}

  /** starts reading `stream` (retried until the stream exists; a promised client is awaited) */
  static start(nc: NatsConnection | Promise<NatsConnection>, stream: string, filter?: string): StreamReader {
    const r = new StreamReader(nc, stream, filter);
    void r.run();
    return r;
  }

  /**
   * Fetches in rounds from an ordered consumer that starts after the last sequence read. A
   * round that brings nothing while the stream holds more (a consumer left stale by a cluster
   * restart) makes a new consumer, so reading resumes within seconds of the bus coming back.
   */
  private async run(): Promise<void> {
    const nc = await this.nc;
    const js = jetstream(nc, { timeout: 10000 });
    const jsm = await js.jetstreamManager();
    let lastSeq = 0;
    while (!this.stopped) {
      try {
        const c = await js.consumers.get(this.stream, {
          ...(this.filter ? { filter_subjects: this.filter } : {}),
          ...(lastSeq > 0 ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: lastSeq + 1 } : {}),
        });
        while (!this.stopped) {
          const batch = await c.fetch({ max_messages: 1000, expires: 1000 });
          let n = 0;
          for await (const m of batch) {
            n++;
            lastSeq = m.seq;
            let record: LogRecord | null = null;
            try { record = decode(m.data) as LogRecord; } catch { /* not msgpack */ }
            this.messages.push({ seq: m.seq, subject: m.subject, msgId: m.headers?.get('Nats-Msg-Id') || undefined, data: m.data, record });
          }
          if (n === 0 && !this.filter && (await jsm.streams.info(this.stream)).state.last_seq > lastSeq) break; // stale: a new consumer
        }
      } catch (err) {
        this.error = err;
        if (!this.stopped) await new Promise((r) => setTimeout(r, 250));
      }
    }
  }

  /** polls until `check(messages)` holds; the deadline only bounds a hang */
  async until(check: (msgs: StreamMessage[]) => boolean, timeoutMs = 60000, what = 'stream condition'): Promise<StreamMessage[]> {
    const end = Date.now() + timeoutMs;
    while (!check(this.messages)) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}: ${this.messages.length} messages read${this.error ? `, last error ${String(this.error)}` : ''}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    return this.messages;
  }

  stop(): void {
    this.stopped = true;
  }
}
