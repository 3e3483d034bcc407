/**
 * Soak: the router and the log shuttle under mixed traffic for a long while, with their memory
 * and open descriptors sampled. Not a benchmark and not in CI.
 *
 *   npm run build && node dist/bench/soak.js [--minutes 10] [--sample-seconds 10]
 *       [--reload-seconds 3] [--rss-growth 0.2] [--fd-slack 16]
 *
 * Runs the built programs (dist/router/main.js, workers: 2, shipping to dist/logshuttle/main.js)
 * in front of two node:http dynos (with a WebSocket echo) in this process, and sends at once:
 * keep-alive GETs, GETs on a new connection each, 1 MiB uploads, 4 MiB downloads, WebSocket
 * sessions (skipped when the upgrade is not answered 101; each has a deadline, and a session
 * closed or stalled before its 20 echoes is a failure, reported with its close code), app lines over syslog TCP, and a
 * config reload every few seconds (PUT /config, every fourth one a file rewrite + SIGHUP). Every
 * router line and app line goes through the shuttle to a syslog TCP drain received here.
 *
 * Every `--sample-seconds` it records RSS and open fds (/proc/<pid>/status, /proc/<pid>/fd) of
 * the router and the shuttle. Verdict (exit 1 when it fails):
 * - RSS: the last sample is at most `--rss-growth` above the sample at the end of the warm-up
 *   (the first fifth of the run, at least one sample), for each program;
 * - fds: once the load stops and idle connections expire, back within `--fd-slack` of the count
 *   before the load started, for each program;
 * - no request failed, every reload answered 200, every router and app line reached the drain
 *   or was counted in an L10 line.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Pool, request } from 'undici';
import { WebSocket, WebSocketServer } from 'ws';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    'sample-seconds': { type: 'string', default: '10' },
    'reload-seconds': { type: 'string', default: '3' },
    'rss-growth': { type: 'string', default: '0.2' },
    'fd-slack': { type: 'string', default: '16' },
  },
});
const MINUTES = Number(process.env.SOAK_MINUTES ?? values.minutes);
const SAMPLE_MS = Number(values['sample-seconds']) * 1000;
const RELOAD_MS = Number(values['reload-seconds']) * 1000;
const RSS_GROWTH = Number(values['rss-growth']);
const FD_SLACK = Number(values['fd-slack']);
const HOST = 'soak.example.io';
const MiB = 1024 * 1024;

// ---------- processes and probes ----------

function rss(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
  return m ? Number(m[1]) * 1024 : 0;
}

function fds(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** Spawns a built program; resolves once `ready` matches one of its stderr JSON lines. */
/** the programs started, stopped with the soak when it is interrupted (Ctrl-C, kill) */
const children = new Set<ChildProcess>();
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => {
    for (const c of children) c.kill('SIGTERM');
    process.stderr.write(`soak: ${signal}, programs stopped, no verdict\n`);
    process.exit(130);
  });
}

