import { request } from 'node:http';

/** An answer of the router's admin listener. */
export interface AdminAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One request to the admin listener on its own connection (no keep-alive between tests). */
export function admin(port: number, method: string, path: string, opts: { body?: string; headers?: Record<string, string>; token?: string } = {}): Promise<AdminAnswer> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token !== undefined) headers.authorization = `Bearer ${opts.token}`;
  if (opts.body !== undefined) headers['content-length'] = String(Buffer.byteLength(opts.body));
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** PUT /config with a JSON document; the answer and its parsed body. */
export async function putConfig(port: number, doc: unknown, token?: string): Promise<{ status: number; version?: string; error?: string; problems?: string[]; body: string }> {
  const a = await admin(port, 'PUT', '/config', { body: JSON.stringify(doc), headers: { 'content-type': 'application/json' }, token });
  let parsed: { version?: string; error?: string; problems?: string[] } = {};
  try {
    parsed = JSON.parse(a.body) as typeof parsed;
  } catch { /* not JSON */ }
  return { status: a.status, body: a.body, ...parsed };
}

/** The version GET /config reports (X-Config-Version). */
export async function runningVersion(port: number, token?: string): Promise<string> {
  const a = await admin(port, 'GET', '/config', { token });
  if (a.status !== 200) throw new Error(`GET /config answered ${a.status}`);
  return String(a.headers['x-config-version']);
}
