import t from 'tap';
import { connect } from 'node:net';
import { createSocket } from 'node:dgram';
import syslog from 'syslog-client';
import { startShuttle } from '../helpers/shuttle-process.js';
import { httpRequest } from '../helpers/http-client.js';
import { waitFor } from '../helpers/wait.js';

// spawned processes on a loaded 2-core machine: more than tap's default 120 s per file
t.setTimeout(600_000);

async function logsOf(base: string, app: string, lines = 1500): Promise<string[]> {
  const r = await httpRequest(`${base}/apps/${app}/logs?lines=${lines}`);
  return r.body.split('\n').filter((l) => l !== '');
}

function sendTcp(port: number, data: Buffer | string): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => s.end(data));
    s.on('error', reject);
    s.on('close', () => resolve());
  });
}

t.test('syslog TCP: octet-counted and LF-framed frames on one connection, fields mapped', async (t) => {
  const sh = await startShuttle(t);
  const frame = (msg: string) => `${Buffer.byteLength(msg)} ${msg}`;
  const data =
    frame('<14>1 2026-11-25T10:00:00.123Z api-prod app web.1 - - hello from web.1') +
    '<11>1 2026-11-25T10:00:00.124Z api-prod app worker.2 - - on stderr\n' +
    frame('<14>1 2026-11-25T10:00:00.125Z api-prod akkeris router - - at=info method=GET path=/\n') +
    frame('<14>1 2026-11-25T10:00:00.126Z api-prod build - - [x@1 a="b\\"]"] build step 1') +
    '<14>1 2026-11-25T10:00:00.127+00:00 api-prod platform - - - multibyte ☃ ok\r\n' +
    frame('<14>1 2026-11-25T10:00:00.127Z api-prod app web.4 - - line one\nline two\n') +
    frame('<14>1 2026-11-25T10:00:00.128Z api-prod something web.3 - - unknown app-name counts as app');
  await sendTcp(sh.ports.syslog_tcp!, data);
  await waitFor(async () => (await logsOf(sh.base, 'api-prod')).length >= 7, '7 lines');
  const lines = await logsOf(sh.base, 'api-prod');
  t.same(lines, [
    '2026-11-25T10:00:00.123Z api-prod app[web.1]: hello from web.1',
    '2026-11-25T10:00:00.124Z api-prod app[worker.2]: on stderr',
    '2026-11-25T10:00:00.125Z api-prod akkeris/router: at=info method=GET path=/',
    '2026-11-25T10:00:00.126Z api-prod akkeris/build: build step 1',
    '2026-11-25T10:00:00.127Z api-prod akkeris/platform: multibyte ☃ ok',
    '2026-11-25T10:00:00.127Z api-prod app[web.4]: line one\\nline two',
    '2026-11-25T10:00:00.128Z api-prod app[web.3]: unknown app-name counts as app',
  ]);
});

t.test('syslog-client (npm) as a third-party sender over UDP and TCP', async (t) => {
  const sh = await startShuttle(t);
  for (const [transport, port, app] of [[syslog.Transport.Udp, sh.ports.syslog_udp!, 'udp-app'], [syslog.Transport.Tcp, sh.ports.syslog_tcp!, 'tcp-app']] as const) {
    const client = syslog.createClient('127.0.0.1', { port, transport, rfc3164: false, syslogHostname: app, appName: 'app' });
    client.on('error', () => {});
    t.teardown(() => client.close());
    await new Promise<void>((resolve, reject) => client.log('first line', { severity: syslog.Severity.Informational }, (err?: Error) => (err ? reject(err) : resolve())));
    await new Promise<void>((resolve, reject) => client.log('second, an error', { severity: syslog.Severity.Error }, (err?: Error) => (err ? reject(err) : resolve())));
    await waitFor(async () => (await logsOf(sh.base, app)).length >= 2, `${app} lines`);
    const lines = await logsOf(sh.base, app);
    t.equal(lines.length, 2, `${app}: two lines`);
    t.match(lines[0], new RegExp(`^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z ${app} app\\[${process.pid}\\]: first line$`));
    t.match(lines[1], new RegExp(`Z ${app} app\\[${process.pid}\\]: second, an error$`));
  }
});

t.test('bad syslog input is counted and skipped; the connection and other apps go on', async (t) => {
  const sh = await startShuttle(t);
  const good = connect(sh.ports.syslog_tcp!, '127.0.0.1');
  good.on('error', () => {});
  t.teardown(() => good.destroy());
  await new Promise((r) => good.once('connect', r));
  good.write('<14>1 - good-app app web.1 - - before\n');
  // garbage on another connection, and on the same one between good frames
  await sendTcp(sh.ports.syslog_tcp!, Buffer.from([0xff, 0xfe, 0x00, 0x41, 0x0a, 0x39, 0x39, 0x39, 0x39, 0x39, 0x39, 0x39, 0x39, 0x39, 0x20]));
  good.write('this is not syslog\n<999>1 - good-app app web.1 - - bad pri\n<14>1 notatime good-app app web.1 - - x\n<14>1 - - app web.1 - - no host\n');
  good.write('<14>1 - good-app app web.1 - - after\n');
  const udp = createSocket('udp4');
  t.teardown(() => udp.close());
  await new Promise<void>((r) => udp.send(Buffer.from('garbage datagram'), sh.ports.syslog_udp!, '127.0.0.1', () => r()));
  await new Promise<void>((r) => udp.send(Buffer.from('<14>1 - good-app app web.2 - - via udp'), sh.ports.syslog_udp!, '127.0.0.1', () => r()));
  await waitFor(async () => (await logsOf(sh.base, 'good-app')).length >= 3, 'good lines');
  const lines = (await logsOf(sh.base, 'good-app')).map((l) => l.replace(/^\S+ /, ''));
  t.same(lines.sort(), ['good-app app[web.1]: after', 'good-app app[web.1]: before', 'good-app app[web.2]: via udp']);
  const metrics = (await httpRequest(`${sh.base}/metrics`)).body;
  t.match(metrics, /edgeplane_shuttle_bad_input_total\{ingest="syslog_tcp",reason="not a syslog frame"\} [1-9]/);
  t.match(metrics, /edgeplane_shuttle_bad_input_total\{ingest="syslog_tcp",reason="bad PRI"\} 1/);
  t.match(metrics, /edgeplane_shuttle_bad_input_total\{ingest="syslog_tcp",reason="bad TIMESTAMP"\} 1/);
  t.match(metrics, /edgeplane_shuttle_bad_input_total\{ingest="syslog_udp",reason="does not start with <PRI>"\} 1/);
  t.match(metrics, /edgeplane_shuttle_lines_in_total\{ingest="syslog_tcp",source="app"\} 2/);
  t.ok(sh.log.some((l) => l.includes('bad input skipped')), 'a reason is logged');
  t.equal((await httpRequest(`${sh.base}/healthz`)).status, 200);
});
