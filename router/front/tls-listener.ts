import uWS from 'uWebSockets.js';
import type { HttpRequest, HttpResponse, TemplatedApp, us_listen_socket } from 'uWebSockets.js';
import { EdgeplaneError } from '../../shared/errors.js';
import { TlsNames, type CertificateSpec } from './tls-names.js';

type Handler = (res: HttpResponse, req: HttpRequest) => void;
/** uWS 20.30 has App.close() (listen sockets and every connection) but not in its typings. */
type ClosableApp = TemplatedApp & { close(): void };

/** The HTTPS listener could not bind (at start, or for a new generation on a reload). */
export class TlsListenError extends EdgeplaneError {
  constructor(host: string, port: number) {
    super('E_TLS_LISTEN', `cannot listen on ${host}:${port} (https)`);
  }
}

interface Generation {
  readonly app: ClosableApp;
  readonly names: TlsNames;
  readonly defaultId: string;
  socket: us_listen_socket | null;
}

/** retired generations kept for their connections; beyond this the oldest is closed */
const MAX_RETIRED = 8;

/**
 * The HTTPS listener of one worker, across certificate changes. A generation is one uWS
 * SSLApp: its default certificate (the config's first, for unknown names and clients without
 * SNI), its SNI names, its listen socket. A reload that only adds names adds them to the live
 * generation. A reload that removes a name, gives a name other files, or changes the default
 * certificate builds a new generation, binds it to the same port (SO_REUSEPORT: the port must
 * be fixed, the WorkerPool resolves port 0 before any worker starts), then closes the old
 * listen socket: new connections get the new certificates at once, connections already open
 * stay on the generation they negotiated (its routers are never freed under them) and are
 * served from the current route table like any other. Retired generations are closed with
 * the worker (close()), or, beyond 8 of them, the oldest first.
 */
export class TlsListener {
  private current: Generation | null = null;
  private readonly retired: Generation[] = [];
  private host = '';
  private port = 0;

  /** `onMissingName`: a handshake named a host no certificate covers (it gets the default one; ACME on demand) */
  constructor(private readonly handler: Handler, private readonly attach?: (app: TemplatedApp) => void,
    private readonly onMissingName?: (hostname: string) => void) {}

  /** Builds the first generation and binds it; returns the actual port. Throws TlsListenError. */
  listen(host: string, port: number, certs: readonly CertificateSpec[], baseDir: string): number {
    const gen = this.build(certs, baseDir);
    gen.socket = this.bind(gen, host, port);
    this.host = host;
    this.port = uWS.us_socket_local_port(gen.socket as unknown as uWS.us_socket);
    this.current = gen;
    return this.port;
  }

  /** A new config's certificates (validated before): in place, or a new generation. */
  apply(certs: readonly CertificateSpec[], baseDir: string): 'in-place' | 'new-generation' {
    const live = this.current;
    if (live === null) throw new Error('TlsListener.apply before listen');
    if (live.defaultId === TlsNames.defaultId(certs, baseDir) && live.names.inPlace(certs, baseDir)) {
      live.names.apply(certs, baseDir);
      return 'in-place';
    }
    if (live.socket === null) throw new Error('TlsListener.apply after stopListening');
    const next = this.build(certs, baseDir);
    try {
      next.socket = this.bind(next, this.host, this.port);
    } catch (err) {
      next.app.close();
      throw err;
    }
    uWS.us_listen_socket_close(live.socket);
    live.socket = null;
    this.current = next;
    this.retired.push(live);
    while (this.retired.length > MAX_RETIRED) this.retired.shift()!.app.close();
    return 'new-generation';
  }

  /** How many generations hold connections (the live one included). */
  get generations(): number {
    return this.retired.length + (this.current ? 1 : 0);
  }

  /** Closes the live listen socket: new connections are refused, open ones go on. */
  stopListening(): void {
    if (this.current?.socket) {
      uWS.us_listen_socket_close(this.current.socket);
      this.current.socket = null;
    }
  }

  /** Closes every generation and every connection on it. */
  close(): void {
    this.stopListening();
    for (const g of this.retired.splice(0)) g.app.close();
    this.current?.app.close();
    this.current = null;
  }

  private build(certs: readonly CertificateSpec[], baseDir: string): Generation {
    const app = uWS.SSLApp(TlsNames.defaultOptions(certs, baseDir)) as ClosableApp;
    // the default (unknown names) routes first: domain() in TlsNames scopes later registrations
    app.any('/*', this.handler);
    this.attach?.(app);
    if (this.onMissingName) app.missingServerName(this.onMissingName);
    const names = new TlsNames(app, this.handler, this.attach);
    names.apply(certs, baseDir);
    return { app, names, defaultId: TlsNames.defaultId(certs, baseDir), socket: null };
  }

  private bind(gen: Generation, host: string, port: number): us_listen_socket {
    let socket: us_listen_socket | false = false;
    // uWS calls back synchronously
    gen.app.listen(host, port, (s) => {
      socket = s;
    });
    if (socket === false) throw new TlsListenError(host, port);
    return socket;
  }
}
