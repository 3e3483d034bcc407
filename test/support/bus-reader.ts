// Reads a JetStream stream from the start as a test consumer (an ordered consumer: no state
// left on the server), collecting every message with its subject, sequence, Nats-Msg-Id and the
// decoded msgpack log record.
import { decode } from '@msgpack/msgpack';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream, type ConsumerMessages } from '@nats-io/jetstream';
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
  private iter: ConsumerMessages | null = null;
  private stopped = false;
  private error: unknown = null;

  private constructor(private readonly nc: NatsConnection, private readonly stream: string, private readonly filter?: string) {}

  /** starts reading `stream` (retried until the stream exists) */
  static start(nc: NatsConnection, stream: string, filter?: string): StreamReader {
    const r = new StreamReader(nc, stream, filter);
    void r.run();
    return r;
  }

  private async run(): Promise<void> {
    const js = jetstream(this.nc, { timeout: 10000 });
    while (!this.stopped) {
      try {
        const c = await js.consumers.get(this.stream, this.filter ? { filter_subjects: this.filter } : {});
        this.iter = await c.consume({ max_messages: 500 });
        for await (const m of this.iter) {
          let record: LogRecord | null = null;
          try { record = decode(m.data) as LogRecord; } catch { /* not msgpack */ }
          this.messages.push({ seq: m.seq, subject: m.subject, msgId: m.headers?.get('Nats-Msg-Id') || undefined, data: m.data, record });
        }
        return;
      } catch (err) {
        this.error = err;
        await new Promise((r) => setTimeout(r, 250));
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
    this.iter?.stop();
  }
}
