// Dockerfile.router and Dockerfile.logshuttle checked against their rules (docs/deploy.md) without a Docker engine:
// read instruction by instruction (test/deploy/dockerfile.ts), the build stage's sources checked
// to be closed under imports, and each HEALTHCHECK command RUN against the real program.
import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { ROOT, baseConfig, startRouter, writeConfig } from '../support/router-harness.js';
import { startShuttle } from '../logshuttle/helpers/shuttle-process.js';
import { parseDockerignore, parseStages, type Instruction, type Stage } from './dockerfile.js';

const BASE = 'node:20-bookworm-slim';

interface Program {
  file: string;
  main: string;
  /** the env var the HEALTHCHECK reads its port from */
  portEnv: string;
  /** ports the image must EXPOSE: the example config's listeners */
  ports: string[];
  deployment: string;
}

const routerExample = JSON.parse(readFileSync(join(ROOT, 'examples/router.json'), 'utf8'));
const shuttleExample = JSON.parse(readFileSync(join(ROOT, 'examples/logshuttle.json'), 'utf8'));
const PROGRAMS: Program[] = [
  {
    file: 'Dockerfile.router', main: 'dist/router/main.js', portEnv: 'ADMIN_PORT', deployment: 'edgeplane-router',
    // DESIGN.md's internal listener (8081) too: the config decides which are used
    ports: [routerExample.listen.http.port, routerExample.listen.https.port, 8081, routerExample.listen.admin.port].map(String),
  },
  {
    file: 'Dockerfile.logshuttle', main: 'dist/logshuttle/main.js', portEnv: 'HTTP_PORT', deployment: 'edgeplane-logshuttle',
    ports: [String(shuttleExample.listen.ingest.port), String(shuttleExample.listen.syslog_tcp.port),
      `${shuttleExample.listen.syslog_udp.port}/udp`, String(shuttleExample.listen.http.port)],
  },
];

const deployDocs: any[] = readdirSync(join(ROOT, 'deploy')).filter((f) => f.endsWith('.yaml'))
  .flatMap((f) => parseAllDocuments(readFileSync(join(ROOT, 'deploy', f), 'utf8')).map((d) => d.toJS()));

const stagesOf = (p: Program): Stage[] => parseStages(readFileSync(join(ROOT, p.file), 'utf8'));
const all = (s: Stage, keyword: string): Instruction[] => s.instructions.filter((i) => i.keyword === keyword);
const only = (s: Stage, keyword: string): Instruction => {
  const found = all(s, keyword);
  if (found.length !== 1) throw new Error(`expected one ${keyword}, found ${found.length}`);
  return found[0];
};

/** Relative module references of a TS file: imports, dynamic imports, `new URL('./x.js', import.meta.url)`. */
function references(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const refs: string[] = [];
  for (const re of [/\bfrom\s+'(\.{1,2}\/[^']+)'/g, /\bimport\(\s*'(\.{1,2}\/[^']+)'\s*\)/g, /new URL\(\s*'(\.{1,2}\/[^']+)'\s*,\s*import\.meta\.url/g]) {
    for (const m of text.matchAll(re)) refs.push(m[1]);
  }
  return refs;
}

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? tsFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

