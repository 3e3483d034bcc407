import type { LogRecord } from '../../shared/log-record.js';

/** the tail tag of platform lines, by source */
export const PLATFORM_TAGS = { router: 'akkeris/router', build: 'akkeris/build', platform: 'akkeris/platform' } as const;

let lastTime = NaN;
let lastIso = '';

/** ISO-8601 UTC with milliseconds and `Z`; the last result is cached (lines arrive in bursts). */
export function isoTime(time: number): string {
  if (time !== lastTime) {
    lastTime = time;
    const d = new Date(time);
    lastIso = Number.isNaN(d.getTime()) ? new Date(0).toISOString() : d.toISOString();
  }
  return lastIso;
}

/**
 * A line break inside a message must never break the tail's one-line-per-record framing: CR
 * and LF are shown as the two characters `\r` and `\n`.
 */
export function escapeLineBreaks(text: string): string {
  if (text.indexOf('\n') === -1 && text.indexOf('\r') === -1) return text;
  return text.replace(/\r/g, '\\r').replace(/\n/g, '\\n');
}

/** `app[<process>]` for dyno lines, `akkeris/<source>` for the others. */
export function tailTag(record: LogRecord): string {
  return record.source === 'app' ? `app[${escapeLineBreaks(record.process)}]` : PLATFORM_TAGS[record.source];
}

/** The tail line: `<ISO time> <app> <tag>: <message>` and LF. */
export function formatTailLine(record: LogRecord): string {
  return `${isoTime(record.time)} ${record.app} ${tailTag(record)}: ${escapeLineBreaks(record.message)}\n`;
}
