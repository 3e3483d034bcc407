import type { Socket } from 'node:net';
import type { LogRecord } from '../../shared/log-record.js';
import type { ListenAddress } from '../config/schema.js';
import type { IngestContext, Listening } from './ingest-context.js';
import { listenTcp } from './tcp-listener.js';
import { recordProblem, cleanRecord } from './record-check.js';
import { socketChunks } from './chunk-queue.js';
import { MsgpackRecordReader } from './msgpack-record-reader.js';

const FATAL_REASONS = {
  'too large': 'record over 1 MiB, connection closed',
  undecodable: 'undecodable msgpack, connection closed',
} as const;

/**
 * Reads a stream of msgpack records from one connection with bounded memory
 * (MsgpackRecordReader: only flat maps are decoded). A value that is not a valid record (any
 * other shape, nested values at any depth, a bad field) is counted and skipped; bytes that do not
 * decode, and a value over 1 MiB (the reader cannot skip it and stay in step without holding
 * it), close this connection only, counted by reason. A partial record when the stream ends is
 * dropped.
 */
export async function readMsgpackStream(source: AsyncIterable<Uint8Array>, ctx: IngestContext, peerFailed: () => boolean = () => false): Promise<'end' | 'garbage'> {
  const reader = new MsgpackRecordReader();
  try {
    for await (const chunk of source) {
      reader.push(chunk);
      for (let r = reader.next(); r !== null; r = reader.next()) {
        if (r.kind === 'fatal') {
          if (peerFailed()) return 'end';
          ctx.bad.report('msgpack', FATAL_REASONS[r.reason]);
          return 'garbage';
        }
        if (r.kind === 'skipped') {
          ctx.bad.report('msgpack', r.reason);
          continue;
        }
        const problem = recordProblem(r.value);
        if (problem) ctx.bad.report('msgpack', problem);
        else if (ctx.bus) {
          ctx.bus.publish(cleanRecord(r.value as LogRecord), 'msgpack');
          // the outbox is deep: stop reading (the socket pauses behind us) until it drains
          if (ctx.bus.congested) await ctx.bus.whenRelieved();
        } else ctx.core.accept(cleanRecord(r.value as LogRecord), 'msgpack');
      }
    }
    return 'end';
  } catch (err) {
    if (peerFailed()) return 'end'; // a reset connection is not bad input
    ctx.bad.report('msgpack', FATAL_REASONS.undecodable, (err as Error).message);
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
