// A shuttle replica whose NATS connection is replaced (closed for good, then made anew; not a
// reconnect of the same client) keeps working on the new one: its partition consumers pull
// again, its drains deliver, a tail stays open and shows the new lines, the drains API and the
// registry watch work. The replacement is forced the way it happens in production: the
// credentials file is unreadable while the client reconnects (a rotation caught half-way), so
// the client closes for good; every node of the cluster is killed and restarted meanwhile.
import t from 'tap';
import { mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nkeys } from '@nats-io/transport-node';
import { startNatsCluster } from '../../support/nats-cluster.js';
import { httpRequest, openTail } from '../helpers/http-client.js';
import { waitFor } from '../helpers/wait.js';
import { startStreamReceiver } from '../drains/receivers.js';
import { parseReceived, postLines, startBusShuttle } from './helpers/bus-shuttle.js';

t.setTimeout(600_000);

/** A .creds file: the servers here run without auth and ignore the JWT, but the client parses it and signs with the seed. */
function writeCreds(file: string): void {
  const seed = new TextDecoder().decode(nkeys.createUser().getSeed());
  writeFileSync(file, `-----BEGIN NATS USER JWT-----\neyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.e30.test\n------END NATS USER JWT------\n\n`
    + `-----BEGIN USER NKEY SEED-----\n${seed}\n------END USER NKEY SEED------\n`);
}

t.test('after the connection is replaced, the replica consumes, delivers, tails and serves the drains API on the new one', async (t) => {
  const cluster = await startNatsCluster({ t });
  const dir = mkdtempSync(join(tmpdir(), 'bus-replaced-'));
  const creds = join(dir, 'user.creds');
  writeCreds(creds);
  const receiver = await startStreamReceiver();
  t.teardown(() => receiver.close());
  const app = 'replaced-app';
  const a = await startBusShuttle(t, { servers: cluster.servers, credentials: creds, extra: { drains: { [app]: [`syslog://127.0.0.1:${receiver.port}`] } } });
  const tail = openTail(`${a.base}/apps/${app}/logs?lines=100&tail=true`);
  t.teardown(() => tail.close());
  t.equal(await postLines(a.base, [{ app, message: 'before 1' }, { app, message: 'before 2' }]), 200);
  await waitFor(() => receiver.messages.length >= 2, 'the lines before at the drain', 60_000);
  await waitFor(() => tail.lines().length >= 2, 'the lines before in the tail', 60_000);
  t.equal(await tail.status, 200);

  // the bus goes away; while it comes back the credentials cannot be read: the client closes for good
  renameSync(creds, `${creds}.away`);
  await cluster.killAll();
  await cluster.restartAll();
  await waitFor(() => a.log.some((l) => l.includes('bus connection closed; connecting again')), 'the client closed for good', 120_000, 100)
    .catch((err: Error) => {
      t.comment(a.log.slice(-30).join('\n'));
      throw err;
    });
  renameSync(`${creds}.away`, creds);
  await waitFor(() => a.log.some((l) => l.includes('bus rebound to the new connection')), 'the replica rebound to a new connection', 120_000, 100)
    .catch((err: Error) => {
      t.comment(a.log.slice(-30).join('\n'));
      throw err;
    });
  t.ok(a.log.some((l) => l.includes('bus connection replaced')), 'a replacement, not a reconnect');

  // ingest (publisher), the partition consumer, the drain and the tail on the new connection
  await waitFor(async () => (await httpRequest(`${a.base}/readyz`)).status === 200, 'ready again', 120_000, 200);
  await waitFor(async () => (await postLines(a.base, [{ app, message: 'after' }])) === 200, 'ingest answers 200 again', 60_000, 500);
  await waitFor(() => receiver.messages.some((m) => m.endsWith(' after')), 'a line after the replacement at the drain', 120_000, 100)
    .catch((err: Error) => {
      t.comment(a.log.slice(-30).join('\n'));
      throw err;
    });
  // at least once: killing every node may lose the last acknowledgements (the lines come again,
  // with the same stream sequence as MSGID, so a receiver can drop the copies)
  const got = receiver.messages.map(parseReceived);
  const bySeq = new Map(got.map((g) => [g.msgid, g.msg]));
  t.same([...bySeq.values()].filter((m) => m.startsWith('before')), ['before 1', 'before 2'], 'the lines before, once per stream sequence');
  t.equal(new Set(got.map((g) => g.msg)).size, bySeq.size, 'a copy always has the MSGID of its first delivery');
  await waitFor(() => tail.lines().some((l) => l.endsWith(' after')), 'the tail opened before shows the line after', 60_000, 100);
  t.same(tail.lines().map((l) => l.slice(l.lastIndexOf(': ') + 2)).filter((m) => !m.startsWith('after')).slice(-2), ['before 1', 'before 2']);

  // the drains API and the registry watch: a drain added now delivers
  const other = await startStreamReceiver();
  t.teardown(() => other.close());
  const app2 = 'replaced-app-2';
  const r = await httpRequest(`${a.base}/apps/${app2}/drains`, { method: 'POST', body: JSON.stringify({ url: `syslog://127.0.0.1:${other.port}` }) });
  t.equal(r.status, 201, 'a drain added through the API');
  t.equal(await postLines(a.base, [{ app: app2, message: 'to the new drain' }]), 200);
  await waitFor(() => other.messages.some((m) => m.endsWith(' to the new drain')), 'the new drain delivers', 60_000, 100);
});
