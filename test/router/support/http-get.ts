import { request, type Agent } from 'node:http';

/** A GET to the router with a Host header; status, headers and body. `agent: false` = a fresh connection. */
export function get(port: number, host: string, path = '/', agent: Agent | false = false): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string; reusedSocket: boolean }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'GET', headers: { host }, agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, reusedSocket: req.reusedSocket }));
    });
    req.on('error', reject);
    req.end();
  });
}
