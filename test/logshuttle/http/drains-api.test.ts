import t from 'tap';
import { createServer } from 'node:net';
import { startShuttle } from '../helpers/shuttle-process.js';
import { httpRequest } from '../helpers/http-client.js';
import { postNdjson } from '../helpers/send.js';
import { waitFor } from '../helpers/wait.js';

// spawned processes on a loaded 2-core machine: more than tap's default 120 s per file
t.setTimeout(600_000);

t.test('drain API: add, list, delete; bad URL 400; lines reach an added drain', async (t) => {
  let received = '';
  const receiver = createServer((s) => {
    s.setEncoding('utf8');
    s.on('data', (d: string) => (received += d));
    s.on('error', () => {});
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
  t.teardown(() => receiver.close());
  const port = (receiver.address() as { port: number }).port;
  const sh = await startShuttle(t, { drains: { 'from-config': [`syslog://127.0.0.1:${port}`] } });

  const listed = await httpRequest(`${sh.base}/apps/from-config/drains`);
  t.equal(listed.status, 200);
  t.same(JSON.parse(listed.body).map((d: { url: string }) => d.url), [`syslog://127.0.0.1:${port}`], 'the config file drains are the starting set');

  const bad = await httpRequest(`${sh.base}/apps/api/drains`, { method: 'POST', body: JSON.stringify({ url: 'ftp://example.com' }) });
  t.equal(bad.status, 400);
  t.equal(JSON.parse(bad.body).code, 'E_DRAIN_URL');
  t.equal((await httpRequest(`${sh.base}/apps/api/drains`, { method: 'POST', body: 'not json' })).status, 400);

  const added = await httpRequest(`${sh.base}/apps/api/drains`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ url: `syslog+tcp://127.0.0.1:${port}` }) });
  t.equal(added.status, 201);
  const info = JSON.parse(added.body) as { id: string; url: string };
  t.equal(info.url, `syslog+tcp://127.0.0.1:${port}`);
  t.type(info.id, 'string');
  t.same(JSON.parse((await httpRequest(`${sh.base}/apps/api/drains`)).body), [info]);

  await postNdjson(sh.base, [{ app: 'api', process: 'web.1', message: 'to the drain' }]);
  await waitFor(() => received.includes('to the drain'), 'line at the drain');
  t.match(received, /^\d+ <14>1 \S+ api app web\.1 - - to the drain/);

  t.equal((await httpRequest(`${sh.base}/apps/api/drains/${info.id}`, { method: 'DELETE' })).status, 204);
  t.equal((await httpRequest(`${sh.base}/apps/api/drains/${info.id}`, { method: 'DELETE' })).status, 404);
  t.same(JSON.parse((await httpRequest(`${sh.base}/apps/api/drains`)).body), []);
});
