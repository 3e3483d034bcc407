import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { JWK } from 'jose';

/** A real JWKS key server on loopback that counts its hits; keys and behaviour can change. */
export class JwksServer {
  hits = 0;
  keys: JWK[] = [];
  /** 'ok' serves the keys, 'error' answers 500, 'garbage' answers non-JSON */
  mode: 'ok' | 'error' | 'garbage' = 'ok';
  private server: Server | undefined;
  private port = 0;

  get uri(): string {
    return `http://127.0.0.1:${this.port}/.well-known/jwks.json`;
  }

  async start(port = 0): Promise<this> {
    const server = createServer((req, res) => {
      this.hits++;
      if (this.mode === 'error') {
        res.writeHead(500).end('boom');
      } else if (this.mode === 'garbage') {
        res.writeHead(200, { 'content-type': 'application/json' }).end('<html>not json');
      } else {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: this.keys }));
      }
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
    return this;
  }

  /** stop listening: connections are refused from now on (the port is kept for a restart) */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server === undefined) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** listen again on the same port */
  async restart(): Promise<void> {
    await this.start(this.port);
  }
}
