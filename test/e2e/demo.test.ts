import t from 'tap';
import { spawn, execFile } from 'node:child_process';
import { join } from 'node:path';
import { ROOT, until } from '../support/router-harness.js';
import { assertDistFresh } from '../support/dist-fresh.js';

t.test('npm start: the demo comes up, prints curl lines, and the first curl shows its router line in the tail', async (t) => {
  // the demo's ports (5000-9090) shifted to 15000-32090: below the kernel's ephemeral range
  // (/proc/sys/net/ipv4/ip_local_port_range, 32768 up), where every other test's port-0
  // listener and outgoing connection lands (an offset into that range collided under load)
  const offset = 10000 + Math.floor(Math.random() * 13000);
  assertDistFresh();
  const demo = spawn(process.execPath, [join(ROOT, 'dist/examples/demo.js')], {
    cwd: ROOT,
    env: { ...process.env, DEMO_PORT_OFFSET: String(offset) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  demo.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  demo.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<number | null>((r) => demo.once('exit', (code) => r(code)));
  t.teardown(() => { if (demo.exitCode === null) demo.kill('SIGKILL'); });

  await until(() => out.includes('Live tail of') || demo.exitCode !== null, 60000, 'the demo to be ready');
  t.equal(demo.exitCode, null, `demo running (stderr: ${err})`);
  const curls = out.split('\n').filter((l) => l.startsWith('curl '));
  t.ok(curls.length >= 5, 'several curl lines');
  const first = curls[0];
  t.notMatch(first, /-X |--data|OPTIONS/, 'the first curl is a plain GET');

  const body = await new Promise<string>((resolve, reject) => {
    execFile('sh', ['-c', `${first} -w '\\n%{http_code}'`], { cwd: ROOT }, (e, stdout) => (e ? reject(e) : resolve(stdout)));
  });
  t.match(body, /\n200$/, 'the first curl answers 200');
  const rid = /"requestId":"([^"]+)"/.exec(body)?.[1];
  t.ok(rid, 'the dyno answered with the request id');
  await until(() => out.includes(`akkeris/router: at=info method=GET`) && out.includes(`request_id=${rid}`), 20000, 'the router line in the tail');
  // a share of api-prod goes to its canary: the line is then in api-canary's stream, marked canary=true
  t.match(out, new RegExp(`(api-prod akkeris/router: at=info method=GET path=\\S+ host=api-prod\\.example\\.io request_id=${rid} .*status=200)|(api-canary akkeris/router: at=info method=GET path=\\S+ host=api-prod\\.example\\.io request_id=${rid} .*status=200 .*canary=true)`));
  // the dyno ships its own line on another connection: it may follow the router's
  const dynoLine = new RegExp(`api-(prod|canary) app\\[web\\.\\d\\]: GET \\S+ -> 200`);
  await until(() => dynoLine.test(out), 20000, 'the dyno line in the tail').catch(() => undefined);
  t.match(out, dynoLine, 'the dyno line too');

  demo.kill('SIGINT');
  t.equal(await exited, 0, 'Ctrl-C stops everything cleanly');
});
