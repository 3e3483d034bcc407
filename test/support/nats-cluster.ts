// A real nats-server cluster (Debian's nats-server, 2.9+) on loopback for tests: JetStream on,
// small store limits, every node in its own temp store dir, random ports read back from the
// server's own ports file (`ports_file_dir`), never 4222.
//
// Bootstrapping a JetStream cluster on random ports: nats-server refuses to start clustered
// JetStream without configured routes, and node 1's route port is unknown before it starts. So
// node 1 starts with one placeholder route (127.0.0.1:1, refused at once) and its random cluster
// port; the other nodes start with routes to node 1; then node 1's config is rewritten with
// routes to the others and reloaded (SIGHUP). A restarted node reuses its own ports and store
// dir and gets routes to every other node.
//
// Every node runs under `setpriv --pdeathsig KILL` when setpriv exists, so a test process that
// dies hard takes its servers with it; an exit hook and the tap teardown kill them otherwise.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface NatsNode {
  readonly index: number;
  /** server_name, `n<index+1>` */
  readonly name: string;
  /** nats://127.0.0.1:<port> (stable across restarts) */
  readonly url: string;
  /** http://127.0.0.1:<port> monitoring (stable across restarts) */
  readonly monitorUrl: string;
  readonly running: boolean;
  readonly pid: number | undefined;
  /** the node's log file (stdout and stderr of nats-server) */
  readonly logFile: string;
  /** sends the signal (default SIGKILL) and waits until the process is gone */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** starts the node again on its own ports and store dir; waits for /healthz unless wait=false */
  restart(opts?: { wait?: boolean }): Promise<void>;
}

export interface NatsCluster {
  /** client URLs of every node, in node order */
  readonly servers: string[];
  readonly nodes: NatsNode[];
  node(i: number): NatsNode;
  /** index of the node that leads the stream's raft group (polls until one does) */
  streamLeader(stream: string, timeoutMs?: number): Promise<number>;
  /** index of the JetStream meta leader (polls until there is one) */
  metaLeader(timeoutMs?: number): Promise<number>;
  /** waits until every running node is healthy and (clustered) a meta leader exists */
  waitReady(timeoutMs?: number): Promise<void>;
  /** SIGKILLs every node (the bus "down") */
  killAll(): Promise<void>;
  /** restarts every stopped node and waits until the cluster is ready again */
  restartAll(): Promise<void>;
  /** kills everything and removes the temp dir */
  stop(): Promise<void>;
}

export interface NatsClusterOptions {
  /** 1 = a standalone JetStream server (no cluster block); default 3 */
  nodes?: number;
  /** tap test: `t.teardown(stop)` is registered */
  t?: { teardown(fn: () => unknown): void };
  /** readiness deadline (default 60 s) */
  timeoutMs?: number;
  /** extra lines appended to every node's config */
  extraConfig?: string;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const p of live) {
      try { p.kill('SIGKILL'); } catch { /* already gone */ }
    }
  });
}

function findBinary(): string {
  for (const p of ['/usr/bin/nats-server', '/usr/sbin/nats-server']) if (existsSync(p)) return p;
  const r = spawnSync('sh', ['-c', 'command -v nats-server'], { encoding: 'utf8' });
  const found = r.stdout.trim();
  if (r.status === 0 && found) return found;
  throw new Error('nats-server not found (apt-get install nats-server)');
}

const SETPRIV = existsSync('/usr/bin/setpriv') ? '/usr/bin/setpriv' : undefined;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function getJson(url: string): Promise<{ status: number; body: unknown }> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), 3000);
  try {
    const res = await fetch(url, { signal: ac.signal });
    const text = await res.text();
    let body: unknown = text;
    try { body = JSON.parse(text); } catch { /* not JSON */ }
    return { status: res.status, body };
  } finally {
    clearTimeout(timer);
  }
}

interface Ports { client: number; monitor: number; cluster: number }

class Node implements NatsNode {
  proc: ChildProcess | undefined;
  ports: Ports | undefined;
  exited: Promise<void> = Promise.resolve();
  readonly name: string;
  readonly dir: string;
  readonly logFile: string;

  constructor(readonly index: number, private readonly cluster: Cluster) {
    this.name = `n${index + 1}`;
    this.dir = join(cluster.dir, this.name);
    mkdirSync(join(this.dir, 'ports'), { recursive: true });
    this.logFile = join(this.dir, 'server.log');
  }

  get url(): string { return `nats://127.0.0.1:${this.need().client}`; }
  get monitorUrl(): string { return `http://127.0.0.1:${this.need().monitor}`; }
  get clusterUrl(): string { return `nats-route://127.0.0.1:${this.need().cluster}`; }
  get running(): boolean { return this.proc !== undefined && this.proc.exitCode === null && this.proc.signalCode === null; }
  get pid(): number | undefined { return this.running ? this.proc!.pid : undefined; }

