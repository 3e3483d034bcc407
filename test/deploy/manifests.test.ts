import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { ROOT } from '../support/router-harness.js';
import { schemaProblems } from '../../shared/config-file.js';
import { RouterConfigSchema } from '../../router/config/schema.js';
import { ShuttleConfigSchema } from '../../logshuttle/config/schema.js';

const dir = join(ROOT, 'deploy');
const docs: any[] = [];
for (const f of readdirSync(dir).filter((f) => f.endsWith('.yaml'))) {
  for (const d of parseAllDocuments(readFileSync(join(dir, f), 'utf8'))) {
    if (d.errors.length > 0) throw new Error(`${f}: ${d.errors.map((e) => e.message).join('; ')}`);
    docs.push({ file: f, ...d.toJS() });
  }
}
const find = (kind: string, name: string) => docs.find((d) => d.kind === kind && d.metadata?.name === name);

t.test('every document parses and has apiVersion, kind and a name', async (t) => {
  t.ok(docs.length >= 10);
  for (const d of docs) t.ok(d.apiVersion && d.kind && d.metadata?.name, `${d.file}: ${d.kind}/${d.metadata?.name}`);
  const kinds = new Set(docs.map((d) => d.kind));
  for (const k of ['Deployment', 'Service', 'ConfigMap', 'HorizontalPodAutoscaler', 'PodDisruptionBudget', 'Secret']) t.ok(kinds.has(k), k);
});

t.test('the router ConfigMap holds a valid router config whose ports match the pod and services', async (t) => {
  const cm = find('ConfigMap', 'edgeplane-router');
  const config = JSON.parse(cm.data['router.json']);
  t.same(schemaProblems(RouterConfigSchema, config), []);
  t.equal(config.listen.admin.host, '0.0.0.0', 'admin reachable by probes');
  const dep = find('Deployment', 'edgeplane-router');
  const c = dep.spec.template.spec.containers[0];
  const ports = Object.fromEntries(c.ports.map((p: any) => [p.name, p.containerPort]));
  t.same(ports, { http: config.listen.http.port, https: config.listen.https.port, admin: config.listen.admin.port });
  t.equal(c.readinessProbe.httpGet.path, '/readyz');
  t.ok(c.lifecycle.preStop, 'preStop delay for draining');
  t.ok(c.resources.requests.cpu && c.resources.limits.memory);
  t.equal(c.env.find((e: any) => e.name === 'ROUTER_ADMIN_TOKEN').valueFrom.secretKeyRef.name, 'edgeplane-router-admin');
  t.ok(dep.spec.replicas >= 2);
  const svc = find('Service', 'edgeplane-router');
  t.equal(svc.spec.type, 'LoadBalancer');
  t.same(svc.spec.ports.map((p: any) => [p.port, p.targetPort]), [[80, config.listen.http.port], [443, config.listen.https.port]]);
  t.equal(find('HorizontalPodAutoscaler', 'edgeplane-router').spec.metrics[0].resource.name, 'cpu');
  t.ok(find('PodDisruptionBudget', 'edgeplane-router'));
  // the shuttle named in the router config is the shuttle Service's ingest port
  const shuttleSvc = find('Service', 'edgeplane-logshuttle');
  const ingest = shuttleSvc.spec.ports.find((p: any) => p.name === 'ingest').port;
  t.equal(config.logshuttle, `tcp://edgeplane-logshuttle:${ingest}`);
});

t.test('ports agree with the example configs', async (t) => {
  const example = JSON.parse(readFileSync(join(ROOT, 'examples/router.json'), 'utf8'));
  const config = JSON.parse(find('ConfigMap', 'edgeplane-router').data['router.json']);
  for (const l of ['http', 'https', 'admin']) t.equal(config.listen[l].port, example.listen[l].port, `router ${l}`);
  const shuttleExample = JSON.parse(readFileSync(join(ROOT, 'examples/logshuttle.json'), 'utf8'));
  const shuttle = JSON.parse(find('ConfigMap', 'edgeplane-logshuttle').data['logshuttle.json']);
  t.same(schemaProblems(ShuttleConfigSchema, shuttle), []);
  for (const l of ['ingest', 'syslog_tcp', 'syslog_udp', 'http']) t.equal(shuttle.listen[l].port, shuttleExample.listen[l].port, `shuttle ${l}`);
  const dep = find('Deployment', 'edgeplane-logshuttle');
  const cports = dep.spec.template.spec.containers[0].ports.map((p: any) => p.containerPort).sort();
  t.same(cports, [shuttle.listen.ingest.port, shuttle.listen.syslog_tcp.port, shuttle.listen.syslog_udp.port, shuttle.listen.http.port].sort());
});

