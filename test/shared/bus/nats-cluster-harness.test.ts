// The nats-server cluster harness itself: three nodes form a JetStream cluster, an R3 stream has
// a leader, a killed leader is replaced and the restarted node rejoins on its own ports.
import t from 'tap';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { startNatsCluster, startNatsServer } from '../../support/nats-cluster.js';

// a hang's bound only (the machine may be loaded): the cluster and the processes take their time
t.setTimeout(600_000);

t.test('one standalone node serves JetStream', async (t) => {
  const nats = await startNatsServer({ t });
  t.equal(nats.servers.length, 1);
  t.match(nats.servers[0], /^nats:\/\/127\.0\.0\.1:\d+$/);
  t.not(new URL(nats.servers[0]).port, '4222');
  const nc = await connect({ servers: nats.servers });
  t.teardown(() => nc.close());
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: 'HARNESS1', subjects: ['h1.>'] });
  t.equal(await nats.streamLeader('HARNESS1'), 0);
});

t.test('three nodes: stream leader, kill, restart on the same ports', async (t) => {
  const nats = await startNatsCluster({ nodes: 3, t });
  t.equal(new Set(nats.servers).size, 3, 'three distinct client urls');
  const nc = await connect({ servers: nats.servers });
  t.teardown(() => nc.close());
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: 'HARNESS3', subjects: ['h3.>'], num_replicas: 3 });
  const leader = await nats.streamLeader('HARNESS3');
  t.ok(leader >= 0 && leader < 3, `leader is node ${leader}`);

  const node = nats.node(leader);
  const url = node.url;
  await node.kill('SIGKILL');
  t.notOk(node.running);
  const next = await nats.streamLeader('HARNESS3');
  t.not(next, leader, 'another node took the stream');

  await node.restart();
  t.ok(node.running);
  t.equal(node.url, url, 'same client port after restart');
  await nats.waitReady();
  const info = await jsm.streams.info('HARNESS3');
  t.equal(info.cluster?.replicas?.length, 2, 'two replicas beside the leader');

  await nats.killAll();
  t.notOk(nats.nodes.some((n) => n.running), 'every node down');
  await nats.restartAll();
  t.ok(nats.nodes.every((n) => n.running), 'every node back');
  t.ok((await nats.streamLeader('HARNESS3')) >= 0, 'the stream has a leader again');
});