  private need(): Ports {
    if (!this.ports) throw new Error(`${this.name} has not started yet`);
    return this.ports;
  }

  /** the config text; `routes` undefined = no cluster block (standalone) */
  config(routes: string[] | undefined, fixedPorts: boolean): string {
    const p = fixedPorts ? this.need() : undefined;
    const lines = [
      `server_name: ${this.name}`,
      `listen: "127.0.0.1:${p ? p.client : -1}"`,
      `http: "127.0.0.1:${p ? p.monitor : -1}"`,
      `ports_file_dir: "${join(this.dir, 'ports')}"`,
      `jetstream { store_dir: "${join(this.dir, 'store')}", max_memory_store: 256MB, max_file_store: 1GB }`,
    ];
    if (routes !== undefined) {
      lines.push(`cluster { name: edgeplane-test, listen: "127.0.0.1:${p ? p.cluster : -1}", routes: [${routes.map((r) => `"${r}"`).join(', ')}] }`);
    }
    if (this.cluster.extraConfig) lines.push(this.cluster.extraConfig);
    return lines.join('\n') + '\n';
  }

  async start(configText: string): Promise<void> {
    const confFile = join(this.dir, 'server.conf');
    writeFileSync(confFile, configText);
    const log = openSync(this.logFile, 'a');
    const bin = this.cluster.binary;
    const [cmd, args] = SETPRIV ? [SETPRIV, ['--pdeathsig', 'KILL', bin, '-c', confFile]] : [bin, ['-c', confFile]];
    const proc = spawn(cmd, args, { stdio: ['ignore', log, log] });
    closeSync(log);
    this.proc = proc;
    live.add(proc);
    this.exited = new Promise((resolve) => {
      proc.once('exit', () => {
        live.delete(proc);
        resolve();
      });
    });
    proc.once('error', () => undefined);
    // the ports file appears once every listener is bound
    const file = join(this.dir, 'ports', `nats-server_${proc.pid}.ports`);
    const end = Date.now() + this.cluster.timeoutMs;
    for (;;) {
      if (!this.running) throw new Error(`${this.name} exited at start:\n${this.tail()}`);
      if (existsSync(file)) {
        try {
          const j = JSON.parse(readFileSync(file, 'utf8')) as { nats?: string[]; monitoring?: string[]; cluster?: string[] };
          const port = (u: string | undefined): number => Number(new URL(u!).port);
          if (j.nats?.[0] && j.monitoring?.[0]) {
            this.ports = { client: port(j.nats[0]), monitor: port(j.monitoring[0]), cluster: j.cluster?.[0] ? port(j.cluster[0]) : 0 };
            rmSync(file, { force: true });
            return;
          }
        } catch { /* partly written: read again */ }
      }
      if (Date.now() > end) throw new Error(`${this.name} wrote no ports file in ${this.cluster.timeoutMs} ms:\n${this.tail()}`);
      await sleep(20);
    }
  }

  tail(lines = 30): string {
    try { return readFileSync(this.logFile, 'utf8').split('\n').slice(-lines).join('\n'); } catch { return ''; }
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (!this.running) return;
    this.proc!.kill(signal);
    const t = setTimeout(() => { if (this.running) this.proc!.kill('SIGKILL'); }, 15000);
    await this.exited;
    clearTimeout(t);
  }

  async restart(opts: { wait?: boolean } = {}): Promise<void> {
    await this.kill();
    const others = this.cluster.nodes.filter((n) => n !== this).map((n) => n.clusterUrl);
    await this.start(this.config(this.cluster.clustered ? others : undefined, true));
    if (opts.wait !== false) await this.waitHealthy(this.cluster.timeoutMs);
  }

  async waitHealthy(timeoutMs: number): Promise<void> {
    const end = Date.now() + timeoutMs;
    let last = '';
    for (;;) {
      try {
        const r = await getJson(`${this.monitorUrl}/healthz`);
        if (r.status === 200) return;
        last = JSON.stringify(r.body);
      } catch (err) {
        last = String(err);
      }
      if (!this.running) throw new Error(`${this.name} exited:\n${this.tail()}`);
      if (Date.now() > end) throw new Error(`${this.name} not healthy in ${timeoutMs} ms (${last}):\n${this.tail()}`);
      await sleep(100);
    }
  }
}

class Cluster implements NatsCluster {
  readonly dir = mkdtempSync(join(tmpdir(), 'edgeplane-nats-'));
  readonly binary = findBinary();
  readonly nodes: Node[] = [];
  readonly clustered: boolean;

  constructor(readonly size: number, readonly timeoutMs: number, readonly extraConfig: string | undefined) {
    this.clustered = size > 1;
    for (let i = 0; i < size; i++) this.nodes.push(new Node(i, this));
  }

  get servers(): string[] { return this.nodes.map((n) => n.url); }