t.test('selectors match the pods they are meant for', async (t) => {
  for (const name of ['edgeplane-router', 'edgeplane-logshuttle']) {
    const labels = find('Deployment', name).spec.template.metadata.labels;
    t.same(find('Deployment', name).spec.selector.matchLabels, labels, `${name}: Deployment selector`);
    for (const svc of docs.filter((d) => d.kind === 'Service' && d.spec.selector['app.kubernetes.io/name'] === name)) {
      t.same(svc.spec.selector, labels, `${svc.metadata.name}: Service selector`);
      const containerPorts = find('Deployment', name).spec.template.spec.containers[0].ports;
      for (const p of svc.spec.ports) {
        const target = containerPorts.find((c: any) => c.containerPort === p.targetPort && (c.protocol ?? 'TCP') === (p.protocol ?? 'TCP'));
        t.ok(target, `${svc.metadata.name} ${p.name}: targetPort ${p.targetPort}/${p.protocol ?? 'TCP'} is a container port`);
      }
    }
  }
  const pdb = find('PodDisruptionBudget', 'edgeplane-router');
  t.same(pdb.spec.selector.matchLabels, find('Deployment', 'edgeplane-router').spec.template.metadata.labels);
  const hpa = find('HorizontalPodAutoscaler', 'edgeplane-router');
  t.same(hpa.spec.scaleTargetRef, { apiVersion: 'apps/v1', kind: 'Deployment', name: 'edgeplane-router' });
  t.ok(hpa.spec.minReplicas > pdb.spec.minAvailable, 'the PDB still lets a node drain at the HPA minimum');
  t.ok(find('Deployment', 'edgeplane-router').spec.replicas >= hpa.spec.minReplicas);
});

t.test('stop sequence: preStop delay + shutdownMs fit in the grace period', async (t) => {
  const config = JSON.parse(find('ConfigMap', 'edgeplane-router').data['router.json']);
  const pod = find('Deployment', 'edgeplane-router').spec.template.spec;
  const cmd: string[] = pod.containers[0].lifecycle.preStop.exec.command;
  t.equal(cmd[0], 'node', 'preStop runs node (the image has it; no shell tools needed)');
  const delayMs = Number(/setTimeout\([^,]+,\s*(\d+)\)/.exec(cmd.join(' '))?.[1]);
  t.ok(delayMs >= 5000, `preStop waits ${delayMs} ms for the load balancer to stop sending`);
  t.ok(delayMs / 1000 + config.shutdownMs / 1000 < pod.terminationGracePeriodSeconds,
    `${delayMs / 1000} s + shutdownMs ${config.shutdownMs / 1000} s < ${pod.terminationGracePeriodSeconds} s`);
  t.equal(pod.containers[0].readinessProbe.httpGet.port, 'admin');
});

t.test('secrets: the admin token and TLS Secrets the router mounts exist, and the placeholders say so', async (t) => {
  const pod = find('Deployment', 'edgeplane-router').spec.template.spec;
  const config = JSON.parse(find('ConfigMap', 'edgeplane-router').data['router.json']);
  const tlsVolume = pod.volumes.find((v: any) => v.secret);
  const tls = find('Secret', tlsVolume.secret.secretName);
  t.equal(tls.type, 'kubernetes.io/tls');
  const mount = pod.containers[0].volumeMounts.find((m: any) => m.name === tlsVolume.name).mountPath;
  for (const c of config.certificates) {
    for (const f of [c.cert, c.key]) {
      t.equal(dirname(f), mount, `${f} is in the TLS Secret's mount`);
      t.ok(basename(f) in tls.stringData, `the Secret has ${basename(f)}`);
    }
  }
  t.ok(find('Secret', 'edgeplane-router-admin').stringData.token);
  const text = readFileSync(join(ROOT, 'deploy/router-secrets.yaml'), 'utf8');
  t.match(text, /WARNING: edgeplane-router-tls below is EMPTY/, 'the empty TLS Secret is called out');
  t.match(text, /exits with code 2/);
});
