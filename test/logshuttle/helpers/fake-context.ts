import { pino } from 'pino';
import type { LogRecord } from '../../../shared/log-record.js';
import { ShuttleCore } from '../../../logshuttle/shuttle-core.js';
import { BadInput } from '../../../logshuttle/ingest/bad-input.js';
import type { IngestContext } from '../../../logshuttle/ingest/ingest-context.js';
import type { DrainSet } from '../../../logshuttle/drains/types.js';
import { parseSyslogMessage } from '../../../logshuttle/ingest/syslog-message.js';

/** An in-process ingest context whose drains record what they are given. */
export function fakeContext(history = 1500): IngestContext & { delivered: LogRecord[] } {
  const core = new ShuttleCore({ history });
  const delivered: LogRecord[] = [];
  const drains: DrainSet = {
    deliver: (r) => void delivered.push(r),
    deliverCanonical: (_app, buf, from, to) => {
      const r = parseSyslogMessage(buf, from, to, Date.now());
      if (typeof r !== 'string') delivered.push(r);
    },
    add: () => { throw new Error('unused'); },
    list: () => [],
    remove: () => false,
    close: async () => {},
  };
  core.setDrains(drains);
  const logger = pino({ level: 'silent' });
  return { core, bad: new BadInput(logger), logger, delivered };
}
