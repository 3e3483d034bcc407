import t from 'tap';
import { echoDyno, releasedPort, startRouter, until, writeConfig, type Dyno, type RunningRouter } from '../../support/router-harness.js';
import { startPebble, type Pebble } from '../../support/pebble.js';
import { acmeDir, acmeRouterConfig, logged, metric, metrics, tlsGet, untilVerified } from './acme-fixture.js';

/** router worker threads: each has its own HTTPS listener, retired at every renewal */
const WORKERS = 2;

// Renewal: pebble issues certificates valid 40 s, the router renews at half their lifetime,
// without a restart, while clients keep making verified HTTPS requests: none fails, and they
// see the certificates change.

let pebble: Pebble;
let router: RunningRouter;
let dyno: Dyno;
let root: string;

t.before(async () => {
  dyno = await echoDyno('d');
  const dir = acmeDir();
  const httpPort = await releasedPort();
  pebble = await startPebble({ httpPort, validitySeconds: 40, alwaysValid: true });
  root = await pebble.root();
  const file = writeConfig(acmeRouterConfig({ httpPort, dir, pebble, dyno: dyno.address, sites: ['www.example.com'],
    acme: { hosts: ['www.example.com'], renew_ratio: 0.5 }, extra: { workers: WORKERS } }));
  router = await startRouter(file);
});

t.teardown(async () => {
  await router?.stop();
  await pebble?.stop();
  await dyno?.close();
});

t.test('renewed twice under load: no failed request, no restart', async (t) => {
  await untilVerified(router.ports.https, 'www.example.com', root);
  const serials = new Set<string>();
  const failures: string[] = [];
  let requests = 0;
  let resets = 0;
  let running = true;
  const client = async (): Promise<void> => {
    while (running) {
      try {
        const r = await tlsGet(router.ports.https, 'www.example.com', root);
        requests++;
        if (!r.authorized || r.status !== 200) failures.push(`${r.status} ${r.authorizationError ?? ''} ${r.cert.subject?.CN}`);
        else serials.add(r.cert.serialNumber);
      } catch (err) {
        // a connection reset before its TLS handshake: it was queued on the listen socket of the
        // generation the renewal retired (Linux resets a closed listener's accept queue unless
        // net.ipv4.tcp_migrate_req=1; docs/router/acme.md): counted apart, reported
        if ((err as NodeJS.ErrnoException).code === 'ECONNRESET' && (err as { beforeHandshake?: boolean }).beforeHandshake === true) resets++;
        else failures.push((err as Error).message);
      }
    }
  };
  const CLIENTS = 4;
  const clients = Array.from({ length: CLIENTS }, () => client());
  try {
    await until(() => serials.size >= 3, 120000, 'clients to see two renewed certificates');
  } finally {
    running = false;
    await Promise.all(clients);
  }
  t.same(failures, [], `no failed request out of ${requests}`);
  t.ok(serials.size >= 3);
  const text = await metrics(router.ports.admin);
  const renewed = metric(text, 'edgeplane_router_acme_orders_total{result="renewed"}');
  t.ok(renewed >= 2, 'renewals counted');
  // each client has one connection at a time, and each worker retires its own listener at a
  // renewal: a swap can catch at most one connection of each client in its accept queue (how many
  // it does catch depends on the accept latency, not the code)
  const swaps = renewed * WORKERS;
  t.ok(resets <= swaps * CLIENTS, `connections reset before their handshake at a listener swap: ${resets} (at most ${CLIENTS} per swap, ${swaps} swaps)`);
  t.equal(metric(text, 'edgeplane_router_worker_restarts_total'), 0, 'no worker restarted');
  t.ok(logged(router.errLines, 'acme: order started').some((l) => l.reason === 'renewal'), 'logged as renewals');
  t.equal(router.proc.exitCode, null, 'the router kept running');
});
