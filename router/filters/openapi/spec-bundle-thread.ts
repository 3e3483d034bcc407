import { createHash } from 'node:crypto';
import { openSync, fstatSync, readSync, closeSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { workerData, type MessagePort } from 'node:worker_threads';
import $RefParser from '@apidevtools/json-schema-ref-parser';
import { parse as parseYaml } from 'yaml';

/**
 * The helper thread of spec-loader.ts: reads an OpenAPI document and every file its `$ref`s
 * reach (local files only: no network at config load), and bundles them into one document with
 * @apidevtools/json-schema-ref-parser (external references inlined, internal and circular ones
 * left as `$ref` strings: the result is a tree, never a cyclic object). YAML through `yaml`
 * (aliases bounded), JSON through JSON.parse. Posts `{ ok, doc, files }` or `{ ok: false,
 * problems }` on its port, then wakes the waiting thread through the shared signal word.
 */

export interface BundleRequest {
  path: string;
  port: MessagePort;
  signal: SharedArrayBuffer;
  maxFileBytes: number;
}

export type BundleReply =
  | { ok: true; doc: unknown; files: { path: string; sha256: string }[] }
  | { ok: false; problems: string[] };

const req = workerData as BundleRequest;
const files = new Map<string, string>();

function localPath(url: string): string {
  return url.startsWith('file:') ? fileURLToPath(url) : url;
}

function readLimited(path: string): Buffer {
  const fd = openSync(path, 'r');
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new Error('is not a regular file');
    if (st.size > req.maxFileBytes) throw new Error(`is larger than ${req.maxFileBytes} bytes`);
    const buf = Buffer.alloc(st.size);
    let at = 0;
    while (at < st.size) {
      const n = readSync(fd, buf, at, st.size - at, at);
      if (n === 0) break;
      at += n;
    }
    return buf.subarray(0, at);
  } finally {
    closeSync(fd);
  }
}

/** `/a/b/c` from a ref-parser error path (`["paths", "/users", "get"]`): a JSON pointer */
function pointer(path: readonly (string | number)[] | null | undefined): string {
  if (!path || path.length === 0) return '';
  return '/' + path.map((p) => String(p).replace(/~/g, '~0').replace(/\//g, '~1')).join('/');
}

function reply(msg: BundleReply): void {
  req.port.postMessage(msg);
  const signal = new Int32Array(req.signal);
  Atomics.store(signal, 0, 1);
  Atomics.notify(signal, 0);
}

async function main(): Promise<void> {
  const parser = new $RefParser();
  try {
    const doc = await parser.bundle(req.path, {
      continueOnError: true,
      resolve: {
        http: false,
        file: {
          read: (file: { url: string }) => {
            const p = localPath(file.url);
            const data = readLimited(p);
            files.set(p, createHash('sha256').update(data).digest('hex'));
            return data;
          },
        },
      },
      parse: {
        text: false,
        binary: false,
        yaml: {
          order: 200,
          canParse: ['.yaml', '.yml'],
          parse: (file: { data: Buffer | string }) => parseYaml(Buffer.isBuffer(file.data) ? file.data.toString('utf8') : file.data, { maxAliasCount: 100 }) as unknown,
        },
      },
    });
    reply({ ok: true, doc, files: [...files].map(([path, sha256]) => ({ path, sha256 })) });
  } catch (err) {
    const e = err as Error & { errors?: (Error & { source?: string; path?: (string | number)[] | null })[] };
    const list = e.errors !== undefined && e.errors.length > 0 ? e.errors : [e as Error & { source?: string; path?: (string | number)[] | null }];
    const problems = list.slice(0, 20).map((x) => {
      const at = pointer(x.path);
      const source = x.source ? localPath(x.source.replace(/#.*$/, '')) : req.path;
      return `${source}${at ? ` at ${at}` : ''}: ${x.message.replace(/\s+/g, ' ').trim()}`;
    });
    reply({ ok: false, problems });
  }
}

main().catch((err: unknown) => reply({ ok: false, problems: [`${req.path}: ${(err as Error).message}`] }));
