/**
 * The large router config of the scale figures: 10,000 sites with 5 routes each (50,000
 * routes) over 1,000 apps of 2 dynos each (loopback addresses nothing listens on: compiling
 * opens no connection). `variant` changes every site's last route target, so two variants are
 * two different documents of the same size (a reload that changes everything it can).
 */

export const SITES = 10_000;
export const ROUTES_PER_SITE = 5;
export const APPS = 1_000;

const PREFIXES = ['/', '/api', '/api/v2', '/static/assets', '/admin/console'];

export function siteHost(i: number): string {
  return `site-${i}.customer-${i % 97}.example.com`;
}

export function largeRouterConfig(variant = 0, listen?: Record<string, unknown>): Record<string, unknown> {
  const apps: Record<string, unknown> = {};
  for (let a = 0; a < APPS; a++) apps[`app-${a}`] = { dynos: [`127.0.0.1:${20000 + (a % 500) * 2}`, `127.0.0.1:${20001 + (a % 500) * 2}`] };
  const sites: Record<string, unknown> = {};
  for (let s = 0; s < SITES; s++) {
    sites[siteHost(s)] = {
      routes: PREFIXES.slice(0, ROUTES_PER_SITE).map((path, r) => ({
        path, app: `app-${(s * ROUTES_PER_SITE + r) % APPS}`, target: r === ROUTES_PER_SITE - 1 ? `/v${variant}` : path,
      })),
    };
  }
  return {
    domain: 'example.io', workers: 1,
    listen: listen ?? { http: { host: '127.0.0.1', port: 0 }, admin: { host: '127.0.0.1', port: 0 } },
    apps, sites,
  };
}

/** Request targets that hit every route kind (deep paths, queries cut off as uWS does). */
export function samplePaths(): string[] {
  return ['/', '/index.html', '/api/users/339910', '/api/v2/orders/42/items', '/static/assets/app.3f9c.js', '/admin/console/settings', '/API/V2/x', '/unknown/deep/path'];
}
