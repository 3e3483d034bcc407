// SIGTERM through the spawned shuttle: bytes already sent on open ingest connections are
// ingested and flushed to the drains; POST /ingest during the flush gets 503.
import t from 'tap';
import http from 'node:http';
import { connect, type Socket } from 'node:net';
import { encode } from '@msgpack/msgpack';
import { startShuttle } from './helpers/shuttle-process.js';
import { httpRequest } from './helpers/http-client.js';
import { syslogFrame } from './helpers/send.js';
import { waitFor } from './helpers/wait.js';
import { parseSyslog, startStreamReceiver } from './drains/receivers.js';

const N = 10000;
// generous: the machine may be loaded; a stop ends as soon as the senders close and the drain took all
const SHUTDOWN_MS = 60_000;
const PAD = 'q'.repeat(400);

t.setTimeout(600_000);

async function openConnection(port: number): Promise<Socket> {
  const s = connect(port, '127.0.0.1');
  s.on('error', () => {});
  s.resume();
  await new Promise((r) => s.once('connect', r));
  return s;
}

async function inTail(base: string, app: string, text: string): Promise<void> {
  await waitFor(async () => (await httpRequest(`${base}/apps/${app}/logs?lines=5`)).body.includes(text), `${text} in the tail`);
}

/** Message numbers received by the drain, in order. */
function numbers(messages: string[]): number[] {
  return messages.map((m) => Number(/^n(\d+) /.exec(parseSyslog(m).msg)?.[1] ?? -1));
}

for (const ingest of ['syslog_tcp', 'ingest'] as const) {
  t.test(`${ingest}: every line written just before SIGTERM reaches the TCP drain`, async (t) => {
    const rx = await startStreamReceiver();
    t.teardown(() => rx.close());
    const app = `term-${ingest.replace('_', '-')}`;
    const sh = await startShuttle(t, { drainBuffer: 100000, shutdownMs: SHUTDOWN_MS, drains: { [app]: [`syslog://127.0.0.1:${rx.port}`] } });
    const port = ingest === 'syslog_tcp' ? sh.ports.syslog_tcp! : sh.ports.ingest!;
    const encodeLine = (i: number): Buffer => ingest === 'syslog_tcp'
      ? Buffer.from(syslogFrame(app, 'web.1', `n${i} ${PAD}`))
      : Buffer.from(encode({ app, source: 'app', process: 'web.1', stream: 'stdout', time: Date.now(), message: `n${i} ${PAD}` }));
    const client = await openConnection(port);
    // the connection is accepted and read: its first line is in the tail
    client.write(encodeLine(0));
    await inTail(sh.base, app, 'n0 ');
    const rest: Buffer[] = [];
    for (let i = 1; i < N; i++) rest.push(encodeLine(i));
    client.write(Buffer.concat(rest)); // ~4.5 MB: much of it still in socket buffers at SIGTERM
    const exited = sh.stop('SIGTERM');
    client.end();
    t.equal(await exited, 0, 'exit code 0');
    await waitFor(() => rx.messages.length >= N, `${N} lines at the drain (have ${rx.messages.length})`, 30_000).catch(() => {});
    const got = numbers(rx.messages);
    t.equal(got.length, N, 'every line, nothing more');
    t.ok(got.every((n, i) => n === i), 'in order');
    t.ok(sh.log.some((l) => l.includes('ingest closed; flushing drains')), 'the stop went through its phases');
  });
}

t.test('POST /ingest on a keep-alive connection during the flush: 503, nothing of it taken', async (t) => {
  const rx = await startStreamReceiver({ stall: true });
  t.teardown(() => rx.close());
  const sh = await startShuttle(t, { drainBuffer: 100000, shutdownMs: SHUTDOWN_MS, drains: { ka: [`syslog://127.0.0.1:${rx.port}`] } });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  t.teardown(() => agent.destroy());
  const post = (lines: string[]): Promise<{ status: number; body: string }> => new Promise((resolve, reject) => {
    const body = lines.map((message, i) => JSON.stringify({ app: 'ka', source: 'app', process: 'web.1', stream: 'stdout', time: Date.now() + i, message })).join('\n') + '\n';
    const req = http.request(`${sh.base}/ingest`, { method: 'POST', agent, headers: { 'content-type': 'application/x-ndjson' } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
  // more than the kernel's socket buffers take: the flush lasts until the receiver reads
  const M = 30000;
  const first = Array.from({ length: M }, (_, i) => `n${i} ${PAD}`);
  const r1 = await post(first);
  t.equal(r1.status, 200);
  t.same(JSON.parse(r1.body), { accepted: M, rejected: 0 });
  const exited = sh.stop('SIGTERM');
  await waitFor(() => sh.log.some((l) => l.includes('ingest closed; flushing drains')), 'the flush phase');
  const r2 = await post(['n999999 sent during the flush']);
  t.equal(r2.status, 503, 'refused while stopping');
  t.match(JSON.parse(r2.body), { code: 'E_STOPPING' });
  rx.resume();
  t.equal(await exited, 0);
  await waitFor(() => rx.messages.length >= M, `${M} lines at the drain`, 30_000).catch(() => {});
  const got = numbers(rx.messages);
  t.equal(got.length, M, 'the lines accepted before the stop, and only those');
  t.ok(got.every((n, i) => n === i), 'in order');
});

t.test('SIGHUP neither stops the shuttle nor loses a line: logged and ignored', async (t) => {
  const rx = await startStreamReceiver();
  t.teardown(() => rx.close());
  const app = 'hup';
  const sh = await startShuttle(t, { drains: { [app]: [`syslog://127.0.0.1:${rx.port}`] } });
  const client = await openConnection(sh.ports.syslog_tcp!);
  t.teardown(() => client.destroy());
  client.write(Buffer.from(syslogFrame(app, 'web.1', 'n0 before')));
  await waitFor(() => rx.messages.length >= 1, 'the first line at the drain');
  sh.proc.kill('SIGHUP');
  await waitFor(() => sh.log.some((l) => l.includes('SIGHUP ignored')), 'the SIGHUP warning');
  client.write(Buffer.from(syslogFrame(app, 'web.1', 'n1 after')));
  await waitFor(() => rx.messages.length >= 2, 'the line sent after SIGHUP at the drain');
  t.same(numbers(rx.messages), [0, 1], 'both lines, in order');
  t.equal(sh.proc.exitCode, null, 'still running');
  t.equal(await sh.stop('SIGTERM'), 0, 'a later SIGTERM stops it as usual');
});
