import t from 'tap';
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { createSocket } from 'node:dgram';
import { encode } from '@msgpack/msgpack';
import { startShuttle } from '../helpers/shuttle-process.js';
import { httpRequest } from '../helpers/http-client.js';
import { postNdjson, sendTcp, syslogFrame } from '../helpers/send.js';
import { waitFor } from '../helpers/wait.js';

// spawned processes on a loaded 2-core machine: more than tap's default 120 s per file
t.setTimeout(600_000);

function blast(port: number, data: Buffer): Promise<void> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1', () => s.end(data));
    s.resume(); // read (and drop) any answer, or the socket never sees its end
    s.on('error', () => resolve());
    s.on('close', () => resolve());
  });
}

t.test('garbage on every port: the shuttle keeps serving every path', async (t) => {
  const sh = await startShuttle(t);
  const p = sh.ports;
  // an open good connection on each TCP ingest survives garbage on other connections
  const mp = connect(p.ingest!, '127.0.0.1');
  const sy = connect(p.syslog_tcp!, '127.0.0.1');
  for (const s of [mp, sy]) s.on('error', () => {});
  t.teardown(() => { mp.destroy(); sy.destroy(); });
  await Promise.all([new Promise((r) => mp.once('connect', r)), new Promise((r) => sy.once('connect', r))]);
  const udp = createSocket('udp4');
  t.teardown(() => udp.close());
  for (let round = 0; round < 20; round++) {
    const junk = randomBytes(1 + Math.floor(Math.random() * 20000));
    await Promise.all([
      blast(p.ingest!, junk),
      blast(p.syslog_tcp!, junk),
      blast(p.http!, junk),
      blast(p.http!, Buffer.concat([Buffer.from('POST /ingest HTTP/1.1\r\nHost: x\r\nContent-Type: application/logplex-1\r\nContent-Length: 100\r\nConnection: close\r\n\r\n'), junk.subarray(0, 100)])),
      new Promise<void>((r) => udp.send(junk.subarray(0, 1400), p.syslog_udp!, '127.0.0.1', () => r())),
    ]);
  }
  await httpRequest(`${sh.base}/ingest`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: randomBytes(5000) });
  mp.write(encode({ app: 'survivor', source: 'app', process: 'mp', stream: 'stdout', time: 1795600000000, message: 'msgpack ok' }));
  sy.write(syslogFrame('survivor', 'sy', 'syslog tcp ok'));
  await sendTcp(p.syslog_tcp!, syslogFrame('survivor', 'sy2', 'new syslog connection ok'));
  await new Promise<void>((r) => udp.send(Buffer.from('<14>1 - survivor app udp - - udp ok'), p.syslog_udp!, '127.0.0.1', () => r()));
  await postNdjson(sh.base, [{ app: 'survivor', process: 'http', message: 'http ok' }]);
  await waitFor(async () => (await httpRequest(`${sh.base}/apps/survivor/logs`)).body.split('\n').length > 5, 'five good lines');
  const body = (await httpRequest(`${sh.base}/apps/survivor/logs`)).body;
  for (const m of ['msgpack ok', 'syslog tcp ok', 'new syslog connection ok', 'udp ok', 'http ok']) t.ok(body.includes(`: ${m}\n`), m);
  t.equal((await httpRequest(`${sh.base}/healthz`)).status, 200);
  const metrics = (await httpRequest(`${sh.base}/metrics`)).body;
  t.match(metrics, /edgeplane_shuttle_bad_input_total\{ingest="msgpack"/);
  t.match(metrics, /edgeplane_shuttle_bad_input_total\{ingest="syslog_tcp"/);
  t.match(metrics, /edgeplane_shuttle_bad_input_total\{ingest="syslog_udp"/);
  t.match(metrics, /edgeplane_shuttle_bad_input_total\{ingest="http"/);
  t.equal(sh.proc.exitCode, null, 'still running');
  t.equal(await sh.stop('SIGTERM'), 0, 'SIGTERM: clean exit');
});
