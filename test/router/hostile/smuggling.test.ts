import t from 'tap';
import { request } from 'undici';
import { connect } from 'node:net';
import { baseConfig, parseRawResponse, startRouter, writeConfig, type RunningRouter } from '../../support/router-harness.js';
import { startRecordingDyno, type RecordingDyno } from './support/recording-dyno.js';

// Request-smuggling probes against the real router process in front of a raw dyno that parses
// (strictly, by the framing the router declares) and records every request it gets. What the
// pinned uWS build does with each probe is part of the assertion (docs/router/operations.md, Limits of the uWebSockets.js build):
//   refused   the router answers 400 and closes the connection
//   dropped   uWS closes the connection without a status (at once, or at its ~10 s idle timeout)
//   forwarded one request, re-framed by the router, reaches the dyno and is answered

type Outcome = 'refused' | 'dropped' | 'forwarded';

const HOST = 'Host: smug.example.io\r\n';
const rid = (name: string): string => `X-Request-Id: probe-${name}\r\n`;

interface Probe { name: string; bytes: string; alone: Outcome; body?: string }

const PROBES: Probe[] = [
  { name: 'cl-te', alone: 'dropped', bytes: `POST /cl-te HTTP/1.1\r\n${HOST}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n` },
  { name: 'te-cl', alone: 'dropped', bytes: `POST /te-cl HTTP/1.1\r\n${HOST}Transfer-Encoding: chunked\r\nContent-Length: 5\r\n` },
  { name: 'te-xchunked', alone: 'refused', bytes: `POST /x HTTP/1.1\r\n${HOST}Transfer-Encoding: xchunked\r\n` },
  { name: 'te-chunked-identity', alone: 'refused', bytes: `POST /x HTTP/1.1\r\n${HOST}Transfer-Encoding: chunked, identity\r\n` },
  { name: 'te-identity-chunked', alone: 'refused', bytes: `POST /x HTTP/1.1\r\n${HOST}Transfer-Encoding: identity, chunked\r\n` },
  { name: 'te-twice-different', alone: 'refused', bytes: `POST /x HTTP/1.1\r\n${HOST}Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n` },
  { name: 'te-twice-chunked', alone: 'refused', bytes: `POST /x HTTP/1.1\r\n${HOST}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n` },
  // optional whitespace around a value is not an obfuscation: plain chunked, re-framed
  { name: 'te-leading-spaces', alone: 'forwarded', body: '', bytes: `POST /x HTTP/1.1\r\n${HOST}Transfer-Encoding:   chunked\r\n` },
  { name: 'te-tab', alone: 'forwarded', body: '', bytes: `POST /x HTTP/1.1\r\n${HOST}Transfer-Encoding:\tchunked\r\n` },
  { name: 'te-space-before-colon', alone: 'dropped', bytes: `POST /x HTTP/1.1\r\n${HOST}Transfer-Encoding : chunked\r\n` },
  { name: 'te-obs-fold', alone: 'dropped', bytes: `POST /x HTTP/1.1\r\n${HOST}X-A: 1\r\n Transfer-Encoding: chunked\r\n` },
  { name: 'cl-conflicting', alone: 'refused', bytes: `POST /x HTTP/1.1\r\n${HOST}Content-Length: 5\r\nContent-Length: 6\r\n` },
  { name: 'cl-list', alone: 'dropped', bytes: `POST /x HTTP/1.1\r\n${HOST}Content-Length: 5, 5\r\n` },
  { name: 'cl-negative', alone: 'dropped', bytes: `POST /x HTTP/1.1\r\n${HOST}Content-Length: -5\r\n` },
  { name: 'cl-hex', alone: 'dropped', bytes: `POST /x HTTP/1.1\r\n${HOST}Content-Length: 0x5\r\n` },
  { name: 'cl-huge', alone: 'dropped', bytes: `POST /x HTTP/1.1\r\n${HOST}Content-Length: 99999999999999999999\r\n` },
  // uWS takes at most 9 characters and closes after the handler: the router must not send it on
  { name: 'cl-leading-zeros', alone: 'dropped', bytes: `POST /x HTTP/1.1\r\n${HOST}Content-Length: 0000000005\r\n` },
  { name: 'cl-15-digits', alone: 'dropped', bytes: `POST /x HTTP/1.1\r\n${HOST}Content-Length: 000000000000005\r\n` },
  { name: 'obs-fold', alone: 'dropped', bytes: `GET /x HTTP/1.1\r\n${HOST}X-A: 1\r\n\tcontinued\r\n` },
  { name: 'nul-in-value', alone: 'dropped', bytes: `GET /x HTTP/1.1\r\n${HOST}X-A: a\0b\r\n` },
  { name: 'cr-in-value', alone: 'dropped', bytes: `GET /x HTTP/1.1\r\n${HOST}X-A: a\rb\r\n` },
  { name: 'del-in-value', alone: 'refused', bytes: `GET /x HTTP/1.1\r\n${HOST}X-A: a\x7fb\r\n` },
  { name: 'absolute-form', alone: 'dropped', bytes: `GET http://smug.example.io/abs HTTP/1.1\r\n${HOST}` },
  { name: 'absolute-form-other-host', alone: 'dropped', bytes: `GET http://other.example.io/abs HTTP/1.1\r\n${HOST}` },
  { name: 'asterisk-form', alone: 'dropped', bytes: `OPTIONS * HTTP/1.1\r\n${HOST}` },
  { name: 'http-1.0', alone: 'dropped', bytes: `GET /x HTTP/1.0\r\n${HOST}` },
  { name: 'no-host', alone: 'dropped', bytes: 'GET /x HTTP/1.1\r\nX-A: 1\r\n' },
  { name: 'two-hosts', alone: 'refused', bytes: `GET /x HTTP/1.1\r\n${HOST}Host: other.example.io\r\n` },
];

