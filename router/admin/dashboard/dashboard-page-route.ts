import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { ServerResponse } from 'node:http';
import { DASHBOARD_CSS, DASHBOARD_HTML } from './dashboard-page.js';
import { DASHBOARD_SCRIPT } from './dashboard-script.js';

/**
 * Where the page may load from and talk to: this router only (its data routes and assets);
 * inline styles for uPlot's own element styles. The browser refuses anything else.
 */
const CSP = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; "
  + "font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

interface Asset {
  readonly type: string;
  readonly body: () => Buffer;
}

function once(read: () => string | Buffer): () => Buffer {
  let cached: Buffer | null = null;
  return () => (cached ??= Buffer.from(read()));
}

const require = createRequire(import.meta.url);
/** uPlot (npm `uplot`, a dependency), served by the router itself: the page loads nothing from elsewhere */
const uplotFile = (name: string) => () => readFileSync(require.resolve(`uplot/dist/${name}`));

const ASSETS: Readonly<Record<string, Asset>> = {
  '/dashboard': { type: 'text/html; charset=utf-8', body: once(() => DASHBOARD_HTML) },
  '/dashboard/': { type: 'text/html; charset=utf-8', body: once(() => DASHBOARD_HTML) },
  '/dashboard/app.js': { type: 'text/javascript; charset=utf-8', body: once(() => DASHBOARD_SCRIPT) },
  '/dashboard/app.css': { type: 'text/css; charset=utf-8', body: once(() => DASHBOARD_CSS) },
  '/dashboard/uplot.js': { type: 'text/javascript; charset=utf-8', body: once(uplotFile('uPlot.iife.min.js')) },
  '/dashboard/uplot.css': { type: 'text/css; charset=utf-8', body: once(uplotFile('uPlot.min.css')) },
};

/**
 * The dashboard page and its assets (GET /dashboard): public even when ROUTER_ADMIN_TOKEN is
 * set, since they hold no data (the data routes of stats-routes.ts need the token). Answers
 * and returns true when the path is one of them.
 */
export function dashboardPageRoute(path: string, method: string, res: ServerResponse): boolean {
  const asset = ASSETS[path];
  if (asset === undefined) return false;
  if (method !== 'GET' && method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' });
    res.end('method not allowed\n');
    return true;
  }
  const body = asset.body();
  res.writeHead(200, {
    'content-type': asset.type,
    'content-length': body.length,
    'cache-control': 'no-cache',
    'content-security-policy': CSP,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'x-frame-options': 'DENY',
  });
  res.end(method === 'HEAD' ? undefined : body);
  return true;
}
