import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import t from 'tap';
import { baseConfig, startDyno, startRouter, writeConfig, type Dyno, type RunningRouter } from '../../support/router-harness.js';
import { rawSend } from './support/raw-client.js';
import { rawUpload, type UploadResult } from './support/raw-upload.js';

// Refusals sent while the client is still sending its body (docs/router/hostile-input.md,
// "Refusals during an upload"): the router answers, then reads and drops the rest of the body
// (nginx's lingering close: closed once the body ends, 5 s after the last byte, 30 s after the
// answer, or past 16 MiB) so that the client reads the status; closing at once would reset the
// connection under a client still writing (curl: "broken pipe", no status).

const LIMIT = 1024 * 1024;
const TEN_MB = 10 * 1000 * 1000;

let router: RunningRouter;
let dyno: Dyno;
/** request ids the dyno saw, and whether each body arrived whole */
const atDyno = new Map<string, 'complete' | 'aborted' | 'open'>();

t.before(async () => {
  dyno = await startDyno((req, res) => {
    const id = String(req.headers['x-request-id']);
    atDyno.set(id, 'open');
    req.resume();
    req.on('end', () => {
      atDyno.set(id, 'complete');
      res.end('ok');
    });
    req.on('close', () => {
      if (atDyno.get(id) === 'open') atDyno.set(id, 'aborted');
    });
  });
  router = await startRouter(writeConfig(baseConfig({
    limits: { maxBodyBytes: LIMIT },
    apps: {
      sink: { dynos: [dyno.address] },
      // a request without a token is refused (401) before any key is fetched
      guarded: { dynos: [dyno.address], filters: [{ filter: 'auth' }] },
    },
    filters: { auth: { type: 'jwt', jwks_uri: 'http://127.0.0.1:9/jwks.json', issuer: 'https://idp.example.com/' } },
  })));
});
t.teardown(async () => {
  await router?.stop();
  await dyno?.close();
});

const head = (path: string, id: string, lines: string): string =>
  `POST ${path} HTTP/1.1\r\n${lines}X-Request-Id: ${id}\r\nContent-Type: application/octet-stream\r\n\r\n`;

/** the response as the client parsed it: status, headers (lower-case names), body by Content-Length */
function parse(r: UploadResult): { status: number; headers: Map<string, string>; body: string } {
  const end = r.text.indexOf('\r\n\r\n');
  const lines = r.text.slice(0, end).split('\r\n');
  const headers = new Map(lines.slice(1).map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
  const length = Number(headers.get('content-length') ?? 0);
  return { status: r.status, headers, body: r.text.slice(end + 4, end + 4 + length) };
}

t.test('curl uploads 10 MB over the limit without Expect: 100-continue: every run reads the 413', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'edgeplane-upload-'));
  const file = join(dir, 'ten-mb');
  writeFileSync(file, Buffer.alloc(TEN_MB, 0x62));
  const runs = 8;
  const seen: string[] = [];
  for (let i = 0; i < runs; i++) {
    const out = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const p = spawn('curl', ['-sS', '-o', '-', '-w', '\n%{http_code}', '-H', 'Host: sink.example.io', '-H', 'Expect:',
        '-H', `X-Request-Id: curl-${i}`, '--data-binary', `@${file}`, router.url('/upload')], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      p.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      p.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      const timer = setTimeout(() => p.kill('SIGKILL'), 60000);
      p.on('exit', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
    });
    seen.push(`${out.code}:${out.stdout.split('\n').pop()}${out.stderr ? ` (${out.stderr.trim()})` : ''}`);
  }
  t.same(seen, Array.from({ length: runs }, () => '0:413'), 'curl exits 0 with the 413 every time (no "Send failure: Broken pipe")');
  for (let i = 0; i < runs; i++) t.notOk(atDyno.has(`curl-${i}`), `curl-${i}: nothing reached the dyno`);
  await router.waitForLine((l) => l.includes(`request_id=curl-${runs - 1} `) && / status=413 /.test(l));
});

