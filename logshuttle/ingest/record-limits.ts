import { MAX_FRAME_BYTES } from './syslog-framer.js';

/**
 * The largest record the shuttle takes, in bytes (1 MiB): a syslog frame (the framer's
 * MAX_FRAME_BYTES), a msgpack string, an ndjson record's message. Anything larger is refused
 * and counted by reason; anything up to it is kept and split into lines of at most 10,000
 * bytes (split-message.ts).
 */
export const MAX_RECORD_BYTES = MAX_FRAME_BYTES;