for (const p of PROGRAMS) {
  t.test(`${p.file}: stages, base image, build and runtime`, async (t) => {
    const stages = stagesOf(p);
    t.ok(stages.length >= 2, 'multi-stage');
    for (const s of stages) t.equal(s.image, BASE, `every stage FROM ${BASE} (glibc and Node ABI of the uWS binary)`);
    const [build] = stages;
    const runtime = stages[stages.length - 1];
    t.ok(build.name, 'the build stage is named');
    t.ok(all(build, 'RUN').some((r) => /^npm ci\b/.test(r.text) && !r.text.includes('--omit')), 'build: npm ci with dev dependencies');
    t.ok(all(build, 'RUN').some((r) => r.text === 'npm run build'), 'build: npm run build');

    t.ok(all(runtime, 'RUN').some((r) => /^npm ci --omit=dev\b/.test(r.text)), 'runtime: npm ci --omit=dev');
    for (const c of all(runtime, 'COPY')) {
      if (c.flags.from !== undefined) {
        t.equal(c.flags.from, build.name, 'copies from the build stage');
        t.same(c.args, ['/app/dist', './dist'], 'only dist/ comes from the build stage');
      } else {
        t.same(c.args.slice(0, -1).sort(), ['package-lock.json', 'package.json'], 'no sources in the runtime image, only the package files');
      }
    }
  });

  t.test(`${p.file}: non-root, ports, signal, entrypoint`, async (t) => {
    const runtime = stagesOf(p).at(-1)!;
    const ins = runtime.instructions;
    const user = only(runtime, 'USER');
    const [uid] = user.args[0].split(':');
    t.ok(uid !== 'root' && uid !== '0', `USER ${user.args[0]} is not root`);
    const lastRun = ins.map((i) => i.keyword).lastIndexOf('RUN');
    t.ok(ins.indexOf(user) > lastRun, 'USER after the last RUN (the process runs as it)');
    t.ok(ins.indexOf(user) < ins.indexOf(only(runtime, 'ENTRYPOINT')), 'USER before ENTRYPOINT');
    // Kubernetes runAsNonRoot can only verify a numeric user, or the pod's runAsUser
    const dep = deployDocs.find((d) => d.kind === 'Deployment' && d.metadata.name === p.deployment);
    const podUser = dep.spec.template.spec.securityContext?.runAsUser;
    t.ok(/^\d+$/.test(uid) || podUser !== undefined, 'a numeric USER or a runAsUser in the Deployment');
    if (podUser !== undefined && /^\d+$/.test(uid)) t.equal(podUser, Number(uid), 'the Deployment runs as the image user');

    const exposed = all(runtime, 'EXPOSE').flatMap((e) => e.args);
    t.same([...exposed].sort(), [...p.ports].sort(), `EXPOSE ${p.ports.join(' ')} (the example config's listeners)`);
    for (const port of dep.spec.template.spec.containers[0].ports) {
      const spec = port.protocol === 'UDP' ? `${port.containerPort}/udp` : String(port.containerPort);
      t.ok(exposed.includes(spec), `the Deployment's ${port.name} port ${spec} is EXPOSEd`);
    }

    t.same(only(runtime, 'STOPSIGNAL').args, ['SIGTERM']);
    const entry = only(runtime, 'ENTRYPOINT');
    t.ok(entry.exec, 'ENTRYPOINT in exec form (node is PID 1 and gets SIGTERM itself)');
    t.same(entry.args, ['node', p.main]);
    const cmd = only(runtime, 'CMD');
    t.equal(cmd.args[0], '--config');
    const args: string[] = dep.spec.template.spec.containers[0].args;
    t.same(args, cmd.args, 'the Deployment passes the same --config path as the image default');
    const mounts: any[] = dep.spec.template.spec.containers[0].volumeMounts;
    t.ok(mounts.some((m) => dirname(cmd.args[1]) === m.mountPath && m.subPath === undefined),
      'the config file is in a mounted directory (no subPath: ConfigMap updates reach it)');
  });

  t.test(`${p.file}: the build stage holds every source the program imports`, async (t) => {
    const [build] = stagesOf(p);
    const copied = all(build, 'COPY').filter((c) => c.flags.from === undefined).flatMap((c) => c.args.slice(0, -1));
    const dirs = copied.filter((c) => existsSync(join(ROOT, c)) && statSync(join(ROOT, c)).isDirectory());
    const entrySource = p.main.replace(/^dist\//, '').replace(/\.js$/, '.ts');
    t.ok(dirs.includes(entrySource.split('/')[0]), `${entrySource} is copied`);
    t.ok(copied.includes('tsconfig.json') && copied.includes('package.json'), 'tsconfig.json and package.json');
    const missing = new Set<string>();
    for (const dir of dirs) {
      for (const file of tsFiles(join(ROOT, dir))) {
        for (const ref of references(file)) {
          const target = relative(ROOT, resolve(dirname(file), ref));
          if (!dirs.includes(target.split(sep)[0])) missing.add(`${relative(ROOT, file)} -> ${target}`);
        }
      }
    }
    t.same([...missing], [], 'no import reaches outside the copied directories');
    const ignored = parseDockerignore(readFileSync(join(ROOT, '.dockerignore'), 'utf8'));
    for (const c of copied) t.notOk(ignored.includes(c.split('/')[0]), `${c} is not excluded by .dockerignore`);
  });

  t.test(`${p.file}: the HEALTHCHECK command, run against the real program`, async (t) => {
    const runtime = stagesOf(p).at(-1)!;
    const hc = only(runtime, 'HEALTHCHECK');
    for (const f of ['interval', 'timeout', 'start-period', 'retries']) t.ok(hc.flags[f], `--${f}`);
    t.ok(hc.exec, 'exec form');
    t.equal(hc.args[0], 'node', 'runs node (the slim image has no curl or wget)');
    t.notMatch(readFileSync(join(ROOT, p.file), 'utf8'), /\b(curl|wget)\b/);
    const run = (port: number): Promise<number | null> => new Promise((done) => {
      const child = spawn(process.execPath, hc.args.slice(1), { env: { ...process.env, [p.portEnv]: String(port) }, stdio: 'ignore' });
      child.on('exit', (code) => done(code));
    });

    let port: number;
    if (p.file === 'Dockerfile.router') {
      const router = await startRouter(writeConfig(baseConfig({ apps: { a: { dynos: [] } } })));
      t.teardown(() => router.stop());
      port = router.ports.admin;
    } else {
      const shuttle = await startShuttle(t, { listen: { http: { host: '127.0.0.1', port: 0 } } });
      port = shuttle.ports.http!;
    }
    t.equal(await run(port), 0, 'healthy: exit 0');
    const dead = 1; // tcpmux: nothing serves it here, and no test can take it
    t.equal(await run(dead), 1, 'nothing listening: exit 1');
  });
}

t.test('.dockerignore keeps the build context to sources and package files', async (t) => {
  const ignored = parseDockerignore(readFileSync(join(ROOT, '.dockerignore'), 'utf8'));
  for (const p of ['node_modules', 'dist', '.git', 'test', 'bench']) t.ok(ignored.includes(p), p);
});
