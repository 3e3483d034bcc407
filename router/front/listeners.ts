import uWS from 'uWebSockets.js';
import type { TemplatedApp, us_listen_socket } from 'uWebSockets.js';
import type { RouterConfig } from '../config/schema.js';
import type { ListenerName } from '../workers/worker-messages.js';
import type { CertificateSpec } from './tls-names.js';
import { ListenError } from '../../shared/errors.js';
import { TlsListener } from './tls-listener.js';
import { RequestFront, type FrontHost } from './request-front.js';
import type { AcmeWorkerState } from '../acme/acme-worker-state.js';

/** A listener the request arrived on. */
export interface ListenerInfo {
  readonly protocol: 'http' | 'https';
  /** as a string, for X-Forwarded-Port */
  readonly port: string;
  /** the internal listener serves only internal apps and sites, the public ones only the others */
  readonly internal: boolean;
}

/** uWS 20.30 has App.close() (listen sockets and every connection, onAborted run) but not in its typings. */
type ClosableApp = TemplatedApp & { close?: () => void };

/**
 * The client-facing listeners of one worker (http, https with SNI names, internal): each a uWS
 * app on the shared port (SO_REUSEPORT) whose every request, plain or upgrade, goes through
 * the listener's RequestFront.
 */
export class Listeners {
  private readonly listenSockets: us_listen_socket[] = [];
  /** every plain listener's app: closed (connections too) once the drain is over */
  private readonly apps: ClosableApp[] = [];
  /** the HTTPS listener across certificate generations (it owns its apps and listen sockets) */
  private tls: TlsListener | null = null;
  /** actual ports by listener name */
  ports: Partial<Record<ListenerName, number>> = {};

  /** `acme`: http-01 answers on the HTTP listener, unknown SNI names reported (router/acme/) */
  constructor(private readonly host: FrontHost, private readonly acme?: { state: AcmeWorkerState; onMissingName: (name: string) => void }) {}

  /**
   * Binds every listener the config names, on `fixed` ports where given (the pool resolved
   * port 0 so that every worker binds the same port). Returns the actual ports.
   */
  async listenAll(listen: RouterConfig['listen'], fixed: Partial<Record<ListenerName, number>>,
    certificates: readonly CertificateSpec[], baseDir: string): Promise<Partial<Record<ListenerName, number>>> {
    const ports: Partial<Record<ListenerName, number>> = {};
    const want: [ListenerName, { host: string; port: number } | undefined, 'http' | 'https', boolean][] = [
      ['http', listen.http, 'http', false],
      ['https', listen.https, 'https', false],
      ['internal', listen.internal, 'http', true],
    ];
    for (const [name, spec, protocol, internal] of want) {
      if (!spec) continue;
      const port = fixed[name] ?? spec.port;
      const listener: ListenerInfo = { protocol, port: String(port), internal };
      const front = new RequestFront(listener, this.host);
      let actual: number;
      if (protocol === 'https') {
        // each generation (an SSLApp) gets the front for its default certificate and for every
        // SNI name, also on reloads
        this.tls = new TlsListener(front.http, front.attachUpgrades, this.acme?.onMissingName);
        actual = this.tls.listen(spec.host, port, certificates, baseDir);
      } else {
        const app: TemplatedApp = uWS.App();
        // http-01 before routing, for any host: uWS's router sends only that prefix there
        if (name === 'http') this.acme?.state.attachChallenges(app, front.http);
        // uWS hands only requests with Sec-WebSocket-Key to the ws route; the rest reach any('/*')
        front.attach(app);
        this.apps.push(app);
        actual = await this.listen(app, name, spec.host, port);
      }
      (listener as { port: string }).port = String(actual);
      ports[name] = actual;
    }
    this.ports = ports;
    return ports;
  }

  private listen(app: TemplatedApp, name: ListenerName, host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      app.listen(host, port, (socket) => {
        if (!socket) {
          reject(new ListenError(host, port, name));
          return;
        }
        this.listenSockets.push(socket);
        resolve(uWS.us_socket_local_port(socket as unknown as uWS.us_socket));
      });
    });
  }

  /** A new config's certificates (validated before): the HTTPS listener's names, in place or a new generation. */
  applyCertificates(certificates: readonly CertificateSpec[], baseDir: string): void {
    this.tls?.apply(certificates, baseDir);
  }

  /** Graceful stop, first step: new connections are refused, open ones go on. */
  stopListening(): void {
    for (const s of this.listenSockets.splice(0)) uWS.us_listen_socket_close(s);
    this.tls?.stopListening();
  }

  /** Closes every app and every connection still open on it. */
  close(): void {
    for (const app of this.apps.splice(0)) app.close?.();
    this.tls?.close();
  }
}
