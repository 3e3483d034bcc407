import { createSocket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import type { ListenAddress } from '../config/schema.js';
import type { IngestContext, Listening } from './ingest-context.js';
import { parseSyslogMessage } from './syslog-message.js';
import { readCanonicalFrame } from './canonical-frame.js';

/** Syslog RFC 5424 over UDP, one message per datagram (`listen.syslog_udp`). */
export function listenSyslogUdp(address: ListenAddress, ctx: IngestContext): Promise<Listening> {
  const socket = createSocket({ type: isIPv6(address.host) ? 'udp6' : 'udp4', recvBufferSize: 4 * 1024 * 1024 });
  socket.on('message', (msg: Buffer) => {
    if (ctx.bus) {
      const r = parseSyslogMessage(msg, 0, msg.length, Date.now());
      if (typeof r === 'string') ctx.bad.report('syslog_udp', r, msg.toString('utf8', 0, Math.min(msg.length, 120)));
      else ctx.bus.publish(r, 'syslog_udp');
      return;
    }
    const fast = readCanonicalFrame(msg, 0, msg.length);
    if (fast !== null) {
      ctx.core.acceptCanonical(fast, 'syslog_udp', msg);
      return;
    }
    const r = parseSyslogMessage(msg, 0, msg.length, Date.now());
    if (typeof r === 'string') ctx.bad.report('syslog_udp', r, msg.toString('utf8', 0, Math.min(msg.length, 120)));
    else ctx.core.accept(r, 'syslog_udp', msg);
  });
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(address.port, address.host, () => {
      socket.off('error', reject);
      socket.on('error', (err) => ctx.logger.warn({ err }, 'syslog udp socket error'));
      resolve({
        port: socket.address().port,
        close: () => new Promise<void>((done) => socket.close(() => done())), // datagrams: nothing to wait for
      });
    });
  });
}
