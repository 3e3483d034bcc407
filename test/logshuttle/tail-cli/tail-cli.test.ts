// The tail CLI (`node dist/logshuttle/tail.js`) against spawned shuttles.
import t from 'tap';
import { startShuttle } from '../helpers/shuttle-process.js';
import { httpRequest } from '../helpers/http-client.js';
import { postNdjson } from '../helpers/send.js';
import { spawnTail, startProxy } from '../helpers/tail-cli.js';
import { waitFor } from '../helpers/wait.js';
import { createServer } from 'node:net';

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

t.setTimeout(600_000);

const T0 = Date.UTC(2026, 10, 25, 10, 0, 0, 0);
const iso = (ms: number): string => new Date(T0 + ms).toISOString();
const ANSI = /\x1b\[/;

t.test('--no-follow: the newest --lines of history, then exit 0', async (t) => {
  const sh = await startShuttle(t);
  await postNdjson(sh.base, Array.from({ length: 5 }, (_, i) => ({ app: 'hist', time: T0 + i, message: `line ${i}` })));
  const cli = spawnTail(t, ['--app', 'hist', '--url', sh.base, '--lines', '3', '--no-follow']);
  t.equal(await cli.exit, 0);
  t.equal(cli.stdout(), [2, 3, 4].map((i) => `${iso(i)} hist app[web.1]: line ${i}\n`).join(''));
  t.notMatch(cli.stdout(), ANSI, 'no colours when stdout is not a TTY');
  const empty = spawnTail(t, ['-a', 'nobody', '--url', sh.base + '/', '--no-follow']);
  t.equal(await empty.exit, 0, 'an app without lines: empty history, exit 0');
  t.equal(empty.stdout(), '');
});

t.test('follow: history, then lines sent later; Ctrl-C exits 0', async (t) => {
  const sh = await startShuttle(t);
  await postNdjson(sh.base, [
    { app: 'fol', time: T0, message: 'old 1' },
    { app: 'fol', time: T0 + 1, message: 'old 2' },
  ]);
  const cli = spawnTail(t, ['--app', 'fol', '--url', sh.base, '--lines', '1']);
  await cli.waitForLine((l) => l.endsWith('old 2'), 'history');
  await postNdjson(sh.base, [
    { app: 'fol', time: T0 + 2, source: 'router', process: 'router', message: 'at=info new' },
    { app: 'other', time: T0 + 2, message: 'not this app' },
  ]);
  await cli.waitForLine((l) => l.endsWith('at=info new'), 'a live line');
  cli.proc.kill('SIGINT');
  t.equal(await cli.exit, 0, 'exit 0 on SIGINT');
  t.same(cli.lines(), [`${iso(1)} fol app[web.1]: old 2`, `${iso(2)} fol akkeris/router: at=info new`]);
  t.notMatch(cli.stdout(), ANSI);
});

t.test('a broken stream: reconnects, prints the lines sent meanwhile once, repeats nothing', async (t) => {
  const sh = await startShuttle(t);
  const proxy = await startProxy(sh.ports.http!);
  t.teardown(() => proxy.close());
  await postNdjson(sh.base, [{ app: 'brk', time: T0, message: 'before 0' }, { app: 'brk', time: T0 + 1, message: 'before 1' }]);
  // --lines 0: the history is not shown, and must not be shown after the reconnect either
  const cli = spawnTail(t, ['--app', 'brk', '--url', `http://127.0.0.1:${proxy.port}`, '--lines', '0']);
  await waitFor(async () => /edgeplane_shuttle_tails_open 1\b/.test((await httpRequest(`${sh.base}/metrics`)).body), 'the tail open');
  await postNdjson(sh.base, [{ app: 'brk', time: T0 + 2, message: 'live 2' }]);
  await cli.waitForLine((l) => l.endsWith('live 2'), 'live 2');
  proxy.cut();
  await postNdjson(sh.base, [3, 4, 5].map((i) => ({ app: 'brk', time: T0 + i, message: `gap ${i}` })));
  await waitFor(async () => (await httpRequest(`${sh.base}/apps/brk/logs?lines=1`)).body.includes('gap 5'), 'gap lines held');
  await cli.waitForLine(() => /connection lost/.test(cli.stderr()), 'the CLI noticed the break');
  proxy.allow();
  await cli.waitForLine((l) => l.endsWith('gap 5'), 'the lines sent while cut');
  await postNdjson(sh.base, [{ app: 'brk', time: T0 + 6, message: 'live 6' }]);
  await cli.waitForLine((l) => l.endsWith('live 6'), 'live after the reconnect');
  t.same(cli.lines(), [2, 3, 4, 5, 6].map((i) => `${iso(i)} brk app[web.1]: ${i === 2 || i === 6 ? 'live' : 'gap'} ${i}`));
  t.match(cli.stderr(), /connection lost .*reconnecting/);
  t.match(cli.stderr(), /reconnected/);
});

t.test('the shuttle restarted on the same port: the CLI reconnects and shows the lines sent after', async (t) => {
  // a fixed port from the start: uWS sets SO_REUSEADDR only for a non-zero port, and the
  // connections of a listener without it keep the port from being bound again in TIME_WAIT
  const port = await freePort();
  const listen = { listen: { http: { host: '127.0.0.1', port } } };
  const first = await startShuttle(t, listen);
  await postNdjson(first.base, [{ app: 'rs', time: T0, message: 'from the first shuttle' }]);
  const cli = spawnTail(t, ['--app', 'rs', '--url', first.base]);
  await cli.waitForLine((l) => l.endsWith('from the first shuttle'), 'history');
  t.equal(await first.stop('SIGTERM'), 0);
  const second = await startShuttle(t, listen);
  await postNdjson(second.base, [{ app: 'rs', time: T0 + 1, message: 'from the second shuttle' }]);
  await cli.waitForLine((l) => l.endsWith('from the second shuttle'), 'a line from the restarted shuttle');
  await postNdjson(second.base, [{ app: 'rs', time: T0 + 2, message: 'live on the second' }]);
  await cli.waitForLine((l) => l.endsWith('live on the second'), 'live after the restart');
  t.same(cli.lines(), [
    `${iso(0)} rs app[web.1]: from the first shuttle`,
    `${iso(1)} rs app[web.1]: from the second shuttle`,
    `${iso(2)} rs app[web.1]: live on the second`,
  ]);
  cli.proc.kill('SIGINT');
  t.equal(await cli.exit, 0);
});

t.test('bad arguments: a clear message, exit 2', async (t) => {
  const cases: Array<[string[], RegExp]> = [
    [[], /--app APP is required/],
    [['--app'], /argument missing|--app/],
    [['--app', 'a', '--bogus'], /Unknown option '--bogus'/],
    [['--app', 'a', '--lines', 'ten'], /--lines: expected an integer/],
    [['--app', 'a', '--lines', '-1'], /--lines/],
    [['--app', 'a', '--url', 'ftp://x'], /--url: expected http:\/\/ or https:\/\//],
    [['--app', 'a', '--url', 'not a url'], /--url: not a URL/],
    [['--app', 'has space'], /--app: the app name contains whitespace/],
    [['--app', 'a', 'extra'], /positional/i],
  ];
  for (const [args, message] of cases) {
    const cli = spawnTail(t, args);
    t.equal(await cli.exit, 2, `exit 2: ${args.join(' ')}`);
    t.match(cli.stderr(), message, `message: ${args.join(' ')}`);
    t.equal(cli.stdout(), '');
  }
});

t.test('refused or unreachable: exit 1 with the reason', async (t) => {
  const sh = await startShuttle(t, {}, { LOGSHUTTLE_TOKEN: 'tok' });
  await postNdjson(sh.base, [{ app: 'sec', time: T0, message: 'private' }], { authorization: 'Bearer tok' });
  const denied = spawnTail(t, ['--app', 'sec', '--url', sh.base]);
  t.equal(await denied.exit, 1, 'no token: exit 1 even when following');
  t.match(denied.stderr(), /HTTP 401.*LOGSHUTTLE_TOKEN/);
  const ok = spawnTail(t, ['--app', 'sec', '--url', sh.base, '--no-follow'], { LOGSHUTTLE_TOKEN: 'tok' });
  t.equal(await ok.exit, 0);
  t.equal(ok.stdout(), `${iso(0)} sec app[web.1]: private\n`, 'the token from the environment is sent');
  // port 1: nothing listens there (a freed ephemeral port may be taken by another process)
  const down = spawnTail(t, ['--app', 'sec', '--url', 'http://127.0.0.1:1', '--no-follow']);
  t.equal(await down.exit, 1, 'nothing listening, --no-follow: exit 1');
  t.match(down.stderr(), /cannot read the tail from .*ECONNREFUSED/);
});

t.test('colours per source only when asked for a terminal; NO_COLOR wins', async (t) => {
  const sh = await startShuttle(t);
  await postNdjson(sh.base, [
    { app: 'col', time: T0, message: 'dyno' },
    { app: 'col', time: T0, source: 'router', process: 'router', message: 'at=info' },
    { app: 'col', time: T0, source: 'build', process: 'build', message: 'step' },
    { app: 'col', time: T0, source: 'platform', process: 'platform', message: 'Error L10 (output buffer overflow): 1 messages dropped since x' },
  ]);
  const args = ['--app', 'col', '--url', sh.base, '--no-follow'];
  const plain = spawnTail(t, args);
  t.equal(await plain.exit, 0);
  t.notMatch(plain.stdout(), ANSI, 'a pipe gets no escape codes');
  t.equal(plain.lines().length, 4);
  const forced = spawnTail(t, args, { FORCE_COLOR: '1' });
  t.equal(await forced.exit, 0);
  const colored = forced.lines();
  t.equal(colored.length, 4);
  t.match(colored[0], /^\x1b\[2m\S+\x1b\[0m \x1b\[36mcol app\[web\.1\]:\x1b\[0m dyno$/, 'dyno lines cyan');
  t.match(colored[1], /\x1b\[35mcol akkeris\/router:\x1b\[0m at=info$/, 'router magenta');
  t.match(colored[2], /\x1b\[33mcol akkeris\/build:\x1b\[0m step$/, 'build yellow');
  t.match(colored[3], /\x1b\[32mcol akkeris\/platform:\x1b\[0m\x1b\[31m Error L10 /, 'platform green, errors red');
  t.equal(colored.map((l) => l.replace(/\x1b\[\d+m/g, '')).join('\n'), plain.lines().join('\n'), 'the same text without the codes');
  const off = spawnTail(t, args, { FORCE_COLOR: '1', NO_COLOR: '1' });
  t.equal(await off.exit, 0);
  t.notMatch(off.stdout(), ANSI, 'NO_COLOR wins');
});
