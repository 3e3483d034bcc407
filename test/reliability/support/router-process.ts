import { spawn } from 'node:child_process';
import { ROUTER_MAIN, type RunningRouter } from '../../support/router-harness.js';
import { assertDistFresh } from '../../support/dist-fresh.js';

interface Teardown {
  teardown(fn: () => unknown): void;
}

/**
 * Spawns the built router like the shared harness's startRouter, with two differences for runs
 * on a crowded machine: the ready line may take up to `readyMs` (default 90 s: ten engineers'
 * test runs on two cores slow thread start-up a lot), and the process is killed at teardown
 * even when it never got ready (so a failed start cannot keep the test process alive).
 */
export async function startRouterProcess(t: Teardown, configFile: string, env: NodeJS.ProcessEnv = {}, readyMs = 90000): Promise<RunningRouter> {
  assertDistFresh();
  const proc = spawn(process.execPath, [ROUTER_MAIN, '--config', configFile], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const stop = async (signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
    const timer = setTimeout(() => proc.kill('SIGKILL'), 15000);
    const code = await exited;
    clearTimeout(timer);
    return code;
  };
  t.teardown(() => stop());
  const lines: string[] = [];
  const errLines: string[] = [];
  let outBuf = '';
  let errBuf = '';
  proc.stdout!.setEncoding('utf8').on('data', (d: string) => {
    outBuf += d;
    const parts = outBuf.split('\n');
    outBuf = parts.pop()!;
    for (const p of parts) lines.push(p);
  });
  const ports = await new Promise<Record<string, number>>((resolve, reject) => {
    proc.stderr!.setEncoding('utf8').on('data', (d: string) => {
      errBuf += d;
      const parts = errBuf.split('\n');
      errBuf = parts.pop()!;
      for (const p of parts) {
        errLines.push(p);
        try {
          const j = JSON.parse(p) as { msg?: string; ports?: Record<string, number> };
          if (j.msg === 'router ready') resolve(j.ports ?? {});
        } catch { /* not JSON */ }
      }
    });
    void exited.then((code) => reject(new Error(`router exited with ${code} before ready:\n${errLines.join('\n')}`)));
    setTimeout(() => reject(new Error(`router not ready in ${readyMs} ms:\n${errLines.join('\n')}`)), readyMs).unref();
  });
  return {
    proc,
    ports,
    lines,
    errLines,
    url: (path = '/') => `http://127.0.0.1:${ports.http}${path}`,
    async waitForLine(match, timeoutMs = 10000) {
      const end = Date.now() + timeoutMs;
      for (;;) {
        const found = lines.find(match);
        if (found !== undefined) return found;
        if (Date.now() > end) throw new Error(`no matching line in ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    stop,
  };
}
