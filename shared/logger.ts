import { pino, type Logger } from 'pino';

/**
 * The programs' own logs (not app log lines): JSON on stderr, so stdout stays free for the
 * router's access lines. Level from LOG_LEVEL (default info).
 */
export function createLogger(name: string): Logger {
  return pino({ name, level: process.env.LOG_LEVEL ?? 'info' }, pino.destination({ fd: 2, sync: false }));
}

export type { Logger };
