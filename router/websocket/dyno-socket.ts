import type { ClientRequest } from 'node:http';
import { connect, type Socket } from 'node:net';
import { WebSocket as DynoSocket } from 'ws';
import { MAX_MESSAGE } from './websocket-limits.js';

/** Forwarding headers `ws` must not get: it writes its own handshake (and an upgrade has no body). */
const NOT_TO_WS: ReadonlySet<string> = new Set(['sec-websocket-key', 'sec-websocket-version', 'sec-websocket-extensions',
  'sec-websocket-accept', 'content-length']);

/** The forwarding headers (flat list) as the object `ws` takes (repeated headers joined). */
export function dynoHandshakeHeaders(flat: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < flat.length; i += 2) {
    const k = flat[i];
    if (NOT_TO_WS.has(k)) continue;
    const v = flat[i + 1];
    const prev = out[k];
    out[k] = prev === undefined ? v : `${prev}${k === 'cookie' ? '; ' : ', '}${v}`;
  }
  return out;
}

function splitAddress(address: string): [string, number] {
  const colon = address.lastIndexOf(':');
  let host = address.slice(0, colon);
  if (host.startsWith('[')) host = host.slice(1, -1);
  return [host, Number(address.slice(colon + 1))];
}

/**
 * Opens the router's own `ws` connection to a dyno (never the HTTP pool, which a reload may
 * close): TCP with a connect timeout of `connectMs` (ETIMEDOUT: H19), no compression, pongs
 * left to the client. The request target is `target` exactly as the HTTP exchange sends it (ws
 * would rebuild it through URL parsing, which drops an empty `?` and re-encodes the path).
 */
export function openDynoSocket(address: string, target: string, headers: Record<string, string>, connectMs: number,
  onConnected: () => void): DynoSocket {
  const [host, port] = splitAddress(address);
  return new DynoSocket(`ws://${address}/`, {
    headers,
    perMessageDeflate: false,
    maxPayload: MAX_MESSAGE,
    followRedirects: false,
    autoPong: false,
    createConnection: () => {
      const sock: Socket = connect({ host, port });
      sock.setNoDelay(true);
      const timer = setTimeout(() => {
        sock.destroy(Object.assign(new Error('connect timeout'), { code: 'ETIMEDOUT' }));
      }, connectMs);
      sock.once('connect', () => {
        clearTimeout(timer);
        onConnected();
      });
      sock.once('close', () => clearTimeout(timer));
      return sock;
    },
    finishRequest: (req: ClientRequest) => {
      req.path = target;
      req.end();
    },
  });
}