t.test('a client writing its whole body as fast as it can reads every early refusal, and the connection closes cleanly', async (t) => {
  const cases: { name: string; head: string; bytes: number; chunked?: boolean; status: number; body: RegExp }[] = [
    { name: 'over-limit', head: head('/big', 'lc-over-limit', `Host: sink.example.io\r\nContent-Length: ${TEN_MB}\r\n`), bytes: TEN_MB,
      status: 413, body: /^Request body too large\r\n$/ },
    { name: 'over-limit-chunked', head: head('/big', 'lc-chunked', 'Host: sink.example.io\r\nTransfer-Encoding: chunked\r\n'), bytes: 4 * LIMIT,
      chunked: true, status: 413, body: /^Request body too large\r\n$/ },
    { name: 'unknown-host', head: head('/x', 'lc-unknown-host', `Host: nosuch.example.io\r\nContent-Length: ${TEN_MB}\r\n`), bytes: TEN_MB,
      status: 404, body: /^No such app\r\n$/ },
    { name: 'filter-401', head: head('/x', 'lc-filter', `Host: guarded.example.io\r\nContent-Length: ${LIMIT}\r\n`), bytes: LIMIT,
      status: 401, body: /^Unauthorized: missing or invalid bearer token\r\n$/ },
    { name: 'head-check-400', head: head('/x', 'lc-head-check', `Host: sink.example.io\r\nAuthorization: Bearer a\r\nAuthorization: Bearer b\r\nContent-Length: ${LIMIT}\r\n`),
      bytes: LIMIT, status: 400, body: /^Repeated header field: authorization\r\n$/ },
  ];
  for (const c of cases) {
    const r = await rawUpload(router.ports.http, c.head, { bytes: c.bytes, chunked: c.chunked });
    const res = parse(r);
    t.equal(res.status, c.status, `${c.name}: ${c.status}`);
    t.match(res.body, c.body, `${c.name}: the whole body`);
    t.equal(res.headers.get('connection'), 'close', `${c.name}: Connection: close`);
    t.ok(res.headers.has('x-request-id') && res.headers.get('via') === '1.1 edgeplane', `${c.name}: the router's headers`);
    t.equal(r.written, c.bytes, `${c.name}: the client wrote its whole body`);
    t.equal(r.error, null, `${c.name}: no reset (the router read the body to its end, then closed)`);
    t.ok(r.closed, `${c.name}: closed by the router`);
  }
  t.notOk(atDyno.has('lc-over-limit') || atDyno.has('lc-unknown-host') || atDyno.has('lc-filter') || atDyno.has('lc-head-check'),
    'nothing refused before the dyno reached it');
  t.not(atDyno.get('lc-chunked'), 'complete', 'the chunked body over the limit never reached the dyno whole');
});

t.test('a refused head whose small body came with it: the ordinary answer, and the connection closes', async (t) => {
  const got = await rawSend(router.ports.http,
    `${head('/x', 'lc-small', 'Host: sink.example.io\r\nX-Request-Id: twice\r\nContent-Length: 5\r\n')}hello`, { untilClose: true });
  t.equal(got.status, 400);
  t.match(got.text, /\r\nuWebSockets: 20\r\nContent-Length: 36\r\n\r\nRepeated header field: x-request-id\n$/, 'uWS\'s own framing, the body ending in LF');
  t.ok(got.closed);
});

t.test('a refusal after routing whose small body came with the head: the whole answer, then the close', async (t) => {
  // the body ends in the same read as the head: the linger must not close before the answer is out
  for (const [name, host, status, body] of [['unknown-host', 'nosuch.example.io', 404, 'No such app'], ['filter-401', 'guarded.example.io', 401, 'Unauthorized: missing or invalid bearer token']] as const) {
    const got = await rawSend(router.ports.http, `${head('/x', `lc-small-${name}`, `Host: ${host}\r\nContent-Length: 5\r\n`)}hello`, { untilClose: true });
    t.equal(got.status, status, `${name}: ${status}`);
    t.match(got.text, new RegExp(`\r\n\r\n${body}\r\n$`), `${name}: the whole body`);
    t.ok(got.closed, `${name}: closed by the router`);
  }
});

t.test('the linger is bounded: a client that stops sending is closed; one that goes on past 16 MiB is cut', async (t) => {
  const [silent, flood] = await Promise.all([
    // 256 KiB of a declared 10 MB, then silence with the connection open
    rawUpload(router.ports.http, head('/x', 'lc-silent', `Host: sink.example.io\r\nContent-Length: ${TEN_MB}\r\n`),
      { bytes: TEN_MB, stopAfter: 256 * 1024, timeoutMs: 45000 }),
    // 64 MiB declared and written without pause
    rawUpload(router.ports.http, head('/x', 'lc-flood', `Host: sink.example.io\r\nContent-Length: ${64 * 1024 * 1024}\r\n`),
      { bytes: 64 * 1024 * 1024, timeoutMs: 45000 }),
  ]);
  t.comment(`silent client: ${silent.error ?? 'clean close'}; flood: ${flood.written} bytes written, ${flood.error ?? 'clean close'}`);
  t.equal(silent.status, 413, 'silent: 413');
  t.ok(silent.closed, 'silent: the router closed the connection (lingering timeout)');
  t.equal(silent.error, null, 'silent: a clean close (nothing unread)');
  t.equal(flood.status, 413, 'flood: 413');
  t.ok(flood.closed, 'flood: closed');
  t.ok(flood.written < 64 * 1024 * 1024, 'flood: cut before its 64 MiB were all written');
});
