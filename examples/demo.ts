/**
 * `npm start`: the whole data plane on loopback from the configs in examples/ — the log
 * shuttle, the router (HTTP and HTTPS), two dynos of api-prod and a canary dyno. Prints the
 * URLs and curl lines to try, then follows the demo apps' live tail. Ctrl-C stops everything.
 * DEMO_PORT_OFFSET shifts every port (tests use it to avoid clashes).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, copyFileSync, mkdirSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeLogRecord } from '../shared/msgpack-record.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const EXAMPLES = join(ROOT, 'examples');
const OFFSET = Number(process.env.DEMO_PORT_OFFSET ?? 0);
const children: ChildProcess[] = [];

function shift(port: number): number {
  return port + OFFSET;
}

function shiftAddress(a: string): string {
  return a.replace(/:(\d+)$/, (_m, p: string) => `:${shift(Number(p))}`);
}

/** Copies the example configs with shifted ports into a temp dir (certificates beside them). */
function prepareConfigs(): { router: string; shuttle: string; r: any; s: any } {
  const dir = mkdtempSync(join(tmpdir(), 'edgeplane-demo-'));
  mkdirSync(join(dir, 'certs'));
  for (const f of ['demo.pem', 'demo.key']) copyFileSync(join(EXAMPLES, 'certs', f), join(dir, 'certs', f));
  const r = JSON.parse(readFileSync(join(EXAMPLES, 'router.json'), 'utf8'));
  for (const l of Object.values(r.listen) as { port: number }[]) l.port = shift(l.port);
  r.logshuttle = shiftAddress(r.logshuttle);
  for (const app of Object.values(r.apps) as { dynos: string[] }[]) app.dynos = app.dynos.map(shiftAddress);
  const s = JSON.parse(readFileSync(join(EXAMPLES, 'logshuttle.json'), 'utf8'));
  for (const l of Object.values(s.listen) as { port: number }[]) l.port = shift(l.port);
  const router = join(dir, 'router.json');
  const shuttle = join(dir, 'logshuttle.json');
  writeFileSync(router, JSON.stringify(r, null, 2));
  writeFileSync(shuttle, JSON.stringify(s, null, 2));
  return { router, shuttle, r, s };
}

/** Starts a node program and resolves when a stderr/stdout line contains `readyText`. */
function start(name: string, args: string[], readyText: string, env: NodeJS.ProcessEnv = {}, onLine?: (line: string) => void): Promise<ChildProcess> {
  const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    let ready = false;
    const watch = (stream: NodeJS.ReadableStream, isOut: boolean): void => {
      let buf = '';
      stream.setEncoding('utf8');
      stream.on('data', (d: string) => {
        buf += d;
        const lines = buf.split('\n');
        buf = lines.pop()!;
        for (const line of lines) {
          if (!ready && line.includes(readyText)) {
            ready = true;
            resolve(child);
          }
          if (isOut && onLine) onLine(line);
          else if (!isOut && /"level":(40|50|60)/.test(line)) process.stderr.write(`[${name}] ${line}\n`);
        }
      });
    };
    watch(child.stdout!, true);
    watch(child.stderr!, false);
    child.once('exit', (code) => {
      if (!ready) reject(new Error(`${name} exited (${code}) before it was ready`));
    });
  });
}

/** Ships a dyno's stdout lines to the shuttle's msgpack ingest, as logplex would. */
function dynoLogger(ingestPort: number): (app: string, dyno: string) => (line: string) => void {
  let sock: Socket | null = null;
  const open = (): Socket => {
    const s = connect(ingestPort, '127.0.0.1');
    s.on('error', () => undefined);
    s.on('close', () => { if (sock === s) sock = null; });
    return s;
  };
  return (app, dyno) => (line) => {
    sock ??= open();
    sock.write(encodeLogRecord({ app, source: 'app', process: dyno, stream: 'stdout', time: Date.now(), message: line }));
  };
}

