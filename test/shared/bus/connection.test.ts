// The bus connection against a real nats-server: not ready while no server is reachable (and
// never throwing), ready once one starts, not ready again when it dies, back when it returns.
import t from 'tap';
import { startNatsServer } from '../../support/nats-cluster.js';
import { until } from '../../support/router-harness.js';
import { BusConnection, type BusState } from '../../../shared/bus/connection.js';

t.test('no server at start: keeps trying, ready once one starts, follows it down and up', async (t) => {
  const nats = await startNatsServer({ t });
  const node = nats.node(0);
  await node.kill();
  const conn = new BusConnection({ servers: nats.servers, name: 'conn-test', maxBackoffMs: 500 }).start();
  t.teardown(() => conn.close());
  const states: BusState[] = [];
  conn.on('state', (s: BusState) => states.push(s));
  await new Promise((r) => setTimeout(r, 300));
  t.equal(conn.state, 'connecting');
  t.notOk(conn.ready);
  t.same(conn.stats(), { connected: false, reconnects: 0, server: '' });

  const ready = conn.whenReady();
  await node.restart();
  const nc = await ready;
  t.ok(conn.ready, 'ready once the server runs');
  t.equal(conn.nc, nc);
  t.ok(conn.stats().connected);

  const notReady = new Promise((r) => conn.once('not-ready', r));
  await node.kill();
  await notReady;
  t.notOk(conn.ready, 'not ready while the server is down');

  await node.restart();
  await until(() => conn.ready, 30000, 'reconnect');
  t.equal(conn.stats().reconnects, 1);
  t.same(states, ['ready', 'disconnected', 'ready']);

  await conn.close();
  t.equal(conn.state, 'closed');
  await t.rejects(conn.whenReady(), { code: 'E_BUS_CLOSED' });
});