  node(i: number): Node {
    const n = this.nodes[i];
    if (!n) throw new Error(`no node ${i}`);
    return n;
  }

  async boot(): Promise<void> {
    const [first, ...rest] = this.nodes;
    if (!this.clustered) {
      await first.start(first.config(undefined, false));
      await this.waitReady();
      return;
    }
    await first.start(first.config(['nats-route://127.0.0.1:1'], false));
    await Promise.all(rest.map((n) => n.start(n.config([first.clusterUrl], false))));
    // node 1 now gets its real routes (listen ports stay -1: a reload cannot change them)
    writeFileSync(join(first.dir, 'server.conf'), first.config(rest.map((n) => n.clusterUrl), false));
    first.proc!.kill('SIGHUP');
    await this.waitReady();
  }

  async waitReady(timeoutMs = this.timeoutMs): Promise<void> {
    const running = this.nodes.filter((n) => n.running);
    await Promise.all(running.map((n) => n.waitHealthy(timeoutMs)));
    if (!this.clustered) return;
    const end = Date.now() + timeoutMs;
    let last = '';
    for (;;) {
      let ok = true;
      for (const n of running) {
        try {
          const routes = (await getJson(`${n.monitorUrl}/routez`)).body as { num_routes?: number };
          const jsz = (await getJson(`${n.monitorUrl}/jsz`)).body as { meta_cluster?: { leader?: string; cluster_size?: number } };
          const meta = jsz.meta_cluster;
          if ((routes.num_routes ?? 0) < running.length - 1 || !meta?.leader || (meta.cluster_size !== undefined && meta.cluster_size < this.size)) {
            ok = false;
            last = `${n.name}: routes=${routes.num_routes} meta=${JSON.stringify(meta)}`;
          }
        } catch (err) {
          ok = false;
          last = `${n.name}: ${String(err)}`;
        }
      }
      if (ok) return;
      if (Date.now() > end) throw new Error(`cluster not ready in ${timeoutMs} ms (${last})`);
      await sleep(100);
    }
  }

  async metaLeader(timeoutMs = this.timeoutMs): Promise<number> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      for (const n of this.nodes.filter((x) => x.running)) {
        try {
          const jsz = (await getJson(`${n.monitorUrl}/jsz`)).body as { meta_cluster?: { leader?: string } };
          const i = this.nodes.findIndex((x) => x.name === jsz.meta_cluster?.leader);
          if (i >= 0 && this.nodes[i].running) return i;
        } catch { /* try the next node */ }
      }
      if (Date.now() > end) throw new Error(`no meta leader in ${timeoutMs} ms`);
      await sleep(100);
    }
  }

  async streamLeader(stream: string, timeoutMs = this.timeoutMs): Promise<number> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      for (const n of this.nodes.filter((x) => x.running)) {
        try {
          const jsz = (await getJson(`${n.monitorUrl}/jsz?accounts=true&streams=true`)).body as {
            account_details?: { stream_detail?: { name: string; cluster?: { leader?: string } }[] }[];
          };
          for (const acc of jsz.account_details ?? []) {
            for (const s of acc.stream_detail ?? []) {
              if (s.name !== stream) continue;
              // standalone: the one node leads
              const leader = this.clustered ? s.cluster?.leader : n.name;
              const i = this.nodes.findIndex((x) => x.name === leader);
              if (i >= 0 && this.nodes[i].running) return i;
            }
          }
        } catch { /* try the next node */ }
      }
      if (Date.now() > end) throw new Error(`no leader for stream ${stream} in ${timeoutMs} ms`);
      await sleep(100);
    }
  }

  async killAll(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.kill('SIGKILL')));
  }

  async restartAll(): Promise<void> {
    await Promise.all(this.nodes.filter((n) => !n.running).map((n) => n.restart({ wait: false })));
    await this.waitReady();
  }

  async stop(): Promise<void> {
    await this.killAll();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Starts a nats-server cluster (default 3 nodes; 1 = standalone JetStream) and waits until it is ready. */
export async function startNatsCluster(opts: NatsClusterOptions = {}): Promise<NatsCluster> {
  installExitHook();
  const cluster = new Cluster(opts.nodes ?? 3, opts.timeoutMs ?? 60000, opts.extraConfig);
  opts.t?.teardown(() => cluster.stop());
  try {
    await cluster.boot();
  } catch (err) {
    const logs = cluster.nodes.map((n) => `--- ${n.name}\n${n.tail()}`).join('\n');
    await cluster.stop();
    throw new Error(`${(err as Error).message}\n${logs}`);
  }
  return cluster;
}

/** One standalone JetStream server (fast tests). */
export function startNatsServer(opts: Omit<NatsClusterOptions, 'nodes'> = {}): Promise<NatsCluster> {
  return startNatsCluster({ ...opts, nodes: 1 });
}
