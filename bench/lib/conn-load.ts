/**
 * A small keep-alive HTTP/1.1 load client (bench only) that keeps what wrk does not: the latency
 * of every response with its connection and its end time, so a tail can be split by connection
 * (fairness) and lined up with the server's loop turns and GCs (bench/loop-turns.ts). One request
 * in flight per connection (like wrk), a fixed GET. With `--rate R` the connections are paced to R
 * requests/s in total (each connection sends at its own schedule; a late one sends at once),
 * for CPU-per-request figures at a fixed load.
 *
 *   node dist/bench/lib/conn-load.js --port P --host H [--connections 50] [--warmup 3] [--duration 8] [--rate R] --out FILE
 *
 * Writes FILE (JSON, ConnLoadResult) and exits 0; exits 1 on any non-2xx answer or socket error.
 */
import { writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

export interface ConnLoadResult {
  connections: number;
  /** measured window, epoch ms */
  from: number;
  to: number;
  requests: number;
  rps: number;
  /** per response in the window: end (epoch ms), latency (ms), connection index; flattened */
  samples: number[];
}

const CRLFCRLF = Buffer.from('\r\n\r\n');

class Client {
  private buf: Buffer | null = null;
  private sentAt = 0;
  private readonly sock: Socket;
  /** paced mode: when this connection may send its next request (performance.now ms) */
  nextAt = 0;

  constructor(port: number, private readonly index: number, private readonly request: Buffer,
    private readonly onDone: (c: Client, index: number, sentAt: number, endAt: number) => void, private readonly fail: (why: string) => void) {
    this.sock = connect(port, '127.0.0.1');
    this.sock.setNoDelay(true);
    this.sock.on('data', (d: Buffer) => this.onData(d));
    this.sock.on('error', (e) => fail(`connection ${index}: ${e.message}`));
    this.sock.on('close', () => fail(`connection ${index} closed by the server`));
  }

  send(): void {
    this.sentAt = performance.now();
    this.sock.write(this.request);
  }

  stop(): void {
    this.sock.removeAllListeners('close');
    this.sock.destroy();
  }

  private onData(d: Buffer): void {
    const b = this.buf === null ? d : Buffer.concat([this.buf, d]);
    const end = b.indexOf(CRLFCRLF);
    if (end < 0) {
      this.buf = b;
      return;
    }
    const head = b.toString('latin1', 0, end);
    const status = Number(head.slice(9, 12));
    let total: number;
    const cl = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    if (cl) total = end + 4 + Number(cl[1]);
    else if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
      const z = b.indexOf('\r\n0\r\n\r\n', end);
      total = z < 0 ? Infinity : z + 7;
    } else total = end + 4;
    if (b.length < total) {
      this.buf = b;
      return;
    }
    if (b.length > total) return this.fail(`connection ${this.index}: bytes after the response (pipelining?)`);
    this.buf = null;
    if (status < 200 || status >= 300) return this.fail(`connection ${this.index}: status ${status}`);
    this.onDone(this, this.index, this.sentAt, performance.now());
  }
}

function main(): void {
  const { values } = parseArgs({
    options: {
      port: { type: 'string' }, host: { type: 'string', default: 'bench.example.io' }, path: { type: 'string', default: '/bench' },
      connections: { type: 'string', default: '50' }, warmup: { type: 'string', default: '3' }, duration: { type: 'string', default: '8' },
      rate: { type: 'string' }, out: { type: 'string' },
    },
  });
  if (!values.port || !values.out) throw new Error('--port and --out are required');
  const conns = Number(values.connections);
  const rate = values.rate ? Number(values.rate) : 0;
  const request = Buffer.from(`GET ${values.path} HTTP/1.1\r\nHost: ${values.host}\r\n\r\n`, 'latin1');
  const origin = performance.timeOrigin;
  const t0 = performance.now();
  const from = t0 + Number(values.warmup) * 1000;
  const to = from + Number(values.duration) * 1000;
  const samples: number[] = [];
  let requests = 0;
  let ended = false;
  const fail = (why: string): void => {
    if (ended) return;
    process.stderr.write(`conn-load: ${why}\n`);
    process.exit(1);
  };
  // paced mode: each connection every conns/rate s, the connections' schedules spread evenly
  const interval = rate > 0 ? (conns / rate) * 1000 : 0;
  const waiting: Client[] = [];
  let pump: ReturnType<typeof setInterval> | null = null;
  let live = conns;
  const onDone = (c: Client, index: number, sentAt: number, endAt: number): void => {
    if (sentAt >= from && endAt <= to) {
      samples.push(origin + endAt, endAt - sentAt, index);
      requests++;
    }
    if (endAt >= to) {
      c.stop();
      if (--live === 0) finish();
      return;
    }
    if (interval === 0) c.send();
    else {
      c.nextAt += interval;
      if (c.nextAt <= performance.now()) c.send();
      else waiting.push(c);
    }
  };
  const clients: Client[] = [];
  for (let i = 0; i < conns; i++) clients.push(new Client(Number(values.port), i, request, onDone, fail));
  const finish = (): void => {
    ended = true;
    if (pump) clearInterval(pump);
    const result: ConnLoadResult = { connections: conns, from: origin + from, to: origin + to, requests, rps: requests / ((to - from) / 1000), samples };
    writeFileSync(values.out!, JSON.stringify(result));
    process.exit(0);
  };
  const start = performance.now();
  clients.forEach((c, i) => {
    c.nextAt = start + (interval * i) / conns;
    if (interval === 0) c.send();
    else waiting.push(c);
  });
  if (interval > 0) {
    pump = setInterval(() => {
      const now = performance.now();
      if (now >= to) {
        for (const c of waiting.splice(0)) c.stop();
        return;
      }
      for (let i = waiting.length - 1; i >= 0; i--) {
        if (waiting[i].nextAt <= now) {
          const c = waiting[i];
          waiting.splice(i, 1);
          c.send();
        }
      }
    }, 1);
  }
  // whatever is still in flight 2 s after the window is not waited for
  setTimeout(finish, to - t0 + 2000);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) main();
