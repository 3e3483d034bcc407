// The router config of deploy/router-configmap.yaml, run by the real router the way the pod
// runs it: the ConfigMap mounted as a directory in the kubelet's layout (`router.json ->
// ..data/router.json`, `..data -> ..<timestamp>`), the admin token from the environment, the
// TLS Secret's files beside it. An update of the ConfigMap (the kubelet's atomic symlink swap)
// is applied without a restart; the shipped empty TLS Secret makes the router exit 2.
import t from 'tap';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { parseAllDocuments } from 'yaml';
import { ROOT, echoDyno, runRouterOnce, startRouter, until } from '../support/router-harness.js';

const docs: any[] = readdirSync(join(ROOT, 'deploy')).filter((f) => f.endsWith('.yaml'))
  .flatMap((f) => parseAllDocuments(readFileSync(join(ROOT, 'deploy', f), 'utf8')).map((d) => d.toJS()));
const configMap = docs.find((d) => d.kind === 'ConfigMap' && d.metadata.name === 'edgeplane-router');
const tlsSecret = docs.find((d) => d.kind === 'Secret' && d.metadata.name === 'edgeplane-router-tls');

let generation = 0;
/** The kubelet's AtomicWriter: files in a fresh `..<ts>` dir, `..data` swapped by rename. */
function publish(dir: string, files: Record<string, string>): void {
  const ts = `..2026_01_01_00_00_00.${++generation}`;
  mkdirSync(join(dir, ts));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, ts, name), text);
  const old = readdirSync(dir).filter((f) => f.startsWith('..2026') && f !== ts);
  symlinkSync(ts, join(dir, '..data_tmp'));
  renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
  for (const name of Object.keys(files)) {
    try {
      symlinkSync(join('..data', name), join(dir, name));
    } catch { /* exists from the first publication */ }
  }
  for (const o of old) rmSync(join(dir, o), { recursive: true });
}

/** The ConfigMap's document with the cluster-only parts pointed at this test's loopback. */
function localised(tlsDir: string, dynos: Record<string, string>): any {
  const c = JSON.parse(configMap.data['router.json']);
  for (const l of Object.values(c.listen) as { host: string; port: number }[]) Object.assign(l, { host: '127.0.0.1', port: 0 });
  delete c.logshuttle; // the shuttle's cluster DNS name: lines to stdout instead
  c.workers = 1; // the pod's CPU count is not this machine's; one thread starts fastest
  for (const cert of c.certificates) {
    cert.cert = join(tlsDir, 'tls.crt');
    cert.key = join(tlsDir, 'tls.key');
  }
  c.apps = Object.fromEntries(Object.entries(dynos).map(([app, address]) => [app, { dynos: [address] }]));
  return c;
}

t.test('the ConfigMap config runs, and a ConfigMap update is applied by the directory watch', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'edgeplane-k8s-'));
  const configDir = join(root, 'config');
  const tlsDir = join(root, 'tls');
  mkdirSync(configDir);
  mkdirSync(tlsDir);
  copyFileSync(join(ROOT, 'examples/certs/demo.pem'), join(tlsDir, 'tls.crt'));
  copyFileSync(join(ROOT, 'examples/certs/demo.key'), join(tlsDir, 'tls.key'));
  const hello = await echoDyno('hello');
  const second = await echoDyno('second');
  t.teardown(() => Promise.all([hello.close(), second.close()]));
  const appName = Object.keys(JSON.parse(configMap.data['router.json']).apps)[0];
  publish(configDir, { 'router.json': JSON.stringify(localised(tlsDir, { [appName]: hello.address })) });

  const token = 'test-admin-token';
  const router = await startRouter(join(configDir, 'router.json'), [], { ROUTER_ADMIN_TOKEN: token });
  t.teardown(() => router.stop());
  const admin = (path: string, auth = true) => request(`http://127.0.0.1:${router.ports.admin}${path}`, { headers: auth ? { authorization: `Bearer ${token}` } : {} });
  const host = (app: string): string => `${app}.${JSON.parse(configMap.data['router.json']).domain}`;

  const ready = await admin('/readyz', false);
  t.equal(ready.statusCode, 200, '/readyz answers the probe without the token');
  await ready.body.dump();
  const noToken = await admin('/config', false);
  t.equal(noToken.statusCode, 401, 'other admin routes need the token');
  await noToken.body.dump();
  const before = await admin('/config');
  const version = before.headers['x-config-version'];
  await before.body.dump();
  t.ok(router.ports.https > 0, 'HTTPS listening with the certificate from the Secret mount');

  const res = await request(router.url('/'), { headers: { host: host(appName) } });
  t.equal(res.statusCode, 200);
  t.equal(((await res.body.json()) as any).dyno, 'hello');

  // `kubectl apply` of a changed ConfigMap: the kubelet publishes the new document
  publish(configDir, { 'router.json': JSON.stringify(localised(tlsDir, { [appName]: hello.address, second: second.address })) });
  await until(async () => {
    const r = await request(router.url('/'), { headers: { host: host('second') } });
    const body = await r.body.text();
    return r.statusCode === 200 && body.includes('"dyno":"second"');
  }, 20000, 'the new app served after the ConfigMap update');
  const after = await admin('/config');
  t.not(after.headers['x-config-version'], version, 'a new config version');
  await after.body.dump();
  t.equal(router.proc.exitCode, null, 'no restart');
});

t.test('the shipped TLS Secret is empty: the router refuses the config and exits 2', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'edgeplane-k8s-'));
  const tlsDir = join(root, 'tls');
  mkdirSync(tlsDir);
  for (const [name, value] of Object.entries(tlsSecret.stringData as Record<string, string>)) writeFileSync(join(tlsDir, name), value);
  const file = join(root, 'router.json');
  const dyno = await echoDyno('x');
  t.teardown(() => dyno.close());
  writeFileSync(file, JSON.stringify(localised(tlsDir, { hello: dyno.address })));
  const run = await runRouterOnce(['--config', file]);
  t.equal(run.code, 2);
  t.match(run.stderr, /certificates\[0\]\.cert/, 'the message names the certificate');
});
