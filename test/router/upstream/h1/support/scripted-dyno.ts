import type { Socket } from 'node:net';
import { startRawDyno, type RawDyno } from '../../../../support/router-harness.js';

/** One request as a raw dyno read it. */
export interface SeenRequest {
  /** request line and headers, as sent */
  head: string;
  body: Buffer;
  /** 0-based connection number and request number on that connection */
  conn: number;
  seq: number;
  sock: Socket;
}

export interface ScriptedDyno extends RawDyno {
  requests: SeenRequest[];
}

/**
 * A raw TCP dyno that reads HTTP/1.1 requests (head, then a Content-Length or chunked body) one at
 * a time per connection and lets `answer` write whatever bytes it likes (or close, or nothing).
 */
export async function scriptedDyno(answer: (req: SeenRequest) => void): Promise<ScriptedDyno> {
  const requests: SeenRequest[] = [];
  let conns = 0;
  const dyno = await startRawDyno((sock) => {
    const conn = conns++;
    let seq = 0;
    let buf = Buffer.alloc(0);
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end === -1) return;
        const head = buf.subarray(0, end + 4).toString('latin1');
        let rest = buf.subarray(end + 4);
        let body = Buffer.alloc(0);
        const cl = /\r\ncontent-length: *(\d+)/i.exec(head);
        if (cl) {
          const n = Number(cl[1]);
          if (rest.length < n) return;
          body = rest.subarray(0, n);
          rest = rest.subarray(n);
        } else if (/\r\ntransfer-encoding: *chunked/i.test(head)) {
          const last = rest.indexOf('0\r\n\r\n');
          if (last === -1) return;
          const raw = rest.subarray(0, last + 5);
          rest = rest.subarray(last + 5);
          const parts: Buffer[] = [];
          for (let i = 0; i < raw.length;) {
            const eol = raw.indexOf('\r\n', i);
            const size = parseInt(raw.subarray(i, eol).toString('latin1'), 16);
            if (size === 0) break;
            parts.push(raw.subarray(eol + 2, eol + 2 + size));
            i = eol + 2 + size + 2;
          }
          body = Buffer.concat(parts);
        }
        buf = Buffer.from(rest);
        const req = { head, body, conn, seq: seq++, sock };
        requests.push(req);
        answer(req);
      }
    });
  });
  return Object.assign(dyno, { requests });
}

/** A response with a Content-Length body. */
export function ok(body = 'ok', extra = ''): string {
  return `HTTP/1.1 200 OK\r\ncontent-length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`;
}
