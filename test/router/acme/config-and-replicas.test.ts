import t from 'tap';
import { echoDyno, releasedPort, startRouter, until, writeConfig, type Dyno, type RunningRouter } from '../../support/router-harness.js';
import { startPebble, type Pebble } from '../../support/pebble.js';
import { acmeDir, acmeRouterConfig, logged, tlsGet, untilVerified } from './acme-fixture.js';

// A config change reaches ACME (PATCH adds a name: ordered; removes it: no longer served), and
// two replicas sharing storage order a name once and both serve it.

let pebble: Pebble;
const routers: RunningRouter[] = [];
let dyno: Dyno;
let root: string;

async function patch(r: RunningRouter, doc: unknown): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${r.ports.admin}/config`, {
    method: 'PATCH', headers: { 'content-type': 'application/merge-patch+json' }, body: JSON.stringify(doc),
  });
  await res.text();
  return res.status;
}

t.before(async () => {
  dyno = await echoDyno('d');
  const dir = acmeDir();
  pebble = await startPebble({ httpPort: await releasedPort(), alwaysValid: true });
  root = await pebble.root();
  for (let i = 0; i < 2; i++) {
    const file = writeConfig(acmeRouterConfig({ httpPort: 0, dir, pebble, dyno: dyno.address, sites: ['www.example.com'], acme: { hosts: [] } }));
    routers.push(await startRouter(file));
  }
});

t.teardown(async () => {
  for (const r of routers) await r.stop();
  await pebble?.stop();
  await dyno?.close();
});

t.test('PATCH adds the name on both replicas at once: one order, both serve it', async (t) => {
  const statuses = await Promise.all(routers.map((r) => patch(r, { acme: { hosts: ['www.example.com'] } })));
  t.same(statuses, [200, 200], 'both PATCHes applied');
  for (const r of routers) {
    const answer = await untilVerified(r.ports.https, 'www.example.com', root);
    t.equal(answer.status, 200, 'served over the issued certificate');
  }
  const issued = routers.flatMap((r) => logged(r.errLines, 'acme: certificate issued'));
  t.equal(issued.length, 1, 'ordered once for both');
  const [a, b] = routers.map((r) => tlsGet(r.ports.https, 'www.example.com', root));
  t.equal((await a).cert.fingerprint256, (await b).cert.fingerprint256, 'the same certificate');
});

t.test('PATCH removes the name: no longer served', async (t) => {
  const r = routers[0];
  t.equal(await patch(r, { acme: { hosts: [] } }), 200, 'the PATCH applied');
  await until(async () => (await tlsGet(r.ports.https, 'www.example.com', root)).cert.subject.CN === 'default-a', 20000, 'the default certificate again');
  t.ok(logged(r.errLines, 'acme: name removed from the config').some((l) => l.name === 'www.example.com'), 'logged');
  t.equal((await tlsGet(routers[1].ports.https, 'www.example.com', root)).authorized, true, 'the other replica still serves it');
});
