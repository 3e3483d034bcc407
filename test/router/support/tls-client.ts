import { connect, type ConnectionOptions, type TLSSocket } from 'node:tls';

/** One TLS connection to the router: the certificate it got, and keep-alive GETs on it. */
export interface TlsConnection {
  /** CN of the certificate the server presented */
  cn: string;
  protocol: string | null;
  /** whether the chain and name verified against the CA given */
  authorized: boolean;
  socket: TLSSocket;
  /** a GET on this connection (keep-alive); resolves with the status and body */
  get(host: string, path?: string): Promise<{ status: number; body: string }>;
  close(): void;
}

/**
 * Opens a TLS connection to 127.0.0.1:port with SNI `servername` (none when null). By default
 * the certificate is not verified (so a test can see which one came); `authorized` says
 * whether it would have been.
 */
export function tlsConnect(port: number, servername: string | null, options: ConnectionOptions = {}): Promise<TlsConnection> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1', rejectUnauthorized: false, ...(servername === null ? {} : { servername }), ...options }, () => {
      const cert = socket.getPeerCertificate();
      let buffer = Buffer.alloc(0);
      let waiter: ((r: { status: number; body: string }) => void) | null = null;
      let failer: ((err: Error) => void) | null = null;
      const pump = (): void => {
        if (!waiter) return;
        const end = buffer.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buffer.subarray(0, end).toString('latin1');
        const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
        if (buffer.length < end + 4 + length) return;
        const body = buffer.subarray(end + 4, end + 4 + length).toString('utf8');
        buffer = buffer.subarray(end + 4 + length);
        const w = waiter;
        waiter = null;
        failer = null;
        w({ status: Number(head.split(' ')[1]), body });
      };
      socket.on('data', (d: Buffer) => {
        buffer = Buffer.concat([buffer, d]);
        pump();
      });
      socket.on('close', () => failer?.(new Error('connection closed')));
      resolve({
        cn: String(cert.subject?.CN ?? ''),
        protocol: socket.getProtocol(),
        authorized: socket.authorized,
        socket,
        get(host, path = '/') {
          return new Promise((res, rej) => {
            waiter = res;
            failer = rej;
            socket.write(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
          });
        },
        close: () => socket.destroy(),
      });
    });
    socket.once('error', reject);
  });
}