/** Bodies: a zero-length chunked body where the probe declares chunked, else none. */
function withBody(p: Probe): string {
  const chunked = /Transfer-Encoding/i.test(p.bytes);
  const cl = /Content-Length: 5/.test(p.bytes) && !chunked;
  return chunked ? '0\r\n\r\n' : cl ? 'hello' : '';
}

let router: RunningRouter;
let dyno: RecordingDyno;

t.before(async () => {
  dyno = await startRecordingDyno();
  router = await startRouter(writeConfig(baseConfig({
    timeouts: { connectMs: 2000, firstByteMs: 10000, idleMs: 10000 },
    apps: { smug: { dynos: [dyno.address] }, other: { dynos: [dyno.address] } },
  })));
});
t.teardown(async () => {
  await router?.stop();
  await dyno?.close();
});

interface Answer { statuses: number[]; closed: boolean; raw: string }

/**
 * Sends raw bytes on a fresh connection. Waits for the router to close it (generous: uWS's idle
 * timeout, about 10 s, closes a head it never completes), or, with `untilAnswered`, only until a
 * complete `ok` response from the dyno has come back (a kept-alive connection stays open).
 */
function probe(bytes: string, untilAnswered = false): Promise<Answer> {
  return new Promise((resolve) => {
    const sock = connect(router.ports.http, '127.0.0.1');
    let raw = '';
    let settled = false;
    const done = (closed: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      resolve({ statuses: [...raw.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1])), closed, raw });
    };
    sock.setEncoding('latin1');
    sock.on('data', (d: string) => {
      raw += d;
      if (untilAnswered && /\r\n\r\nok$/.test(raw)) done(false);
    });
    sock.on('error', () => undefined);
    sock.on('close', () => done(true));
    sock.on('connect', () => sock.write(bytes));
    const timer = setTimeout(() => done(false), 40000);
  });
}

function smuggled(name: string): string {
  return `GET /smuggled-${name} HTTP/1.1\r\n${HOST}X-Request-Id: smuggled-${name}\r\n\r\n`;
}

