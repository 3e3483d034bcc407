// `stateFile`: the drain set survives a restart of the real process.
import t from 'tap';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startShuttle } from '../helpers/shuttle-process.js';
import { httpRequest } from '../helpers/http-client.js';
import { sendTcp, syslogFrame } from '../helpers/send.js';
import { parseSyslog, startStreamReceiver, waitFor } from './receivers.js';

// spawned processes on a loaded 2-core machine: more than tap's default 120 s per file
t.setTimeout(600_000);

const JSON_TYPE = { 'content-type': 'application/json' };

t.test('drains added and removed through the API survive a restart; the config seeds only the first start', async (t) => {
  const rx = await startStreamReceiver();
  t.teardown(() => rx.close());
  const stateFile = join(mkdtempSync(join(tmpdir(), 'shuttle-state-')), 'sub', 'drains.json');
  const config = { stateFile, drains: { seeded: ['syslog://127.0.0.1:9'] } };
  const first = await startShuttle(t, config);
  const seeded = JSON.parse((await httpRequest(`${first.base}/apps/seeded/drains`)).body) as Array<{ id: string; url: string }>;
  t.equal(seeded.length, 1, 'the config seeds the set');
  const added = await httpRequest(`${first.base}/apps/kept/drains`, { method: 'POST', headers: JSON_TYPE, body: JSON.stringify({ url: `syslog://127.0.0.1:${rx.port}` }) });
  t.equal(added.status, 201);
  const drain = JSON.parse(added.body) as { id: string; url: string };
  t.equal((await httpRequest(`${first.base}/apps/seeded/drains/${seeded[0].id}`, { method: 'DELETE' })).status, 204);
  t.equal(await first.stop('SIGTERM'), 0);

  const doc = JSON.parse(readFileSync(stateFile, 'utf8')) as unknown;
  t.same(doc, { version: 1, drains: { kept: [drain] } }, 'the state file holds the set');
  t.equal(statSync(stateFile).mode & 0o777, 0o600, 'mode 0600 (URLs may carry credentials)');

  const second = await startShuttle(t, config);
  t.same(JSON.parse((await httpRequest(`${second.base}/apps/kept/drains`)).body), [drain], 'same drain, same id');
  t.same(JSON.parse((await httpRequest(`${second.base}/apps/seeded/drains`)).body), [], 'the removed seed stays removed');
  await sendTcp(second.ports.syslog_tcp!, syslogFrame('kept', 'web.1', 'after the restart'));
  await waitFor(() => rx.messages.length >= 1, 'the line at the kept drain');
  t.equal(parseSyslog(rx.messages[0]).msg, 'after the restart');
});
