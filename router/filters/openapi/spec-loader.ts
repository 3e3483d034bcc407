import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { MessageChannel, receiveMessageOnPort, Worker } from 'node:worker_threads';
import type { BundleReply, BundleRequest } from './spec-bundle-thread.js';

/** Longest spec file (and file reached by a `$ref`) read. */
export const MAX_SPEC_FILE_BYTES = 16 * 1024 * 1024;
/** Longest a spec may take to read and bundle. */
const BUNDLE_TIMEOUT_MS = 20_000;
const THREAD_FILE = new URL('./spec-bundle-thread.js', import.meta.url);

/** An OpenAPI document that cannot be used: `problems` name the file and the JSON pointer. */
export class SpecLoadError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(problems.join('; '));
  }
}

/** A bundled spec: one self-contained document, and the hash of the content of every file it came from. */
export interface LoadedSpec {
  readonly doc: unknown;
  /** sha256 over every file's path and content hash: the same content, the same spec */
  readonly contentHash: string;
}

interface Cached {
  readonly files: readonly { path: string; sha256: string }[];
  readonly spec: LoadedSpec;
}

/** per thread, by absolute spec path: the last bundle and the files it read */
const cache = new Map<string, Cached>();
const MAX_CACHED = 64;

function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

function unchanged(c: Cached): boolean {
  for (const f of c.files) {
    let data: Buffer;
    try {
      data = readFileSync(f.path);
    } catch {
      return false;
    }
    if (sha256(data) !== f.sha256) return false;
  }
  return true;
}

/**
 * Reads and bundles an OpenAPI document (YAML or JSON, with its `$ref`s to local files),
 * synchronously: config validation and route-table compilation are synchronous, and
 * @apidevtools/json-schema-ref-parser is not, so the work runs on a short-lived helper thread
 * while this thread waits on a shared word (Atomics.wait). A spec whose files' contents did not
 * change since the last call is answered from the per-thread cache without a thread.
 * Throws SpecLoadError naming the file and the JSON pointer of each problem.
 */
export function loadSpecSync(absPath: string): LoadedSpec {
  const cached = cache.get(absPath);
  if (cached !== undefined && unchanged(cached)) return cached.spec;
  const signal = new SharedArrayBuffer(4);
  const { port1, port2 } = new MessageChannel();
  const data: BundleRequest = { path: absPath, port: port2, signal, maxFileBytes: MAX_SPEC_FILE_BYTES };
  const worker = new Worker(THREAD_FILE, {
    workerData: data,
    transferList: [port2],
    resourceLimits: { maxOldGenerationSizeMb: 512 },
    stdout: true,
    stderr: true,
  });
  worker.unref();
  let reply: BundleReply | undefined;
  try {
    const woke = Atomics.wait(new Int32Array(signal), 0, 0, BUNDLE_TIMEOUT_MS);
    const msg = receiveMessageOnPort(port1);
    if (msg !== undefined) reply = msg.message as BundleReply;
    else if (woke === 'timed-out') throw new SpecLoadError([`${absPath}: not read and bundled within ${BUNDLE_TIMEOUT_MS / 1000} s`]);
    else throw new SpecLoadError([`${absPath}: the spec reader stopped without an answer (out of memory?)`]);
  } finally {
    port1.close();
    void worker.terminate();
  }
  if (!reply.ok) throw new SpecLoadError(reply.problems);
  const files = [...reply.files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const spec: LoadedSpec = Object.freeze({ doc: reply.doc, contentHash: sha256(JSON.stringify(files)) });
  if (cache.size >= MAX_CACHED) cache.delete(cache.keys().next().value!);
  cache.set(absPath, { files, spec });
  return spec;
}