async function followTail(httpPort: number, app: string): Promise<void> {
  for (;;) {
    try {
      const res = await fetch(`http://127.0.0.1:${httpPort}/apps/${app}/logs?lines=0&tail=true`);
      if (!res.body) throw new Error('no body');
      const decoder = new TextDecoder();
      for await (const chunk of res.body) process.stdout.write(decoder.decode(chunk as Uint8Array, { stream: true }));
    } catch {
      // the shuttle went away or restarted: try again shortly
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Waits until the shuttle has `n` live tails open (its edgeplane_shuttle_tails_open gauge). */
async function tailsOpen(httpPort: number, n: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    try {
      const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
      const m = /^edgeplane_shuttle_tails_open (\d+)/m.exec(text);
      if (m && Number(m[1]) >= n) return;
    } catch {
      // not answering yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('the live tails did not open within 30 s');
}

async function main(): Promise<void> {
  const { router, shuttle, r, s } = prepareConfigs();
  const http = r.listen.http.port as number;
  const https = r.listen.https.port as number;
  const admin = r.listen.admin.port as number;
  const tailPort = s.listen.http.port as number;

  await start('logshuttle', [join(ROOT, 'dist/logshuttle/main.js'), '--config', shuttle], 'log shuttle ready');
  const ship = dynoLogger(s.listen.ingest.port);
  const dynos: [string, string, string, NodeJS.ProcessEnv][] = [
    ['api-prod', 'web.1', r.apps['api-prod'].dynos[0], { RELEASE: 'v41' }],
    ['api-prod', 'web.2', r.apps['api-prod'].dynos[1], { RELEASE: 'v41' }],
    ['api-canary', 'web.1', r.apps['api-canary'].dynos[0], { RELEASE: 'v42' }],
  ];
  for (const [app, dyno, address, env] of dynos) {
    const port = address.split(':').pop()!;
    await start(`${app} ${dyno}`, [join(ROOT, 'dist/examples/demo-dyno.js')], 'listening on', { ...env, PORT: port, DYNO: dyno }, ship(app, dyno));
  }
  await start('router', [join(ROOT, 'dist/router/main.js'), '--config', router], 'router ready');

  const lines = [
    '',
    'Edgeplane demo is up:',
    `  router      http://127.0.0.1:${http}  https://127.0.0.1:${https}  (hosts *.example.io, www.example.com)`,
    `  admin       http://127.0.0.1:${admin}  (/healthz /readyz /config /metrics /canaries)`,
    `  log shuttle http://127.0.0.1:${tailPort}  (tail: /apps/api-prod/logs?tail=true)`,
    '',
    'Try:',
    `curl -s -H 'Host: api-prod.example.io' http://127.0.0.1:${http}/hello`,
    `curl -s -H 'Host: www.example.com' 'http://127.0.0.1:${http}/v3/api/users?page=2'`,
    `curl -s --cacert examples/certs/demo-ca.pem --resolve api-prod.example.io:${https}:127.0.0.1 https://api-prod.example.io:${https}/secure`,
    `curl -si -X OPTIONS -H 'Host: api-prod.example.io' -H 'Origin: https://www.example.com' -H 'Access-Control-Request-Method: POST' http://127.0.0.1:${http}/items`,
    `curl -s -H 'Host: nope.example.io' http://127.0.0.1:${http}/`,
    `curl -s http://127.0.0.1:${admin}/metrics`,
    `curl -s http://127.0.0.1:${admin}/canaries`,
    `curl -s 'http://127.0.0.1:${tailPort}/apps/api-prod/logs?lines=20'`,
    '',
    'Live tail of api-prod and api-canary follows (Ctrl-C stops everything):',
    '',
  ];
  // the tails are open (the shuttle counts them) before the curl lines are printed: a line from
  // the first request made after reading them is never lost to a tail not yet attached
  void followTail(tailPort, 'api-prod');
  void followTail(tailPort, 'api-canary');
  await tailsOpen(tailPort, 2);
  process.stdout.write(lines.join('\n') + '\n');
}

let stopping = false;
function stopAll(code: number): void {
  if (stopping) return;
  stopping = true;
  for (const c of children) c.kill('SIGTERM');
  setTimeout(() => {
    for (const c of children) c.kill('SIGKILL');
    process.exit(code);
  }, 3000).unref();
  let left = children.filter((c) => c.exitCode === null && c.signalCode === null).length;
  if (left === 0) process.exit(code);
  for (const c of children) c.once('exit', () => { if (--left <= 0) process.exit(code); });
}
process.on('SIGINT', () => stopAll(0));
process.on('SIGTERM', () => stopAll(0));

main().catch((err: Error) => {
  process.stderr.write(`demo failed: ${err.message}\n`);
  stopAll(1);
});