function startProgram(file: string, config: string, ready: (j: Record<string, unknown>) => boolean): Promise<{ proc: ChildProcess; line: Record<string, unknown> }> {
  const proc = spawn(process.execPath, [join(ROOT, file), '--config', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  children.add(proc);
  proc.once('exit', () => children.delete(proc));
  return new Promise((resolve, reject) => {
    let buf = '';
    proc.stderr!.setEncoding('utf8').on('data', (d: string) => {
      buf += d;
      const parts = buf.split('\n');
      buf = parts.pop()!;
      for (const p of parts) {
        try {
          const j = JSON.parse(p) as Record<string, unknown>;
          if (ready(j)) resolve({ proc, line: j });
          if (typeof j.level === 'number' && j.level >= 50) process.stderr.write(`${file}: ${p}\n`);
        } catch { /* not JSON */ }
      }
    });
    proc.once('exit', (code) => reject(new Error(`${file} exited with ${code}`)));
  });
}

// ---------- dynos (in this process) ----------

async function startDyno(name: string): Promise<{ address: string; close(): void }> {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://dyno');
    if (url.pathname === '/download') {
      let left = Number(url.searchParams.get('bytes') ?? 0);
      const chunk = Buffer.alloc(64 * 1024, 'd');
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': left });
      const pump = (): void => {
        while (left > 0) {
          const n = Math.min(left, chunk.length);
          left -= n;
          if (!res.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return void res.once('drain', pump);
        }
        res.end();
      };
      return pump();
    }
    let bytes = 0;
    req.on('data', (c: Buffer) => (bytes += c.length));
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ dyno: name, bytes }));
    });
  });
  const wss = new WebSocketServer({ server });
  wss.on('connection', (ws) => ws.on('message', (m, binary) => ws.send(m, { binary })));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    address: `127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    close: () => {
      for (const c of wss.clients) c.terminate();
      server.closeAllConnections();
      server.close();
    },
  };
}

// ---------- the drain ----------

class DrainReceiver {
  routerLines = 0;
  appLines = 0;
  l10 = 0;
  port = 0;
  private readonly server = net.createServer((s) => {
    let buf: Buffer = Buffer.alloc(0);
    s.on('error', () => undefined);
    s.on('data', (d: Buffer) => {
      buf = buf.length === 0 ? d : Buffer.concat([buf, d]);
      let off = 0;
      for (;;) {
        const sp = buf.indexOf(0x20, off);
        if (sp < 0) break;
        const len = Number(buf.toString('latin1', off, sp));
        if (sp + 1 + len > buf.length) break;
        const msg = buf.toString('utf8', sp + 1, sp + 1 + len);
        if (msg.includes(' request_id=soak-')) this.routerLines++;
        else if (msg.includes(' soakline=')) this.appLines++;
        else {
          const m = /Error L10 \(output buffer overflow\): (\d+) messages/.exec(msg);
          if (m) this.l10 += Number(m[1]);
        }
        off = sp + 1 + len;
      }
      buf = buf.subarray(off);
    });
  });

  async listen(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  close(): void {
    this.server.close();
  }
}

// ---------- traffic ----------

interface Counters {
  requests: number;
  failed: number;
  failures: string[];
  uploads: number;
  downloads: number;
  wsSessions: number;
  wsFailed: number;
  /** why sessions failed (`close 1006`, `stall`, `error …`), counted */
  wsFailures: Record<string, number>;
  wsSupported: boolean | null;
  reloads: number;
  reloadsFailed: number;
  appLinesSent: number;
}

const counters: Counters = { requests: 0, failed: 0, failures: [], uploads: 0, downloads: 0, wsSessions: 0, wsFailed: 0, wsFailures: {}, wsSupported: null, reloads: 0, reloadsFailed: 0, appLinesSent: 0 };
let stopping = false;
let seq = 0;

function fail(what: string): void {
  counters.failed++;
  if (counters.failures.length < 20) counters.failures.push(what);
}

async function httpLoop(pool: Pool, kind: 'small' | 'fresh' | 'upload' | 'download'): Promise<void> {
  const upload = Buffer.alloc(MiB, 'u');
  while (!stopping) {
    const id = `soak-${seq++}`;
    const path = kind === 'download' ? '/download?bytes=4194304' : kind === 'upload' ? '/upload' : `/small/${kind}`;
    try {
      const res = await pool.request({
        path, method: kind === 'upload' ? 'POST' : 'GET', headers: { host: HOST, 'x-request-id': id },
        body: kind === 'upload' ? upload : null, reset: kind === 'fresh', headersTimeout: 30000, bodyTimeout: 30000,
      });
      let bytes = 0;
      for await (const c of res.body) bytes += (c as Buffer).length;
      counters.requests++;
      if (res.statusCode !== 200) fail(`${kind} ${id} ${res.statusCode}`);
      else if (kind === 'download' && bytes !== 4194304) fail(`${kind} ${id} got ${bytes} bytes`);
      else if (kind === 'download') counters.downloads++;
      else if (kind === 'upload') counters.uploads++;
    } catch (err) {
      counters.requests++;
      fail(`${kind} ${id} ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
}

/** A WebSocket session's whole time: the handshake and 20 echoes take milliseconds; this only bounds a stall. */
const WS_SESSION_MS = 30000;

