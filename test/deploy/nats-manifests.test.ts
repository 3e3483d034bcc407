// deploy/nats.yaml: the NATS StatefulSet is self-consistent (routes name its own pods through the
// headless Service, the store dir is the persistent volume, ports agree), the real nats-server
// accepts its config, and the router's bus example is a valid `bus` section for it.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { ROOT } from '../support/router-harness.js';
import { schemaProblems } from '../../shared/config-file.js';
import { RouterConfigSchema } from '../../router/config/schema.js';
import { ShuttleConfigSchema } from '../../logshuttle/config/schema.js';

const docs: any[] = parseAllDocuments(readFileSync(join(ROOT, 'deploy/nats.yaml'), 'utf8')).map((d) => d.toJS());
const find = (kind: string, name: string): any => docs.find((d) => d.kind === kind && d.metadata?.name === name);

const sts = find('StatefulSet', 'edgeplane-nats');
const conf: string = find('ConfigMap', 'edgeplane-nats').data['nats.conf'];
const container = sts.spec.template.spec.containers[0];
const port = (name: string): number => container.ports.find((p: any) => p.name === name).containerPort;

t.test('three nodes whose routes name their own pods through the headless Service', async (t) => {
  t.equal(sts.spec.replicas, 3);
  t.equal(sts.spec.podManagementPolicy, 'Parallel');
  const headless = find('Service', sts.spec.serviceName);
  t.equal(headless.spec.clusterIP, 'None');
  t.equal(headless.spec.publishNotReadyAddresses, true);
  t.same(headless.spec.selector, sts.spec.template.metadata.labels);
  t.same(sts.spec.selector.matchLabels, sts.spec.template.metadata.labels);
  const routes = [...conf.matchAll(/nats:\/\/([a-z0-9.-]+):(\d+)/g)].map((m) => [m[1], Number(m[2])]);
  t.same(routes, [0, 1, 2].map((i) => [`${sts.metadata.name}-${i}.${sts.spec.serviceName}`, port('cluster')]));
  t.match(conf, new RegExp(`cluster \\{[^}]*listen: 0\\.0\\.0\\.0:${port('cluster')}`));
  t.match(conf, new RegExp(`^listen: 0\\.0\\.0\\.0:${port('client')}$`, 'm'));
  t.match(conf, new RegExp(`^http: 0\\.0\\.0\\.0:${port('monitor')}$`, 'm'));
  t.match(conf, /^server_name: \$POD_NAME$/m);
  t.equal(container.env.find((e: any) => e.name === 'POD_NAME').valueFrom.fieldRef.fieldPath, 'metadata.name');
});

t.test('JetStream stores on the persistent volume; probes and lame duck', async (t) => {
  const storeDir = /store_dir: (\S+)/.exec(conf)![1];
  const claim = sts.spec.volumeClaimTemplates[0].metadata.name;
  t.equal(container.volumeMounts.find((m: any) => m.name === claim).mountPath, storeDir);
  t.equal(container.readinessProbe.httpGet.port, 'monitor');
  t.match(container.readinessProbe.httpGet.path, /^\/healthz/);
  const pidFile = /pid_file: (\S+)/.exec(conf)![1];
  t.ok(container.lifecycle.preStop.exec.command.join(' ').includes(pidFile), 'preStop signals lame duck mode through the pid file');
  t.match(container.image, /^nats:\d+\.\d+\.\d+/, 'the official image, pinned');
  t.equal(find('PodDisruptionBudget', 'edgeplane-nats').spec.maxUnavailable, 1);
  const client = find('Service', 'edgeplane-nats');
  t.same(client.spec.ports.map((p: any) => p.targetPort), [port('client')]);
});

t.test('nats-server accepts the config', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'nats-conf-'));
  // the paths of the pod, moved into a temp dir; the rest as written
  const local = conf.replace('/var/run/nats/nats.pid', join(dir, 'nats.pid')).replace('store_dir: /data', `store_dir: ${join(dir, 'data')}`);
  writeFileSync(join(dir, 'nats.conf'), local);
  const r = spawnSync('nats-server', ['-c', join(dir, 'nats.conf'), '-t'], { env: { ...process.env, POD_NAME: 'edgeplane-nats-0' }, encoding: 'utf8' });
  t.equal(r.status, 0, `nats-server -t: ${r.stdout}${r.stderr}`);
});

t.test('the router bus example is a valid bus section pointing at this cluster', async (t) => {
  const bus = JSON.parse(find('ConfigMap', 'edgeplane-router-bus-example').data['bus.json']);
  const config = { domain: 'example.io', listen: { http: { host: '0.0.0.0', port: 8080 } }, apps: {}, bus };
  t.same(schemaProblems(RouterConfigSchema, config), []);
  const client = find('Service', 'edgeplane-nats');
  t.same(bus.servers, [`nats://${client.metadata.name}:${client.spec.ports[0].port}`]);
  t.ok(bus.replicas <= sts.spec.replicas, 'stream replicas fit the cluster');
});

t.test('the shuttle in bus mode: replicas behind one Service, a valid config pointing at this cluster', async (t) => {
  const shuttle: any[] = parseAllDocuments(readFileSync(join(ROOT, 'deploy/logshuttle-bus.yaml'), 'utf8')).map((d) => d.toJS());
  const get = (kind: string): any => shuttle.find((d) => d.kind === kind && d.metadata?.name === 'edgeplane-logshuttle-bus');
  const config = JSON.parse(get('ConfigMap').data['logshuttle.json']);
  t.same(schemaProblems(ShuttleConfigSchema, config), [], 'a valid shuttle config');
  const client = find('Service', 'edgeplane-nats');
  t.same(config.bus.servers, [`nats://${client.metadata.name}:${client.spec.ports[0].port}`], 'the bus is the NATS client Service');
  t.ok(config.bus.replicas <= sts.spec.replicas, 'stream replicas fit the cluster');
  const dep = get('Deployment');
  t.ok(dep.spec.replicas >= 3, 'three replicas');
  t.ok(config.bus.partitions >= 2 * dep.spec.replicas, 'partitions at least twice the replicas');
  const c = dep.spec.template.spec.containers[0];
  t.equal(c.readinessProbe.httpGet.path, '/readyz', 'ready only with the bus');
  t.same(dep.spec.selector.matchLabels, dep.spec.template.metadata.labels);
  const svc = get('Service');
  t.same(svc.spec.selector, dep.spec.template.metadata.labels, 'one Service over every replica');
  const containerPorts = Object.fromEntries(c.ports.map((p: any) => [`${p.name}`, p.containerPort]));
  for (const p of svc.spec.ports) t.equal(p.targetPort, containerPorts[p.name], `Service port ${p.name}`);
  for (const [name, l] of Object.entries(config.listen) as [string, { port: number }][]) {
    t.ok(Object.values(containerPorts).includes(l.port), `listener ${name} is a container port`);
  }
  t.equal(get('PodDisruptionBudget').spec.maxUnavailable, 1);
  t.equal(c.env.find((e: any) => e.name === 'LOGSHUTTLE_TOKEN').valueFrom.secretKeyRef.name, 'edgeplane-logshuttle', 'the token Secret of logshuttle.yaml');
});
