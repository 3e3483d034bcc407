// Reads a JetStream stream from the start as a test consumer (get-message requests: no state
// left on the server), collecting every message with its subject, sequence, Nats-Msg-Id and the
// decoded msgpack log record.
import { decode } from '@msgpack/msgpack';
import type { NatsConnection } from '@nats-io/transport-node';
import { JetStreamApiError, jetstreamManager } from '@nats-io/jetstream';
import type { LogRecord } from '../../shared/log-record.js';

export interface StreamMessage {
  seq: number;
  subject: string;
  msgId: string | undefined;
  data: Uint8Array;
  /** the payload decoded as a msgpack map (null when it is not one) */
  record: LogRecord | null;
}

/** NATS subject matching: `*` one token, `>` the rest */
function subjectMatcher(filter: string): (subject: string) => boolean {
  const f = filter.split('.');
  return (subject) => {
    const s = subject.split('.');
    for (let i = 0; i < f.length; i++) {
      if (f[i] === '>') return s.length > i;
      if (i >= s.length || (f[i] !== '*' && f[i] !== s[i])) return false;
    }
    return s.length === f.length;
  };
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
   * Reads by sequence with "get message" requests (up to 64 at once), polling the stream's last
   * sequence. These go to the stream's leader only: no consumer to create through the meta layer,
   * so reading goes on within moments of a failover or a cluster restart. A filter keeps the
   * messages of matching subjects (`*` and `>` as in NATS).
   */
  private async run(): Promise<void> {
    const nc = await this.nc;
    const jsm = await jetstreamManager(nc, { timeout: 3000, checkAPI: false });
    const match = this.filter ? subjectMatcher(this.filter) : () => true;
    let next = 1;
    while (!this.stopped) {
      try {
        const last = (await jsm.streams.info(this.stream)).state.last_seq;
        while (next <= last && !this.stopped) {
          const seqs = Array.from({ length: Math.min(64, last - next + 1) }, (_, i) => next + i);
          const got = await Promise.all(seqs.map((seq) => jsm.streams.getMessage(this.stream, { seq }).catch((err: unknown) => {
            if (err instanceof JetStreamApiError && err.code === 10037) return null; // deleted: skip it
            throw err;
          })));
          for (const m of got) {
            if (!m || !match(m.subject)) continue;
            let record: LogRecord | null = null;
            try { record = decode(m.data) as LogRecord; } catch { /* not msgpack */ }
            this.messages.push({ seq: m.seq, subject: m.subject, msgId: m.header?.get('Nats-Msg-Id') || undefined, data: m.data, record });
          }
          next += seqs.length;
        }
      } catch (err) {
        this.error = err;
      }
      if (!this.stopped) await new Promise((r) => setTimeout(r, 100));
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
