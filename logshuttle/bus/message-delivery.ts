import type { JsMsg } from '@nats-io/jetstream';
import type { LogRecord } from '../../shared/log-record.js';
import type { Logger } from '../../shared/logger.js';
import type { ShuttleCore } from '../shuttle-core.js';
import { cleanRecord, recordProblem } from '../ingest/record-check.js';
import { readOneValue } from '../ingest/msgpack-record-reader.js';
import type { AckTracker } from './ack-tracker.js';
import type { BusDrainSet } from './bus-drain-set.js';
import { SKIP_DRAINS_HEADER, SKIP_DRAINS_VALUE } from './platform-line.js';

const LOG_EVERY_MS = 5000;

/** the bad-message reason of each message readOneValue cannot take as a value */
const FATAL_REASONS = {
  undecodable: 'not a msgpack value',
  incomplete: 'incomplete msgpack value',
  'trailing bytes': 'bytes after the msgpack value',
  'too large': 'record over 1 MiB',
} as const;

/** Counts of what the partition consumers took from the bus. */
export interface DeliveryCounts {
  delivered: number;
  /** messages that were not a valid msgpack log record: counted, acknowledged, skipped */
  bad: Map<string, number>;
}

/**
 * A bus message's line as the core takes it: the record, or why it is not one. A message is
 * exactly one msgpack value, read with the msgpack ingest's bounds (readOneValue: walked before
 * anything is decoded, only a flat map built, nested values never), so a hostile message costs
 * no more than its bytes plus one flat record, at any depth or element count.
 */
export function recordOf(data: Uint8Array): LogRecord | string {
  const r = readOneValue(data);
  if (r.kind === 'fatal') return FATAL_REASONS[r.reason];
  if (r.kind === 'skipped') return r.reason;
  const problem = recordProblem(r.value);
  return problem ?? cleanRecord(r.value as LogRecord);
}

/**
 * Hands one bus message to the shuttle: the existing core path (ring, tails, drains), with the
 * stream sequence as the drain frames' MSGID and a ticket that acknowledges the message once
 * every drain of the app wrote it (AckTracker). A message that is not a valid record is
 * counted and acknowledged at once: skipped, never redelivered. A platform line marked
 * SKIP_DRAINS goes to the ring only and is acknowledged at once.
 */
export function messageDelivery(core: ShuttleCore, drains: BusDrainSet, tracker: AckTracker, counts: DeliveryCounts, logger: Logger) {
  let lastLog = 0;
  return (m: JsMsg, partition: number): void => {
    const r = recordOf(m.data);
    if (typeof r === 'string') {
      counts.bad.set(r, (counts.bad.get(r) ?? 0) + 1);
      const now = Date.now();
      if (now - lastLog > LOG_EVERY_MS) {
        lastLog = now;
        logger.warn({ partition, seq: m.seq, subject: m.subject, reason: r }, 'bad message on the bus skipped');
      }
      m.ack();
      return;
    }
    // a platform line about some replica's drains (L14): the ring only, never the drains; the
    // header is read only for platform lines (every message has headers: Nats-Msg-Id)
    if (r.source === 'platform' && m.headers?.get(SKIP_DRAINS_HEADER) === SKIP_DRAINS_VALUE) {
      core.acceptPlatformLine(r);
      counts.delivered++;
      m.ack();
      return;
    }
    const ticket = tracker.open(partition, m);
    drains.current = { msgid: String(m.seq), ticket };
    try {
      core.accept(r, 'msgpack');
    } finally {
      drains.current = null;
    }
    counts.delivered++;
    ticket.settle();
  };
}
