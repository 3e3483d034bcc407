/**
 * A demo dyno: a tiny web app that answers JSON and logs a line per request on stdout, as a
 * Heroku dyno would. `PORT`, `DYNO` (e.g. web.1) and `RELEASE` come from the environment.
 * With FAIL_RATE (0..1) it answers that share of requests with a 500 (for the canary demo).
 */
import { createServer } from 'node:http';

const port = Number(process.env.PORT ?? 5001);
const dyno = process.env.DYNO ?? 'web.1';
const release = process.env.RELEASE ?? 'v1';
const failRate = Number(process.env.FAIL_RATE ?? 0);

createServer((req, res) => {
  const fail = Math.random() < failRate;
  const status = fail ? 500 : 200;
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ dyno, release, method: req.method, path: req.url, requestId: req.headers['x-request-id'] }) + '\n');
  process.stdout.write(`${req.method} ${req.url} -> ${status} (${release}, request ${req.headers['x-request-id']})\n`);
}).listen(port, '127.0.0.1', () => {
  process.stdout.write(`${dyno} (${release}) listening on ${port}\n`);
});
