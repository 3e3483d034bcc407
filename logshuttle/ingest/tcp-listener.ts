import { createServer, type Server, type Socket } from 'node:net';
import type { ListenAddress } from '../config/schema.js';
import type { Listening } from './ingest-context.js';

/**
 * A TCP listener that hands each connection to `onConnection` and remembers open sockets so
 * `close(true)` can end them. Socket errors never reach the process.
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
        close: (force = false) =>
          new Promise<void>((done) => {
            server.close(() => done());
            if (force) for (const s of sockets) s.destroy();
          }),
      });
    });
  });
}
