import t from 'tap';
import { request } from 'node:http';
import { baseConfig, echoDyno, startRouter, writeConfig, type Dyno, type RunningRouter } from '../../support/router-harness.js';
import { admin } from '../support/admin-client.js';

// A config body over the admin limit (16 MiB) gets 413, and the client SEES it while it is
// still sending: the router answers first, then reads and discards the rest for a bounded
// time and size before closing (nginx's lingering close). Closing at once would reset the
// connection under a client still sending, which then reports the reset, not the answer.

const TOTAL = 50 * 1024 * 1024;
const CHUNK = Buffer.alloc(256 * 1024, 0x20);

let dyno: Dyno;
let router: RunningRouter;
t.before(async () => {
  dyno = await echoDyno('d');
  router = await startRouter(writeConfig(baseConfig({ apps: { web: { dynos: [dyno.address] } } })));
});
t.teardown(async () => {
  await router?.stop();
  await dyno?.close();
});

interface Outcome { status: number; body: string; sentAtAnswer: number; sent: number; error: string | null; connection: string | undefined }

/** Sends a 50 MiB body as fast as the connection takes it; what the client saw. */
function bigUpload(method: string, headers: Record<string, string>): Promise<Outcome> {
  return new Promise((resolve) => {
    let sent = 0;
    let sentAtAnswer = -1;
    let status = 0;
    let body = '';
    let connection: string | undefined;
    let error: string | null = null;
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      resolve({ status, body, sentAtAnswer, sent, error, connection });
    };
    const req = request({ host: '127.0.0.1', port: router.ports.admin, method, path: '/config', headers, agent: false }, (res) => {
      sentAtAnswer = sent;
      status = res.statusCode ?? 0;
      connection = res.headers.connection;
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', finish);
      res.on('error', (e) => { error = `response: ${e.message}`; finish(); });
    });
    req.on('error', (e: NodeJS.ErrnoException) => {
      error = `${e.code ?? e.message} after ${sent} bytes, ${status === 0 ? 'before' : 'after'} the answer`;
      if (status === 0) finish();
    });
    const pump = (): void => {
      while (sent < TOTAL && !req.destroyed) {
        sent += CHUNK.length;
        if (!req.write(CHUNK)) {
          req.once('drain', pump);
          return;
        }
      }
      if (!req.destroyed) req.end();
    };
    pump();
    setTimeout(() => { error ??= 'no answer in 60 s'; finish(); }, 60_000).unref();
  });
}

for (const [what, method, headers] of [
  ['PUT with Content-Length', 'PUT', { 'content-type': 'application/json', 'content-length': String(TOTAL) }],
  ['PUT chunked', 'PUT', { 'content-type': 'application/json', 'transfer-encoding': 'chunked' }],
  ['PATCH chunked', 'PATCH', { 'content-type': 'application/merge-patch+json', 'transfer-encoding': 'chunked' }],
] as const) {
  t.test(`${what}: 413 seen by a client still sending 50 MiB`, async (t) => {
    const o = await bigUpload(method, { ...headers });
    t.equal(o.error, null, 'no reset or error before the answer');
    t.equal(o.status, 413);
    t.equal(o.connection, 'close');
    const answer = JSON.parse(o.body) as { error: string; problems: string[] };
    t.equal(answer.error, 'E_TOO_LARGE');
    t.match(answer.problems[0], /larger than 16777216 bytes/);
    t.ok(o.sentAtAnswer >= 0 && o.sentAtAnswer < TOTAL, `the answer came while the client was still sending (${o.sentAtAnswer} of ${TOTAL} bytes written)`);
    const after = await admin(router.ports.admin, 'GET', '/config');
    t.equal(after.status, 200, 'the admin listener still serves');
    t.equal(after.headers.etag, '"1"', 'nothing changed');
  });
}
