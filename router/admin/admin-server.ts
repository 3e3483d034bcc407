import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { timingSafeEqual } from 'node:crypto';
import type { Logger } from '../../shared/logger.js';
import { configRoute, type ConfigBackend } from './config-routes.js';
import { dashboardPageRoute } from './dashboard/dashboard-page-route.js';
import { StatsRoutes } from './stats-routes.js';
import type { DashboardSources } from './stats-document.js';

/** What the admin API reads and drives; implemented by main.ts. */
export interface AdminBackend {
  ready(): boolean;
  /** the running config, its revisions and every change to it (the ReloadOwner) */
  config: ConfigBackend;
  metricsText(): Promise<string>;
  canaries(): unknown;
  /** the dashboard's data (GET /dashboard, /stats, /stats/stream: docs/router/dashboard.md) */
  dashboard?: DashboardSources;
  /** only with ROUTER_TEST_HOOKS=1 (README, Test hooks): routes under /debug/ */
  testHooks?: TestHooks;
}

/** Fault injection for tests; never wired unless ROUTER_TEST_HOOKS=1. */
export interface TestHooks {
  /** makes worker `index` throw an uncaught exception; false when there is no such live worker */
  crashWorker(index: number): boolean;
  /** the next config applied is refused by worker `index`; false when there is no such worker */
  failNextApply(index: number): boolean;
}

const DEBUG_ROUTE = /^\/debug\/workers\/([0-9]{1,3})\/(crash|fail-next-apply)$/;

function send(res: ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8', headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

function json(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  send(res, status, JSON.stringify(value, null, 2) + '\n', 'application/json', headers);
}

function tokenMatches(header: string | undefined, token: string): boolean {
  // the scheme is case-insensitive (RFC 9110 11.1)
  if (header === undefined || header.length < 7 || header.slice(0, 7).toLowerCase() !== 'bearer ') return false;
  const a = Buffer.from(header.slice(7).trim());
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * The router's admin listener (DESIGN.md; docs/router/admin-api.md): /healthz, /readyz,
 * GET|PUT|PATCH /config, /config/revisions, /config/rollback (config-routes.ts), /metrics,
 * /canaries. With ROUTER_ADMIN_TOKEN set, every route but /healthz and /readyz needs
 * `Authorization: Bearer <token>`.
 */
export class AdminServer {
  private readonly server: Server;
  private readonly stats: StatsRoutes | null;

  constructor(private readonly backend: AdminBackend, private readonly logger: Logger, private readonly token = process.env.ROUTER_ADMIN_TOKEN ?? '') {
    this.stats = backend.dashboard ? new StatsRoutes(backend.dashboard) : null;
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        this.logger.error({ err }, 'admin request failed');
        if (!res.headersSent) send(res, 500, 'internal error\n');
        else res.destroy();
      });
    });
    this.server.on('clientError', (_err, socket) => socket.destroy());
  }

  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => resolve((this.server.address() as AddressInfo).port));
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.closeAllConnections();
      this.server.close(() => resolve());
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    const method = req.method ?? 'GET';
    if (path === '/healthz' && (method === 'GET' || method === 'HEAD')) return send(res, 200, 'ok\n');
    if (path === '/readyz' && (method === 'GET' || method === 'HEAD')) {
      return this.backend.ready() ? send(res, 200, 'ready\n') : send(res, 503, 'not ready\n');
    }
    // the page holds no data: public; its data routes below need the token
    if (this.stats && dashboardPageRoute(path, method, res)) return;
    if (this.token && !tokenMatches(req.headers.authorization, this.token)) {
      return send(res, 401, 'unauthorized\n', 'text/plain; charset=utf-8', { 'www-authenticate': 'Bearer realm="edgeplane-admin"' });
    }
    if (await configRoute(this.backend.config, path, method, req, res, json)) return;
    if (this.stats?.route(path, method, req, res, json)) return;
    switch (path) {
      case '/metrics':
        if (method === 'GET') return send(res, 200, await this.backend.metricsText(), 'text/plain; version=0.0.4; charset=utf-8');
        break;
      case '/canaries':
        if (method === 'GET') return json(res, 200, this.backend.canaries());
        break;
      default: {
        const hook = this.backend.testHooks ? DEBUG_ROUTE.exec(path) : null;
        if (hook === null) return send(res, 404, 'not found\n');
        if (method !== 'POST') break;
        const index = Number(hook[1]);
        const done = hook[2] === 'crash' ? this.backend.testHooks!.crashWorker(index) : this.backend.testHooks!.failNextApply(index);
        this.logger.warn({ hook: hook[2], worker: index, done }, 'test hook');
        return done ? json(res, 202, { worker: index, hook: hook[2] }) : send(res, 404, 'no such worker\n');
      }
    }
    send(res, 405, 'method not allowed\n');
  }
}