t.test('every probe alone gets a clear answer; with a request hidden behind it, that request never reaches the dyno', async (t) => {
  const results = await Promise.all(PROBES.flatMap((p) => [
    probe(`${p.bytes}${rid(p.name)}\r\n${withBody(p)}`, p.alone === 'forwarded').then((a) => ({ p, hidden: false, a })),
    probe(`${p.bytes}${rid(`${p.name}-h`)}\r\n${withBody(p)}${smuggled(p.name)}`).then((a) => ({ p, hidden: true, a })),
  ]));
  for (const { p, hidden, a } of results) {
    const what = `${p.name}${hidden ? ' + hidden request' : ''}`;
    if (!hidden && p.alone === 'refused') {
      t.same(a.statuses, [400], `${what}: 400`);
      t.ok(a.closed, `${what}: connection closed after the 400`);
      t.same(parseRawResponse(a.raw).headers.find((h) => h[0] === 'x-request-id'), ['x-request-id', `probe-${p.name}`], `${what}: request id echoed on the 400`);
    } else if (!hidden && p.alone === 'forwarded') {
      t.same(a.statuses, [200], `${what}: forwarded and answered`);
    } else if (!hidden) {
      t.same(a.statuses, [], `${what}: no status`);
      t.ok(a.closed, `${what}: connection closed`);
    } else {
      t.ok(a.closed, `${what}: connection closed`);
      t.ok(a.statuses.every((s) => s === 400) && a.statuses.length <= 1, `${what}: at most the probe's own 400 (got ${JSON.stringify(a.statuses)})`);
    }
  }

  // the dyno: only requests the router routed and logged, never a hidden one, never garbage
  t.same(dyno.garbage, [], 'the dyno never got bytes it could not parse as requests');
  t.notOk(dyno.raw.some((r) => r.includes('smuggled')), 'no byte of a hidden request reached the dyno');
  for (const r of dyno.seen) {
    const id = dyno.header(r, 'x-request-id') ?? '';
    t.match(id, /^probe-/, `dyno request ${r.method} ${r.target} carries a probe's id`);
    await router.waitForLine((l) => l.includes(`request_id=${id} `));
  }
  t.notOk(router.lines.some((l) => l.includes('smuggled')), 'the router never routed a hidden request');
  const forwarded = PROBES.filter((p) => p.alone === 'forwarded').map((p) => `probe-${p.name}`).sort();
  const alone = dyno.seen.map((r) => dyno.header(r, 'x-request-id')!).filter((id) => !id.endsWith('-h')).sort();
  t.same(alone, forwarded, 'exactly the forwarded probes reached the dyno (alone)');
  for (const r of dyno.seen) {
    const te = dyno.header(r, 'transfer-encoding');
    t.ok(te === 'chunked' || dyno.header(r, 'content-length') === '0', `${r.target}: framed by the router (${te ?? 'content-length'})`);
    t.equal(r.body, '', `${r.target}: empty body`);
  }
});

t.test('a request inside a declared body is body: one request at the dyno, the body intact', async (t) => {
  const inner = `GET /smuggled-in-body HTTP/1.1\r\n${HOST}\r\n`;
  const before = dyno.seen.length;
  const a = await probe(`POST /carrier HTTP/1.1\r\n${HOST}X-Request-Id: probe-carrier\r\nContent-Length: ${inner.length}\r\n\r\n${inner}`, true);
  t.same(a.statuses, [200]);
  const got = dyno.seen.slice(before);
  t.equal(got.length, 1, 'one request');
  t.equal(got[0].target, '/carrier');
  t.equal(got[0].body, inner, 'the inner request arrived as the body, byte for byte');
  t.notOk(router.lines.some((l) => l.includes('path=/smuggled-in-body')), 'never routed as a request');
});

t.test('chunked bodies are re-framed: bare-LF chunk lines and chunk trailers do not leak', async (t) => {
  const before = dyno.seen.length;
  const bareLf = await probe(`POST /bare-lf HTTP/1.1\r\n${HOST}X-Request-Id: probe-bare-lf\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\n0\n\n`, true);
  t.same(bareLf.statuses, [200], 'this uWS build accepts bare LF in chunk framing');
  const trailer = await probe(`POST /trailer HTTP/1.1\r\n${HOST}X-Request-Id: probe-trailer\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-Trailer: 1\r\n\r\n${smuggled('after-trailer')}`, true);
  t.ok(trailer.statuses.length <= 1 && trailer.statuses.every((s) => s === 200), 'at most the carrier is answered');
  const got = dyno.seen.slice(before);
  t.same(got.map((r) => [r.target, r.body]).filter(([target]) => target === '/bare-lf'), [['/bare-lf', 'hello']], 'bare-LF body decoded and re-framed');
  t.ok(got.every((r) => r.target === '/bare-lf' || r.target === '/trailer'), 'nothing else reached the dyno');
  t.ok(got.every((r) => dyno.header(r, 'x-trailer') === undefined), 'a trailer never becomes a header');
  t.notOk(dyno.raw.some((r) => r.includes('smuggled-after-trailer')), 'the request after the trailer never reached the dyno');
  t.notOk(router.lines.some((l) => l.includes('smuggled-after-trailer')), 'nor was it routed');
});

t.test('the router keeps serving after every probe', async (t) => {
  const res = await request(router.url('/after'), { headers: { host: 'smug.example.io', 'x-request-id': 'probe-after' } });
  t.equal(res.statusCode, 200);
  t.equal(await res.body.text(), 'ok');
});
