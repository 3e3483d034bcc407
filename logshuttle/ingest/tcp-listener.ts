import { createServer, type Server, type Socket } from 'node:net';
import type { ListenAddress } from '../config/schema.js';
import type { Listening } from './ingest-context.js';

/**
 * A TCP listener that hands each connection to `onConnection`. Socket errors never reach the
 * process. `close(graceMs)` stops accepting and half-closes every open connection (our FIN
 * tells the sender to stop), then reads on until the sender closes its side, so bytes already
 * on their way are ingested; connections still open after `graceMs` are destroyed.
 */
export function listenTcp(address: ListenAddress, onConnection: (socket: Socket) => void): Promise<Listening> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => socket.destroy());
    socket.on('close', () => sockets.delete(socket));
    onConnection(socket);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(address.port, address.host, () => {
      server.off('error', reject);
      const port = (server.address() as { port: number }).port;
      resolve({
        port,
        close: (graceMs) =>
          new Promise<void>((done) => {
            // the callback runs once every open connection has closed
            const timer = setTimeout(() => {
              for (const s of sockets) s.destroy();
            }, Math.max(0, graceMs));
            server.close(() => {
              clearTimeout(timer);
              done();
            });
            for (const s of sockets) s.end();
          }),
      });
    });
  });
}
