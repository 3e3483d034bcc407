import t from 'tap';
import { baseConfig, startRouter, until, writeConfig, type RunningRouter } from '../../support/router-harness.js';
import { scrape } from '../support/prometheus.js';
import { rawSend } from './support/raw-client.js';
import { startRecordingDyno, type RecordingDyno } from './support/recording-dyno.js';

// What the front refuses before any filter or dyno (docs/router/hostile-input.md): repeated
// singleton headers, a Content-Length uWS cannot take, and how each refusal is logged (an access
// line on the router's stdout with its code) and counted (edgeplane_router_refused_total{code}).
// Also what the router cannot see and the docs say instead: no Host at all, a chunk size uWS
// reads leniently.

let router: RunningRouter;
let dyno: RecordingDyno;

t.before(async () => {
  dyno = await startRecordingDyno();
  router = await startRouter(writeConfig(baseConfig({
    timeouts: { connectMs: 2000, firstByteMs: 10000, idleMs: 10000 },
    apps: {
      plain: { dynos: [dyno.address] },
      // a JWT filter reads Authorization; its keys are never fetched here (no request gets that far)
      guarded: { dynos: [dyno.address], filters: [{ filter: 'auth' }] },
      web: { dynos: [dyno.address], filters: [{ filter: 'web-cors' }] },
    },
    filters: {
      auth: { type: 'jwt', jwks_uri: 'http://127.0.0.1:9/jwks.json', issuer: 'https://idp.example.com/' },
      'web-cors': { type: 'cors', allow_origins: ['https://www.example.com'] },
    },
  })));
});
t.teardown(async () => {
  await router?.stop();
  await dyno?.close();
});

const atDyno = (id: string): boolean => dyno.seen.some((r) => dyno.header(r, 'x-request-id') === id);
const lineOf = (id: string): Promise<string> => router.waitForLine((l) => l.includes(` request_id=${id} `), 15000);

t.test('a header the router or a filter reads, sent twice: 400 before any filter, nothing at the dyno', async (t) => {
  const cases: [string, string, string][] = [
    ['dup-auth-plain', 'plain', 'Authorization: Bearer first\r\nAuthorization: Bearer second\r\n'],
    // a 401 would mean the filter ran: it reads the first line, the dyno would get both
    ['dup-auth-guarded', 'guarded', 'Authorization: Bearer first\r\nAuthorization: Bearer second\r\n'],
    ['dup-auth-case', 'plain', 'authorization: Bearer first\r\nAUTHORIZATION: Bearer second\r\n'],
    ['dup-origin', 'web', 'Origin: https://www.example.com\r\nOrigin: https://evil.example.net\r\n'],
  ];
  for (const [id, app, lines] of cases) {
    const got = await rawSend(router.ports.http, `GET /x HTTP/1.1\r\nHost: ${app}.example.io\r\nX-Request-Id: ${id}\r\n${lines}\r\n`, { untilClose: true });
    t.equal(got.status, 400, `${id}: 400`);
    t.match(got.text, /\r\n\r\nRepeated header field: (authorization|origin)\n$/, `${id}: names the header`);
    t.ok(got.closed, `${id}: closed`);
    t.match(await lineOf(id), /^at=info code=E_DUPLICATE_HEADER desc="Repeated header field: (authorization|origin)" method=GET path=\/x host=\w+\.example\.io /, `${id}: logged`);
  }
  const twoIds = await rawSend(router.ports.http, 'GET /x HTTP/1.1\r\nHost: plain.example.io\r\nX-Request-Id: one\r\nX-Request-Id: two\r\n\r\n', { untilClose: true });
  t.equal(twoIds.status, 400, 'two X-Request-Id lines: 400');
  t.match(twoIds.text, /Repeated header field: x-request-id\n$/);
  const once = await rawSend(router.ports.http, 'GET /x HTTP/1.1\r\nHost: plain.example.io\r\nX-Request-Id: dup-none\r\nAuthorization: Bearer x\r\nOrigin: https://a.example\r\n\r\n');
  t.equal(once.status, 200, 'each once: served');
  for (const [id] of cases) t.notOk(atDyno(id), `${id}: nothing reached the dyno`);
  t.ok(atDyno('dup-none'));
});

t.test('Content-Length of 10 to 15 characters (leading zeros): refused before the dyno; uWS closes the connection', async (t) => {
  for (const cl of ['0000000005', '000000000000005', '1000000000']) {
    const id = `cl-${cl}`;
    const got = await rawSend(router.ports.http, `POST /cl HTTP/1.1\r\nHost: plain.example.io\r\nX-Request-Id: ${id}\r\nContent-Length: ${cl}\r\n\r\nhello`, { timeoutMs: 20000 });
    t.equal(got.status, 0, `${cl}: no status (uWS closes the connection after the handler; no answer gets out)`);
    t.ok(got.closed, `${cl}: closed`);
    t.match(await lineOf(id), /^at=info code=E_FRAMING desc="Bad request framing \(Content-Length \/ Transfer-Encoding\)" method=POST path=\/cl .* status=400 /, `${cl}: logged as refused`);
    t.notOk(atDyno(id), `${cl}: nothing reached the dyno`);
  }
  t.notOk(dyno.raw.some((r) => r.includes('request_id=cl-') || r.includes('x-request-id: cl-')), 'no byte of them at the dyno');
  t.notOk(router.lines.some((l) => / code=H27 .*request_id=cl-/.test(l)), 'no H27 (it never went upstream)');
  const nine = await rawSend(router.ports.http, 'POST /cl HTTP/1.1\r\nHost: plain.example.io\r\nX-Request-Id: cl-nine\r\nContent-Length: 000000005\r\n\r\nhello');
  t.equal(nine.status, 200, '9 characters: served');
  t.equal(dyno.seen.find((r) => dyno.header(r, 'x-request-id') === 'cl-nine')?.body, 'hello');
});

