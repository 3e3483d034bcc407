// Per-app order and completeness across the death of the stream's leader: a real 3-node
// cluster, a publisher under steady load, SIGKILL of the node leading the stream. Every message
// must be in the stream exactly once, in the order it was published, per app. Run twice: with
// the publisher's connection on the leader itself (the connection drops) and on a follower (the
// stream goes without a leader while the connection stays).
import t, { type Test } from 'tap';
import { jetstreamManager } from '@nats-io/jetstream';
import { startNatsCluster, type NatsCluster } from '../../support/nats-cluster.js';
import { StreamReader } from '../../support/bus-reader.js';
import { until } from '../../support/router-harness.js';
import { BusConnection } from '../../../shared/bus/connection.js';
import { BusPublisher } from '../../../shared/bus/publisher.js';
import { MsgIdSource } from '../../../shared/bus/msg-id.js';
import { ensureLogStream } from '../../../shared/bus/ensure.js';
import { resolveBusConfig } from '../../../shared/bus/bus-config.js';
import { subjectFor } from '../../../shared/bus/partition.js';

// a hang's bound only (the machine may be loaded): the cluster and the processes take their time
t.setTimeout(600_000);

const APPS = ['app-a', 'app-b', 'app-c'];

async function scenario(t: Test, nats: NatsCluster, stream: string, onLeader: boolean): Promise<void> {
  const bus = resolveBusConfig({ servers: nats.servers, stream, replicas: 3, partitions: 8 });
  const setup = new BusConnection({ servers: bus.servers }).start();
  await ensureLogStream(await setup.whenReady(), bus);
  const leader = await nats.streamLeader(stream);
  const first = onLeader ? leader : (leader + 1) % 3;
  const servers = [nats.node(first).url, ...nats.servers.filter((u) => u !== nats.node(first).url)];
  const conn = new BusConnection({ servers, noRandomize: true }).start();
  t.teardown(() => Promise.all([conn.close(), setup.close()]));
  await conn.whenReady();
  t.equal(conn.stats().server.replace(/^nats:\/\//, ''), new URL(nats.node(first).url).host, `client on ${onLeader ? 'the leader' : 'a follower'}`);

  const pub = new BusPublisher({ connection: conn, msgIds: new MsgIdSource(`failover-${stream}`) });
  const sent = new Map(APPS.map((a) => [a, 0]));
  let failed = 0;
  let stop = false;
  const load = (async () => {
    let i = 0;
    while (!stop) {
      for (let k = 0; k < 6; k++, i++) {
        const app = APPS[i % APPS.length];
        const n = sent.get(app)!;
        sent.set(app, n + 1);
        pub.publish(app, subjectFor(app, bus.partitions), Buffer.from(JSON.stringify({ app, n })), (err) => { if (err) failed++; });
      }
      await new Promise((r) => setTimeout(r, 2));
    }
  })();

  await until(() => pub.stats().acked >= 600, 60000, 'load flowing');
  await nats.node(leader).kill('SIGKILL');
  const killedAt = pub.stats().published;
  t.comment(`killed the stream leader (node ${leader}) after ${killedAt} messages`);
  const newLeader = await nats.streamLeader(stream);
  t.not(newLeader, leader, 'a new leader');
  await until(() => pub.stats().acked >= killedAt + 600, 60000, 'load flowing after the failover');
  stop = true;
  await load;
  t.ok(await pub.flush(60000), 'every message acked');
  const stats = pub.stats();
  t.comment(`stats: ${JSON.stringify(stats)}`);
  t.equal(failed, 0, 'no publish failed for good');
  t.equal(stats.droppedOverflow + stats.droppedRejected, 0, 'nothing dropped');

  const total = [...sent.values()].reduce((a, b) => a + b, 0);
  const reader = StreamReader.start(conn.nc!, stream);
  t.teardown(() => reader.stop());
  const msgs = await reader.until((m) => m.length >= total, 60000, `${total} messages`);
  t.equal(msgs.length, total, 'every message stored exactly once');
  for (const app of APPS) {
    const ns = msgs.filter((m) => m.subject === subjectFor(app, bus.partitions)).map((m) => (JSON.parse(Buffer.from(m.data).toString()) as { n: number }).n);
    const expected = Array.from({ length: sent.get(app)! }, (_, i) => i);
    const firstBad = ns.findIndex((n, i) => n !== i);
    t.equal(firstBad, -1, `${app}: ${ns.length} messages in publish order${firstBad >= 0 ? ` (first out of place at ${firstBad}: ${ns.slice(Math.max(0, firstBad - 3), firstBad + 4).join(',')})` : ''}`);
    t.equal(ns.length, expected.length);
  }
  await nats.node(leader).restart();
  // the next scenario's stream takes the same subjects
  await (await jetstreamManager(conn.nc!)).streams.delete(stream);
}

t.test('leader killed under load', async (t) => {
  const nats = await startNatsCluster({ nodes: 3, t });
  await t.test('client connected to the leader', (t) => scenario(t, nats, 'FAILOVER_ON_LEADER', true));
  await nats.waitReady();
  await t.test('client connected to a follower', (t) => scenario(t, nats, 'FAILOVER_ON_FOLLOWER', false));
});