type WsOutcome = { kind: 'ok' } | { kind: 'unsupported' } | { kind: 'failed'; why: string };

/**
 * One WebSocket session: 20 messages echoed. Failed when it errors, when it is closed before the
 * 20th echo (the close code says by whom and why: 1006 a dropped connection, 1012 a dyno
 * removed, 1001 going away…), or when it neither completes nor closes within WS_SESSION_MS.
 */
function wsSession(port: number): Promise<WsOutcome> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, { headers: { host: HOST }, handshakeTimeout: 10000 });
    let got = 0;
    let settled = false;
    const done = (r: WsOutcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      ws.removeAllListeners();
      ws.on('error', () => undefined);
      if (ws.readyState === WebSocket.OPEN) ws.close(1000);
      else ws.terminate();
      resolve(r);
    };
    const deadline = setTimeout(() => done({ kind: 'failed', why: `stall (${got}/20 echoes, ${['connecting', 'open', 'closing', 'closed'][ws.readyState]})` }), WS_SESSION_MS);
    ws.on('unexpected-response', (_req, res) => done(res.statusCode === 200 ? { kind: 'unsupported' } : { kind: 'failed', why: `handshake ${res.statusCode}` }));
    ws.on('open', () => ws.send(`m${got}`));
    ws.on('message', (m) => {
      if (String(m) !== `m${got}`) return done({ kind: 'failed', why: 'wrong echo' });
      if (++got === 20) return done({ kind: 'ok' });
      ws.send(`m${got}`);
    });
    ws.on('close', (code) => done({ kind: 'failed', why: `close ${code}` }));
    ws.on('error', (err) => done({ kind: 'failed', why: `error ${(err as NodeJS.ErrnoException).code ?? err.message}` }));
  });
}

async function wsLoop(port: number): Promise<void> {
  while (!stopping) {
    const r = await wsSession(port);
    if (r.kind === 'unsupported') {
      counters.wsSupported = false;
      return;
    }
    counters.wsSupported = true;
    if (r.kind === 'ok') {
      counters.wsSessions++;
    } else {
      counters.wsFailed++;
      counters.wsFailures[r.why] = (counters.wsFailures[r.why] ?? 0) + 1;
    }
  }
}

/** App lines over syslog TCP (octet-counted RFC5424), ~200 a second. */
async function syslogLoop(port: number): Promise<void> {
  const s = net.connect(port, '127.0.0.1');
  await new Promise<void>((r) => s.once('connect', () => r()));
  while (!stopping) {
    const frames: string[] = [];
    for (let i = 0; i < 20; i++) {
      const msg = `<14>1 ${new Date().toISOString()} soak app web.1 - - soakline=${counters.appLinesSent++} ${'x'.repeat(60)}`;
      frames.push(`${Buffer.byteLength(msg)} ${msg}`);
    }
    s.write(frames.join(''));
    await new Promise((r) => setTimeout(r, 100));
  }
  await new Promise<void>((r) => s.end(() => r()));
}

