import { parentPort, workerData } from 'node:worker_threads';
import uWS from 'uWebSockets.js';
import type { TemplatedApp } from 'uWebSockets.js';
import type { FromWorker, ToWorker, WorkerStart } from './worker-messages.js';

/**
 * The shell of a router worker thread (the file the WorkerPool starts). A thread that ends with
 * uWS sockets still open aborts the whole process (libuv: "uv_loop_close() while having open
 * handles"), so this shell records every uWS app the thread creates and closes them all
 * (`app.close()`: listen sockets and connections) before the thread ends, whether it ends
 * because the pool asked (`exit`) or because of an uncaught exception. Then it loads the
 * router worker itself.
 */

type AppFactory = (...args: unknown[]) => TemplatedApp;
const apps: TemplatedApp[] = [];
const factories = uWS as unknown as Record<'App' | 'SSLApp', AppFactory>;
for (const name of ['App', 'SSLApp'] as const) {
  const create = factories[name];
  factories[name] = function tracked(this: unknown, ...args: unknown[]): TemplatedApp {
    const app = create.apply(this, args);
    apps.push(app);
    return app;
  };
}

let exiting = false;

/** Closes every uWS app of this thread, then ends the thread with `code`. */
function exitThread(code: number): void {
  if (exiting) return;
  exiting = true;
  for (const app of apps.splice(0)) {
    try {
      (app as unknown as { close(): void }).close();
    } catch {
      // already closed
    }
  }
  // one turn for the close callbacks and for messages already posted
  setImmediate(() => process.exit(code));
}

function crashed(err: unknown): void {
  if (!exiting) {
    const message = err instanceof Error ? (err.stack ?? err.message) : String(err);
    try {
      parentPort!.postMessage({ type: 'crashed', message } satisfies FromWorker);
    } catch {
      // the port is gone: the pool sees the exit code
    }
  }
  exitThread(1);
}

process.on('uncaughtException', crashed);
process.on('unhandledRejection', crashed);

const testHooks = (workerData as WorkerStart).testHooks === true;
parentPort!.on('message', (msg: ToWorker) => {
  if (msg.type === 'exit') exitThread(msg.code);
  else if (msg.type === 'test-crash' && testHooks) {
    setImmediate(() => {
      throw new Error('test hook: worker crash requested');
    });
  }
});

await import('./router-worker.js');
