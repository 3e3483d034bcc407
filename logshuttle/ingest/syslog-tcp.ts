import type { ListenAddress } from '../config/schema.js';
import type { IngestContext, Listening } from './ingest-context.js';
import { listenTcp } from './tcp-listener.js';
import { SyslogFramer, type FrameHandler } from './syslog-framer.js';
import { parseSyslogMessage } from './syslog-message.js';
import { cleanBytes, readCanonicalFrame } from './canonical-frame.js';

/**
 * Syslog RFC 5424 over TCP, octet-counted or LF-framed per frame (`listen.syslog_tcp`). When
 * the connection ends, a last LF-framed message without its LF is taken; a partial
 * octet-counted frame is counted (`truncated frame at end of stream`).
 */
export function listenSyslogTcp(address: ListenAddress, ctx: IngestContext): Promise<Listening> {
  return listenTcp(address, (socket) => {
    const bus = ctx.bus;
    const framer = new SyslogFramer(syslogFrameHandler(ctx));
    let paused = false;
    socket.on('data', (chunk: Buffer) => {
      framer.push(chunk);
      if (bus?.congested && !paused) {
        // the bus outbox is deep: read no more until it drains (TCP pushes back on the sender)
        paused = true;
        socket.pause();
        void bus.whenRelieved().then(() => {
          paused = false;
          socket.resume();
        });
      }
    });
    // the sender closed (or the connection broke): a last LF frame without its LF still counts
    socket.on('end', () => framer.end());
    socket.on('close', () => framer.end());
  });
}

/**
 * What the syslog TCP ingest does with each frame: in bus mode, parse and publish; otherwise a
 * frame in the drains' own form takes the fast path (its run of frames of one app goes to the
 * drains once the chunk is scanned: `flush`), any other the general path.
 */
export function syslogFrameHandler(ctx: IngestContext): FrameHandler {
  const bus = ctx.bus;
  // the received chunk the frames are in, and whether it is all ASCII without CR or LF
  let chunk: Buffer | null = null;
  let clean = false;
  return {
    frame(buf, start, end, head) {
      if (bus) {
        const r = parseSyslogMessage(buf, start, end, Date.now());
        if (typeof r === 'string') ctx.bad.report('syslog_tcp', r, buf.toString('utf8', start, Math.min(end, start + 120)));
        else bus.publish(r, 'syslog_tcp');
        return;
      }
      if (buf !== chunk) {
        chunk = buf;
        clean = cleanBytes(buf);
      }
      const fast = readCanonicalFrame(buf, start, end, clean);
      if (fast !== null) {
        ctx.core.acceptCanonical(fast, 'syslog_tcp', buf, head);
        return;
      }
      const r = parseSyslogMessage(buf, start, end, Date.now());
      if (typeof r === 'string') ctx.bad.report('syslog_tcp', r, buf.toString('utf8', start, Math.min(end, start + 120)));
      else ctx.core.accept(r, 'syslog_tcp', buf.subarray(start, end));
    },
    bad(reason) {
      ctx.bad.report('syslog_tcp', reason);
    },
    flush() {
      chunk = null;
      ctx.core.flushRun();
    },
  };
}