// ---------- main ----------

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'edgeplane-soak-'));
  const drain = new DrainReceiver();
  await drain.listen();
  const [ingest, syslog, shuttleHttp] = [await freePort(), await freePort(), await freePort()];
  const shuttleConfig = join(dir, 'shuttle.json');
  writeFileSync(shuttleConfig, JSON.stringify({
    listen: { ingest: { host: '127.0.0.1', port: ingest }, syslog_tcp: { host: '127.0.0.1', port: syslog }, http: { host: '127.0.0.1', port: shuttleHttp } },
    drainBuffer: 100000,
    drains: { soak: [`syslog://127.0.0.1:${drain.port}`] },
  }));
  const shuttle = await startProgram('dist/logshuttle/main.js', shuttleConfig, (j) => j.msg === 'log shuttle ready');

  const d1 = await startDyno('d1');
  const d2 = await startDyno('d2');
  const routerConfig = (n: number): Record<string, unknown> => ({
    domain: 'example.io',
    workers: 2,
    listen: { http: { host: '127.0.0.1', port: 0 }, admin: { host: '127.0.0.1', port: 0 } },
    logshuttle: `tcp://127.0.0.1:${ingest}`,
    // each reload changes something real: dyno order and a timeout, and an extra app
    timeouts: { firstByteMs: 20000 + (n % 2) * 1000 },
    apps: { soak: { dynos: n % 2 === 0 ? [d1.address, d2.address] : [d2.address, d1.address] }, [`extra-${n % 3}`]: { dynos: [d1.address] } },
  });
  const routerFile = join(dir, 'router.json');
  writeFileSync(routerFile, JSON.stringify(routerConfig(0)));
  const router = await startProgram('dist/router/main.js', routerFile, (j) => j.msg === 'router ready');
  const ports = router.line.ports as Record<string, number>;
  const rpid = router.proc.pid!;
  const spid = shuttle.proc.pid!;

  const baseline = { router: fds(rpid), shuttle: fds(spid) };
  const origin = `http://127.0.0.1:${ports.http}`;
  const keepAlive = new Pool(origin, { connections: 4 });
  const fresh = new Pool(origin, { connections: 2 });
  const bulk = new Pool(origin, { connections: 2 });
  const loops = [
    ...[0, 1, 2, 3].map(() => httpLoop(keepAlive, 'small')),
    httpLoop(fresh, 'fresh'), httpLoop(fresh, 'fresh'),
    httpLoop(bulk, 'upload'), httpLoop(bulk, 'download'),
    wsLoop(ports.http), syslogLoop(syslog),
  ];

  let reloadN = 0;
  const reloader = setInterval(() => {
    const n = ++reloadN;
    const text = JSON.stringify(routerConfig(n));
    const apply = n % 4 === 0
      ? Promise.resolve().then(() => { writeFileSync(routerFile, text); router.proc.kill('SIGHUP'); return 200; })
      : request(`http://127.0.0.1:${ports.admin}/config`, { method: 'PUT', body: text, headers: { 'content-type': 'application/json' } })
        .then(async (r) => { await r.body.text(); return r.statusCode; });
    void apply.then((status) => {
      counters.reloads++;
      if (status !== 200) counters.reloadsFailed++;
    }, () => { counters.reloads++; counters.reloadsFailed++; });
  }, RELOAD_MS);

  interface Sample { t: number; rr: number; rf: number; sr: number; sf: number; reqs: number; failed: number; ws: number; drained: number }
  const samples: Sample[] = [];
  const started = Date.now();
  const sample = (): Sample => ({
    t: Math.round((Date.now() - started) / 1000), rr: rss(rpid), rf: fds(rpid), sr: rss(spid), sf: fds(spid),
    reqs: counters.requests, failed: counters.failed, ws: counters.wsSessions, drained: drain.routerLines + drain.appLines,
  });
  const row = (s: Sample, prev: Sample | undefined): string => {
    const dt = prev ? s.t - prev.t : 0;
    const rate = prev && dt > 0 ? Math.round((s.reqs - prev.reqs) / dt) : 0;
    return `${String(s.t).padStart(6)}  ${(s.rr / MiB).toFixed(1).padStart(9)}  ${String(s.rf).padStart(6)}  ${(s.sr / MiB).toFixed(1).padStart(10)}  ${String(s.sf).padStart(7)}  ${String(rate).padStart(6)}  ${String(s.failed).padStart(6)}  ${String(s.ws).padStart(6)}  ${String(s.drained).padStart(9)}`;
  };
  process.stdout.write(`soak: ${MINUTES} min, sample every ${SAMPLE_MS / 1000} s, reload every ${RELOAD_MS / 1000} s; fds before load: router ${baseline.router}, shuttle ${baseline.shuttle}\n`);
  process.stdout.write('   t s  router MiB  r fds  shuttle MiB  s fds   req/s  failed  ws ok  drain got\n');
  samples.push(sample());
  process.stdout.write(row(samples[0], undefined) + '\n');
  const end = started + MINUTES * 60000;
  while (Date.now() < end) {
    await new Promise((r) => setTimeout(r, Math.min(SAMPLE_MS, end - Date.now())));
    samples.push(sample());
    process.stdout.write(row(samples[samples.length - 1], samples[samples.length - 2]) + '\n');
  }

  // stop the load; idle keep-alive connections expire (the router's dyno pools after 4 s)
  stopping = true;
  clearInterval(reloader);
  await Promise.all(loops);
  await Promise.all([keepAlive.close(), fresh.close(), bulk.close()]);
  const expected = { router: counters.requests - counters.failed, app: counters.appLinesSent };
  const settleEnd = Date.now() + 30000;
  while (Date.now() < settleEnd && (drain.routerLines + drain.appLines + drain.l10 < expected.router + expected.app
    || fds(rpid) > baseline.router + FD_SLACK || fds(spid) > baseline.shuttle + FD_SLACK)) {
    await new Promise((r) => setTimeout(r, 500));
  }
  await new Promise((r) => setTimeout(r, 6000));
  const after = { router: fds(rpid), shuttle: fds(spid) };
  const last = sample();

  // ---------- verdict ----------
  const warm = samples[Math.max(1, Math.floor(samples.length / 5))] ?? samples[samples.length - 1];
  const finalRss = samples[samples.length - 1];
  const checks: [string, boolean][] = [
    [`router RSS ${(warm.rr / MiB).toFixed(1)} -> ${(finalRss.rr / MiB).toFixed(1)} MiB after warm-up (t=${warm.t} s), growth <= ${RSS_GROWTH * 100}%`, finalRss.rr <= warm.rr * (1 + RSS_GROWTH)],
    [`shuttle RSS ${(warm.sr / MiB).toFixed(1)} -> ${(finalRss.sr / MiB).toFixed(1)} MiB after warm-up, growth <= ${RSS_GROWTH * 100}%`, finalRss.sr <= warm.sr * (1 + RSS_GROWTH)],
    [`router fds back to baseline: ${baseline.router} before, ${after.router} after the load (slack ${FD_SLACK})`, after.router <= baseline.router + FD_SLACK],
    [`shuttle fds back to baseline: ${baseline.shuttle} before, ${after.shuttle} after the load (slack ${FD_SLACK})`, after.shuttle <= baseline.shuttle + FD_SLACK],
    [`requests: ${counters.requests} (${counters.uploads} uploads of 1 MiB, ${counters.downloads} downloads of 4 MiB), failed ${counters.failed}`, counters.failed === 0],
    [`WebSocket sessions: ${counters.wsSupported === false ? 'skipped (upgrade answered 200)' : `${counters.wsSessions} ok, ${counters.wsFailed} failed`}${
      counters.wsFailed > 0 ? ` (${Object.entries(counters.wsFailures).map(([why, n]) => `${why}: ${n}`).join(', ')})` : ''}`, counters.wsFailed === 0],
    [`config reloads: ${counters.reloads}, failed ${counters.reloadsFailed}`, counters.reloadsFailed === 0 && counters.reloads > 0],
    [`drain: router lines ${drain.routerLines}/${expected.router}, app lines ${drain.appLines}/${expected.app}, L10 reported ${drain.l10}`,
      drain.routerLines + drain.appLines + drain.l10 === expected.router + expected.app],
  ];
  process.stdout.write(`\nafter the load: router RSS ${(last.rr / MiB).toFixed(1)} MiB, ${after.router} fds; shuttle RSS ${(last.sr / MiB).toFixed(1)} MiB, ${after.shuttle} fds\n`);
  if (counters.failures.length > 0) process.stdout.write(`first failures: ${counters.failures.join('; ')}\n`);
  for (const [what, ok] of checks) process.stdout.write(`${ok ? 'PASS' : 'FAIL'}  ${what}\n`);
  const pass = checks.every(([, ok]) => ok);
  process.stdout.write(`verdict: ${pass ? 'PASS' : 'FAIL'}\n`);

  router.proc.kill('SIGTERM');
  shuttle.proc.kill('SIGTERM');
  d1.close();
  d2.close();
  drain.close();
  setTimeout(() => process.exit(pass ? 0 : 1), 2000).unref();
}

main().catch((err: Error) => {
  process.stderr.write(`soak: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
