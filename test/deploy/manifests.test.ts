import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
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

t.test('Dockerfiles: slim bookworm Node 20, multi-stage, non-root, healthcheck, SIGTERM', async (t) => {
  for (const f of ['Dockerfile.router', 'Dockerfile.logshuttle']) {
    const text = readFileSync(join(ROOT, f), 'utf8');
    t.equal(text.match(/^FROM node:20-bookworm-slim/gm)?.length, 2, `${f}: two stages on node:20-bookworm-slim`);
    t.match(text, /npm ci --omit=dev/);
    t.match(text, /^USER node$/m);
    t.match(text, /^HEALTHCHECK .*\n?.*healthz/m);
    t.match(text, /^STOPSIGNAL SIGTERM$/m);
    t.match(text, /^EXPOSE /m);
    t.notMatch(text, /curl|wget/);
  }
});
