import { decodeMultiStream } from '@msgpack/msgpack';
import type { Socket } from 'node:net';
import type { LogRecord } from '../../shared/log-record.js';
import type { ListenAddress } from '../config/schema.js';
import type { IngestContext, Listening } from './ingest-context.js';
import { listenTcp } from './tcp-listener.js';
import { recordProblem, cleanRecord } from './record-check.js';

const DECODE_LIMITS = { maxStrLength: 1024 * 1024, maxBinLength: 1024 * 1024, maxArrayLength: 1024, maxMapLength: 64, maxExtLength: 1024 };

/**
 * Reads a stream of msgpack records from one connection. A value that decodes but is not a
 * valid record is counted and skipped; bytes that do not decode close this connection only.
 */
export async function readMsgpackStream(source: AsyncIterable<Uint8Array>, ctx: IngestContext, peerFailed: () => boolean = () => false): Promise<'end' | 'garbage'> {
  try {
    for await (const value of decodeMultiStream<undefined>(source, DECODE_LIMITS)) {
      const problem = recordProblem(value);
      if (problem) ctx.bad.report('msgpack', problem);
      else ctx.core.accept(cleanRecord(value as LogRecord), 'msgpack');
    }
    return 'end';
  } catch (err) {
    if (peerFailed()) return 'end'; // a reset connection is not bad input
    ctx.bad.report('msgpack', 'undecodable msgpack, connection closed', (err as Error).message);
    return 'garbage';
  }
}

/** The msgpack record ingest (`listen.ingest`), the router's path. */
export function listenMsgpack(address: ListenAddress, ctx: IngestContext): Promise<Listening> {
  return listenTcp(address, (socket: Socket) => {
    let failed = false;
    socket.on('error', () => { failed = true; });
    void readMsgpackStream(socket, ctx, () => failed).then((how) => {
      if (how === 'garbage') socket.destroy();
    });
  });
}