t.test('no Host header: uWS closes without a status (at once, or at its idle timeout when the head has no header line at all)', async (t) => {
  const [some, none] = await Promise.all([
    rawSend(router.ports.http, 'GET /nohost HTTP/1.1\r\nX-Request-Id: no-host\r\n\r\n', { timeoutMs: 30000 }),
    rawSend(router.ports.http, 'GET /nohost-bare HTTP/1.1\r\n\r\n', { timeoutMs: 30000 }),
  ]);
  t.comment(`closed after ${some.ms} ms (with a header line) and ${none.ms} ms (none)`);
  for (const [name, got] of [['with other headers', some], ['no header line at all', none]] as const) {
    t.equal(got.status, 0, `${name}: no status`);
    t.ok(got.closed, `${name}: closed by the router`);
  }
  t.notOk(router.lines.some((l) => l.includes('path=/nohost')), 'the router never sees them (nothing to log)');
});

t.test('a chunk size uWS reads leniently (5g, counted as 96 bytes): the dyno gets a body re-framed by the router, never a request', async (t) => {
  // what follows `5g` up to 96 bytes is chunk data for uWS: a chunk end, a last chunk and a request
  let data = 'hello\r\n0\r\n\r\nGET /smuggled-5g HTTP/1.1\r\nHost: plain.example.io\r\n\r\n';
  data += 'x'.repeat(96 - data.length);
  const got = await rawSend(router.ports.http,
    `POST /chunk-5g HTTP/1.1\r\nHost: plain.example.io\r\nX-Request-Id: chunk-5g\r\nTransfer-Encoding: chunked\r\n\r\n5g\r\n${data}\r\n0\r\n\r\n`);
  t.equal(got.status, 200, 'one request, answered');
  const seen = dyno.seen.find((r) => dyno.header(r, 'x-request-id') === 'chunk-5g');
  t.equal(seen?.body, data, 'the dyno got the 96 bytes as the body (the router cannot see the size line)');
  t.notOk(dyno.seen.some((r) => r.target.includes('smuggled')), 'the request inside it never became a request at the dyno');
  t.same(dyno.garbage, [], 'the dyno always parsed what it got by the router\'s own framing');
  t.notOk(router.lines.some((l) => l.includes('smuggled')), 'nor was it routed');
});

t.test('every refused head is logged with its code and counted by code', async (t) => {
  const before = await scrape(router.ports.admin);
  const count = (code: string, s = before): number => s.get('edgeplane_router_refused_total', { code }) ?? 0;
  const probes: [string, string, string][] = [
    ['E_FRAMING', 'ref-framing', 'POST /r HTTP/1.1\r\nHost: plain.example.io\r\nContent-Length: 5\r\nContent-Length: 6\r\n'],
    ['E_HOST', 'ref-host', 'GET /r HTTP/1.1\r\nHost: plain.example.io/evil\r\n'],
    ['E_HEADER_VALUE', 'ref-value', 'GET /r HTTP/1.1\r\nHost: plain.example.io\r\nX-A: a\x7fb\r\n'],
    ['E_URI_TOO_LONG', 'ref-uri', `GET /${'u'.repeat(9000)} HTTP/1.1\r\nHost: plain.example.io\r\n`],
    ['E_HEADERS_TOO_LARGE', 'ref-headers', `GET /r HTTP/1.1\r\nHost: plain.example.io\r\nX-Big: ${'b'.repeat(17 * 1024)}\r\n`],
    ['E_DUPLICATE_HEADER', 'ref-dup', 'GET /r HTTP/1.1\r\nHost: plain.example.io\r\nAuthorization: a\r\nAuthorization: b\r\n'],
  ];
  for (const [code, id, head] of probes) {
    const got = await rawSend(router.ports.http, `${head}X-Request-Id: ${id}\r\n\r\n`, { untilClose: true, timeoutMs: 20000 });
    const status = /^at=info code=\w+ desc="[^"]*" .* status=(\d{3}) bytes=0 protocol=http$/.exec(await lineOf(id));
    t.ok(status !== null, `${code}: an access line`);
    t.match(await lineOf(id), new RegExp(`^at=info code=${code} desc="[^"]+" method=(GET|POST) path=/\\S* host=\\S* request_id=${id} fwd="127\\.0\\.0\\.1" dyno= `), `${code}: its code`);
    // one write is one read for uWS here; a split head over 4 KiB would be closed by uWS unseen
    if (got.status !== 0) t.equal(String(got.status), status?.[1], `${code}: the status the client got`);
  }
  let after = before;
  await until(async () => {
    after = await scrape(router.ports.admin);
    return probes.every(([code]) => count(code, after) - count(code) >= 1);
  }, 15000, 'the refusal counters');
  for (const [code] of probes) t.equal(count(code, after) - count(code), 1, `edgeplane_router_refused_total{code="${code}"} +1`);
  t.equal(after.types.get('edgeplane_router_refused_total'), 'counter');
});
