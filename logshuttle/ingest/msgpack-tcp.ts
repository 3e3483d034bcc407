import { decodeMultiStream } from '@msgpack/msgpack';
import type { Socket } from 'node:net';
import type { LogRecord } from '../../shared/log-record.js';
import type { ListenAddress } from '../config/schema.js';
import type { IngestContext, Listening } from './ingest-context.js';
import { listenTcp } from './tcp-listener.js';
import { recordProblem, cleanRecord } from './record-check.js';
import { socketChunks } from './chunk-queue.js';
import { MAX_RECORD_BYTES } from './record-limits.js';

const DECODE_LIMITS = { maxStrLength: MAX_RECORD_BYTES, maxBinLength: MAX_RECORD_BYTES, maxArrayLength: 1024, maxMapLength: 64, maxExtLength: 1024 };

/**
 * Reads a stream of msgpack records from one connection. A value that decodes but is not a
 * valid record is counted and skipped; bytes that do not decode, and a string over
 * MAX_RECORD_BYTES (1 MiB: the decoder cannot skip it and stay in step), close this
 * connection only, counted by reason. A partial record when the stream ends is dropped.
 */
export async function readMsgpackStream(source: AsyncIterable<Uint8Array>, ctx: IngestContext, peerFailed: () => boolean = () => false): Promise<'end' | 'garbage'> {
  try {
    for await (const value of decodeMultiStream<undefined>(source, DECODE_LIMITS)) {
      const problem = recordProblem(value);
      if (problem) ctx.bad.report('msgpack', problem);
      else if (ctx.bus) {
        ctx.bus.publish(cleanRecord(value as LogRecord), 'msgpack');
        // the outbox is deep: stop reading (the socket pauses behind us) until it drains
        if (ctx.bus.congested) await ctx.bus.whenRelieved();
      } else ctx.core.accept(cleanRecord(value as LogRecord), 'msgpack');
    }
    return 'end';
  } catch (err) {
    if (peerFailed()) return 'end'; // a reset connection is not bad input
    const message = (err as Error).message;
    const reason = /max length exceeded/i.test(message) ? 'record over 1 MiB, connection closed' : 'undecodable msgpack, connection closed';
    ctx.bad.report('msgpack', reason, message);
    return 'garbage';
  }
}

/** The msgpack record ingest (`listen.ingest`), the router's path. */
export function listenMsgpack(address: ListenAddress, ctx: IngestContext): Promise<Listening> {
  return listenTcp(address, (socket: Socket) => {
    let failed = false;
    socket.on('error', () => { failed = true; });
    void readMsgpackStream(socketChunks(socket), ctx, () => failed).then((how) => {
      if (how === 'garbage') socket.destroy();
    });
  });
}
