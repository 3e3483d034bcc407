// Faults under load: a syslog drain whose receiver goes away every second and comes back, while
// lines stream in steadily. RELIABILITY_FLAP_SECONDS sets how long it flaps (default 15; a
// minute: RELIABILITY_FLAP_SECONDS=60, the figures of record in docs/reliability.md).
import t, { type Test } from 'tap';
import net from 'node:net';
import { encode } from '@msgpack/msgpack';
import { startShuttle } from '../logshuttle/helpers/shuttle-process.js';
import { httpRequest, openTail } from '../logshuttle/helpers/http-client.js';
import { until } from '../support/router-harness.js';
import { FlappingReceiver, type FlapMode } from './support/flapping-receiver.js';
import { l10Total, l11Total } from './support/access-lines.js';
import { report } from './support/report.js';

const SECONDS = Number(process.env.RELIABILITY_FLAP_SECONDS) > 0 ? Number(process.env.RELIABILITY_FLAP_SECONDS) : 15;
const LINES_PER_TICK = 10; // every 10 ms: 1,000 lines/s
const DRAIN_BUFFER = 300; // < lines sent while the receiver is down: the queue overflows
const UP_MS = 1000;
const DOWN_MS = 400;

async function scenario(t: Test, mode: FlapMode): Promise<void> {
  const receiver = new FlappingReceiver();
  await receiver.listen();
  t.teardown(() => receiver.close());
  const app = `flap-${mode}`;
  const shuttle = await startShuttle(t, { history: 100000, drainBuffer: DRAIN_BUFFER, drains: { [app]: [`syslog://${receiver.host}:${receiver.port}`] } });
  const tail = openTail(`${shuttle.base}/apps/${app}/logs?lines=0&tail=true`);
  t.teardown(() => tail.close());

  const ingest = net.connect(shuttle.ports.ingest!, '127.0.0.1');
  t.teardown(() => ingest.destroy());
  await new Promise<void>((r) => ingest.once('connect', () => r()));

  // a down period lasts until the drain's queue has overflowed at least once (on a slow machine
  // DOWN_MS of lines may not fill it), so that a loss to report is certain
  const overflowed = async (): Promise<boolean> => {
    const r = await httpRequest(`${shuttle.base}/metrics`);
    return /edgeplane_shuttle_drain_dropped_total\{[^}]*reason="overflow"\} [1-9]/.test(r.body);
  };
  receiver.startFlapping(mode, UP_MS, DOWN_MS, overflowed);
  let sent = 0;
  let probes = 0;
  const badProbes: string[] = [];
  // SECONDS of lines, and as long as it takes for the flaps those seconds would give (timers run
  // late on a loaded machine); the hang deadline only bounds a stuck receiver
  const minFlaps = Math.floor(SECONDS * 1000 / (UP_MS + DOWN_MS)) - 1;
  const end = Date.now() + SECONDS * 1000;
  const hang = end + 120_000;
  let nextProbe = Date.now() + 500;
  while ((Date.now() < end || receiver.flaps < minFlaps) && Date.now() < hang) {
    const batch: Uint8Array[] = [];
    for (let i = 0; i < LINES_PER_TICK; i++) {
      batch.push(encode({ app, source: 'app', process: 'web.1', stream: 'stdout', time: Date.now(), message: `seq=${sent++} ${'x'.repeat(80)}` }));
    }
    ingest.write(Buffer.concat(batch));
    if (Date.now() >= nextProbe) {
      // the shuttle keeps serving its HTTP API while the drain flaps
      nextProbe = Date.now() + 500;
      probes++;
      const r = await httpRequest(`${shuttle.base}/apps/${app}/logs?lines=5`);
      if (r.status !== 200 || r.body.split('\n').length < 2) badProbes.push(`${r.status} ${r.body.slice(0, 100)}`);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  await receiver.stopFlapping();

  const count = (): { unique: number; duplicates: number; l10: number; foreign: number } => {
    const seen = new Set<number>();
    let duplicates = 0;
    let foreign = 0;
    for (const m of receiver.messages) {
      const s = /seq=(\d+) /.exec(m);
      if (s) {
        const n = Number(s[1]);
        if (seen.has(n)) duplicates++;
        else seen.add(n);
      } else if (!m.includes('Error L10')) foreign++;
    }
    return { unique: seen.size, duplicates, l10: l10Total(receiver.messages), foreign };
  };
  // settled: every line accounted for, or (a receiver that resets loses what was in flight) nothing
  // new for 3 s with the receiver up
  let last = -1;
  let lastChange = Date.now();
  await until(() => {
    const c = count();
    if (c.unique + c.l10 >= sent) return true;
    if (receiver.messages.length !== last) {
      last = receiver.messages.length;
      lastChange = Date.now();
    }
    return Date.now() - lastChange > 3000;
  }, 45000, 'the drain settled').catch(() => undefined);
  // the tail: every line, or (a client too slow for its bounded queue) counted in an L11 line
  const tailCount = (): number => (tail.text().match(/seq=\d+ /g) ?? []).length + l11Total(tail.text());
  await until(() => tailCount() >= sent, 20000, 'every line in the tail').catch(() => undefined);
  const c = count();
  const tailSeqs = (tail.text().match(/seq=\d+ /g) ?? []).length;
  const tailDropped = l11Total(tail.text());

  t.ok(receiver.flaps >= minFlaps, `the receiver flapped (${receiver.flaps} times)`);
  t.ok(c.l10 > 0, `lines were dropped while it was down, and reported (${c.l10})`);
  if (mode === 'graceful') {
    t.equal(c.unique + c.l10, sent, `delivered (${c.unique}) + reported dropped (${c.l10}) = sent (${sent})`);
    t.equal(c.duplicates, 0, 'no line delivered twice');
  } else {
    // a reset discards what the receiver's kernel held unread: syslog over TCP has no
    // acknowledgement, so the shuttle cannot know (reported as linesUnaccounted, never negative)
    t.ok(c.unique + c.l10 <= sent, `delivered (${c.unique}) + reported dropped (${c.l10}) never exceeds sent (${sent})`);
  }
  t.equal(c.foreign, 0, 'nothing but the lines and L10 reports reached the drain');
  t.equal(tailSeqs + tailDropped, sent, `the live tail got every line while the drain flapped (${tailSeqs} + ${tailDropped} reported in L11)`);
  t.same(badProbes, [], `the shuttle answered every tail request meanwhile (${probes})`);

  report(t, `drain-flaps-${mode}`, {
    requestsSent: probes,
    requestsFailed: badProbes.length,
    linesSent: sent,
    linesDelivered: c.unique,
    linesDroppedReported: c.l10,
    linesUnaccounted: sent - c.unique - c.l10,
    duplicates: c.duplicates,
    truncatedBytes: receiver.truncatedBytes,
    flaps: receiver.flaps,
    connections: receiver.connections,
    seconds: SECONDS,
    mode,
    drainBuffer: DRAIN_BUFFER,
    tailLines: tailSeqs,
    tailDroppedReported: tailDropped,
  });
}

t.test('a drain that flaps (receiver restarts cleanly): every line delivered or counted in L10, tails keep flowing', (t) => scenario(t, 'graceful'));

t.test('a drain that flaps (receiver crashes: connections reset): what is lost in flight is measured, never over-reported', (t) => scenario(t, 'abrupt'));
