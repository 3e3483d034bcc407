import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * The dyno program, run as its own process so that a test can SIGKILL it: a node:http server on
 * 127.0.0.1 (port from argv, 0 = ephemeral) answering every request, after `delayMs`, with JSON
 * `{ dyno, method, url, bytes }` (bytes: the request body it read). Prints its port on stdout.
 */
const DYNO_SOURCE = `
const http = require('node:http');
const [name, port, delayMs] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])];
const server = http.createServer((req, res) => {
  let bytes = 0;
  req.on('data', (c) => { bytes += c.length; });
  req.on('end', () => setTimeout(() => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ dyno: name, method: req.method, url: req.url, bytes }));
  }, delayMs));
});
server.keepAliveTimeout = 30000;
server.listen(port, '127.0.0.1', () => process.stdout.write(server.address().port + '\\n'));
process.stdin.on('end', () => process.exit(0)).resume();
`;

let sourceFile: string | null = null;
function source(): string {
  if (sourceFile === null) {
    sourceFile = join(mkdtempSync(join(tmpdir(), 'edgeplane-dyno-')), 'dyno.cjs');
    writeFileSync(sourceFile, DYNO_SOURCE);
  }
  return sourceFile;
}

export interface ChildDyno {
  name: string;
  proc: ChildProcess;
  port: number;
  address: string;
  /** resolves when the process has exited */
  exited: Promise<void>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** Starts a dyno process (its stdin is a pipe: it exits when the test process dies). */
export async function startChildDyno(name: string, opts: { port?: number; delayMs?: number } = {}): Promise<ChildDyno> {
  const proc = spawn(process.execPath, [source(), name, String(opts.port ?? 0), String(opts.delayMs ?? 0)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    proc.once('error', reject);
    proc.once('exit', (code) => reject(new Error(`dyno ${name} exited with ${code} before listening`)));
    proc.stdout!.setEncoding('utf8').once('data', (d: string) => resolve(Number(d.trim())));
  });
  return {
    name,
    proc,
    port,
    address: `127.0.0.1:${port}`,
    exited,
    async kill(signal = 'SIGKILL') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      await exited;
    },
  };
}
