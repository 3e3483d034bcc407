// ensure (streams, KV buckets) against a real 3-node cluster: idempotent under concurrent
// callers, an existing stream left as it is, a wrong one refused; KV leases by compare-and-set.
import t from 'tap';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { startNatsCluster, startNatsServer } from '../../support/nats-cluster.js';
import { until } from '../../support/router-harness.js';
import { ensureLogStream, ensureStream, ensureKvBucket, DUPLICATE_WINDOW_MS } from '../../../shared/bus/ensure.js';
import { createKey, updateKey, deleteKey } from '../../../shared/bus/kv.js';
import { resolveBusConfig } from '../../../shared/bus/bus-config.js';

// a hang's bound only (the machine may be loaded): the cluster and the processes take their time
t.setTimeout(600_000);

t.test('3-node cluster', async (t) => {
  const nats = await startNatsCluster({ nodes: 3, t });
  const clients: NatsConnection[] = [];
  for (let i = 0; i < 3; i++) clients.push(await connect({ servers: nats.node(i).url }));
  t.teardown(() => Promise.all(clients.map((c) => c.close())));
  const bus = resolveBusConfig({ servers: nats.servers, stream: 'ENSURED', replicas: 3, max_age_s: 600 });

  t.test('concurrent ensures of the log stream from several clients create it once', async (t) => {
    const infos = await Promise.all([...clients, ...clients].map((nc) => ensureLogStream(nc, bus)));
    t.equal(infos.length, 6);
    for (const i of infos) t.equal(i.config.name, 'ENSURED');
    const jsm = await jetstreamManager(clients[0]);
    const names: string[] = [];
    for await (const n of jsm.streams.names()) names.push(n);
    t.same(names.filter((n) => n === 'ENSURED'), ['ENSURED'], 'one stream');
    const info = await jsm.streams.info('ENSURED');
    t.same(info.config.subjects, ['logs.*.*']);
    t.equal(info.config.num_replicas, 3);
    t.equal(info.config.duplicate_window, DUPLICATE_WINDOW_MS * 1e6);
    t.equal(info.config.max_age, 600 * 1e9);
    // again: nothing changes
    const again = await ensureLogStream(clients[1], bus);
    t.equal(again.created, info.created);
  });

  t.test('an existing stream is left as it is; one missing our subjects is a setup error', async (t) => {
    const jsm = await jetstreamManager(clients[0]);
    await jsm.streams.add({ name: 'OTHER', subjects: ['other.>'], num_replicas: 1 });
    await t.rejects(ensureStream(clients[1], { name: 'OTHER', subjects: ['logs.*.*'] }), { code: 'E_BUS_SETUP' });
    const ok = await ensureStream(clients[2], { name: 'OTHER', subjects: ['other.>'], num_replicas: 3 });
    t.equal(ok.config.num_replicas, 1, 'not changed');
    await t.rejects(ensureStream(clients[0], { name: 'OVERLAP', subjects: ['logs.1.*'] }), { code: 'E_BUS_SETUP' }, 'overlapping subjects: not retried');
  });

  t.test('KV buckets: concurrent ensures, leases by compare-and-set, entries expire', async (t) => {
    const kvs = await Promise.all(clients.map((nc) => ensureKvBucket(nc, 'ENSURED_LEASES', { ttlMs: 2000, replicas: 3 })));
    const [a, b] = kvs;
    const rev = await createKey(a, 'p0', 'replica-a');
    t.ok(rev !== null && rev > 0, 'the first creator holds the lease');
    t.equal(await createKey(b, 'p0', 'replica-b'), null, 'a second create fails: the key is held');
    const renewed = await updateKey(a, 'p0', 'replica-a', rev!);
    t.ok(renewed !== null && renewed > rev!, 'the holder renews over its revision');
    t.equal(await updateKey(b, 'p0', 'replica-b', rev!), null, 'a stale revision cannot renew');
    t.equal(await deleteKey(b, 'p0', rev!), false, 'nor release');
    t.equal(await deleteKey(a, 'p0', renewed!), true, 'the holder releases');
    const taken = await createKey(b, 'p0', 'replica-b');
    t.ok(taken !== null, 'a released lease can be taken');
    // the holder stops renewing: the entry expires with the bucket TTL and the key is free again
    let retaken: number | null = null;
    await until(async () => (retaken = await createKey(a, 'p0', 'replica-a')) !== null, 30000, 'lease expiry');
    t.ok(retaken !== null, 'an expired lease can be taken');
    const e = await a.get('p0');
    t.equal(e?.string(), 'replica-a');
  });

  t.test('ensure retries while a node restarts', async (t) => {
    const node = nats.node(await nats.metaLeader());
    await node.kill();
    const survivor = clients.find((_, i) => i !== node.index)!;
    const retries: unknown[] = [];
    const restarting = node.restart();
    const info = await ensureStream(survivor, { name: 'AFTER_RESTART', subjects: ['restart.*'], num_replicas: 3 }, { onRetry: (err) => retries.push(err) });
    t.equal(info.config.name, 'AFTER_RESTART');
    await restarting;
    t.pass(`created (${retries.length} retries)`);
  });
});

t.test('replicas above 1 on a lone server: a setup error at once, not endless retries', async (t) => {
  const nats = await startNatsServer({ t });
  const nc = await connect({ servers: nats.servers });
  t.teardown(() => nc.close());
  const retries: unknown[] = [];
  await t.rejects(ensureLogStream(nc, resolveBusConfig({ servers: nats.servers, stream: 'LONE', replicas: 3 }), { onRetry: (e) => retries.push(e) }), { code: 'E_BUS_SETUP' });
  t.equal(retries.length, 0);
  const ok = await ensureLogStream(nc, resolveBusConfig({ servers: nats.servers, stream: 'LONE', replicas: 1 }));
  t.equal(ok.config.num_replicas, 1);
});
