import t from 'tap';
import { startShuttle } from '../helpers/shuttle-process.js';
import { httpRequest } from '../helpers/http-client.js';

// spawned processes on a loaded 2-core machine: more than tap's default 120 s per file
t.setTimeout(600_000);

t.test('POST /ingest: ndjson records, bad lines counted and skipped', async (t) => {
  const sh = await startShuttle(t);
  const body = [
    JSON.stringify({ app: 'nd', source: 'app', process: 'web.1', stream: 'stdout', time: 1795600000000, message: 'one' }),
    '{not json',
    JSON.stringify({ app: 'nd', source: 'nope', process: 'web.1', stream: 'stdout', time: 1, message: 'x' }),
    '',
    JSON.stringify({ app: 'has space', source: 'app', process: 'web.1', stream: 'stdout', time: 1, message: 'x' }),
    JSON.stringify({ app: 'nd', source: 'build', process: 'build', stream: 'stdout', time: 1795600000001, message: 'two', extra: 1 }),
  ].join('\n');
  const r = await httpRequest(`${sh.base}/ingest`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body });
  t.equal(r.status, 200);
  t.same(JSON.parse(r.body), { accepted: 2, rejected: 3 });
  t.equal((await httpRequest(`${sh.base}/apps/nd/logs`)).body, '2026-11-25T09:46:40.000Z nd app[web.1]: one\n2026-11-25T09:46:40.001Z nd akkeris/build: two\n');
  const metrics = (await httpRequest(`${sh.base}/metrics`)).body;
  t.match(metrics, /edgeplane_shuttle_bad_input_total\{ingest="http",reason="not valid JSON"\} 1/);
  t.match(metrics, /edgeplane_shuttle_lines_in_total\{ingest="http",source="build"\} 1/);
});

t.test('POST /ingest: application/logplex-1 frames (with and without STRUCTURED-DATA)', async (t) => {
  const sh = await startShuttle(t);
  const frames = [
    '<190>1 2026-11-25T10:00:00.000000+00:00 lp app web.3 - State changed from starting to up',
    '<14>1 2026-11-25T10:00:00.001Z lp akkeris router - - at=info method=GET path="/" status=200',
    '<11>1 2026-11-25T10:00:00.002Z lp app web.3 - - ünïcödé on stderr',
  ].map((m) => `${Buffer.byteLength(m)} ${m}`).join('');
  const r = await httpRequest(`${sh.base}/ingest`, { method: 'POST', headers: { 'content-type': 'application/logplex-1', 'logplex-msg-count': '3' }, body: frames });
  t.equal(r.status, 200);
  t.same(JSON.parse(r.body), { accepted: 3, rejected: 0 });
  t.equal((await httpRequest(`${sh.base}/apps/lp/logs`)).body, [
    '2026-11-25T10:00:00.000Z lp app[web.3]: State changed from starting to up',
    '2026-11-25T10:00:00.001Z lp akkeris/router: at=info method=GET path="/" status=200',
    '2026-11-25T10:00:00.002Z lp app[web.3]: ünïcödé on stderr',
    '',
  ].join('\n'));
  const truncated = await httpRequest(`${sh.base}/ingest`, { method: 'POST', headers: { 'content-type': 'application/logplex-1' }, body: '500 <14>1 - lp app web.1 - - cut short' });
  t.same(JSON.parse(truncated.body), { accepted: 0, rejected: 1 });
  const other = await httpRequest(`${sh.base}/ingest`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hello' });
  t.equal(other.status, 415);
});
