import type { IncomingMessage, ServerResponse } from 'node:http';
import { EdgeplaneError } from '../../shared/errors.js';
import type { ReloadOutcome, RevisionPrecondition } from '../config/reload-owner.js';
import type { Revision, RevisionSummary } from '../config/revision-history.js';
import { MAX_BODY_BYTES, answerThenLinger, readBody } from './request-body.js';
import { noneMatch, parseIfMatch, revisionTag } from './preconditions.js';

/** What the config routes drive: the ReloadOwner. */
export interface ConfigBackend {
  readonly current: Revision;
  readonly history: { list(): RevisionSummary[]; bytes(): number };
  put(text: string, expect: RevisionPrecondition | null): Promise<ReloadOutcome>;
  patch(text: string, expect: RevisionPrecondition | null): Promise<ReloadOutcome>;
  rollback(revision: number, expect: RevisionPrecondition | null): Promise<ReloadOutcome>;
}

export const MERGE_PATCH = 'application/merge-patch+json';

/** HTTP status of each error code a config change can end with. */
const STATUS: Readonly<Record<string, number>> = { E_CONFIG: 400, E_PRECONDITION: 412, E_NO_REVISION: 404 };

type Send = (res: ServerResponse, status: number, value: unknown, headers?: Record<string, string>) => void;

/**
 * `GET|PUT|POST|PATCH /config`, `GET /config/revisions`, `POST /config/rollback` (DESIGN.md
 * "Config revisions, partial updates, rollback"; docs/router/admin-api.md). Answers and returns
 * true when the path is one of them.
 */
export async function configRoute(backend: ConfigBackend, path: string, method: string, req: IncomingMessage, res: ServerResponse, json: Send): Promise<boolean> {
  const allow = (methods: string): void => json(res, 405, { error: 'E_METHOD', problems: [`${method} not allowed; allowed: ${methods}`] }, { allow: methods });
  switch (path) {
    case '/config':
      if (method === 'GET' || method === 'HEAD') {
        const r = backend.current;
        const headers = { etag: revisionTag(r.revision), 'x-config-version': r.loaded.version };
        if (noneMatch(req.headers['if-none-match'], r.revision)) {
          res.writeHead(304, headers);
          res.end();
        } else {
          json(res, 200, r.loaded.config, headers);
        }
      } else if (method === 'PUT' || method === 'POST') {
        await change(req, res, json, (text, expect) => backend.put(text, expect));
      } else if (method === 'PATCH') {
        const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
        if (type !== MERGE_PATCH) {
          json(res, 415, { error: 'E_MEDIA_TYPE', problems: [`Content-Type must be ${MERGE_PATCH} (RFC 7396), not ${type === '' ? '(none)' : type}`] },
            { 'accept-patch': MERGE_PATCH });
        } else {
          await change(req, res, json, (text, expect) => backend.patch(text, expect));
        }
      } else {
        allow('GET, HEAD, PUT, POST, PATCH');
      }
      return true;
    case '/config/revisions':
      if (method !== 'GET' && method !== 'HEAD') allow('GET, HEAD');
      else json(res, 200, backend.history.list(), { 'x-revisions-bytes': String(backend.history.bytes()), etag: revisionTag(backend.current.revision) });
      return true;
    case '/config/rollback':
      if (method !== 'POST') allow('POST');
      else await change(req, res, json, (text, expect) => backend.rollback(rollbackTarget(text), expect));
      return true;
    default:
      return false;
  }
}

class BadRollbackError extends EdgeplaneError {
  readonly problems: readonly string[];
  constructor(problem: string) {
    super('E_CONFIG', problem);
    this.problems = [problem];
  }
}

/** `{"revision": N}` → N. */
function rollbackTarget(text: string): number {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    throw new BadRollbackError(`(body): not valid JSON: ${(err as Error).message}`);
  }
  const n = body !== null && typeof body === 'object' && !Array.isArray(body) ? (body as { revision?: unknown }).revision : undefined;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 1) throw new BadRollbackError('revision: must be a revision number (an integer from 1), as in {"revision": 3}');
  return n;
}

/** Reads the body (413 past the limit, answered while the client may still be sending), runs the change, answers. */
async function change(req: IncomingMessage, res: ServerResponse, json: Send,
  run: (text: string, expect: RevisionPrecondition | null) => Promise<ReloadOutcome>): Promise<void> {
  const body = await readBody(req);
  if (body === 'too-large') {
    answerThenLinger(req, res, () => json(res, 413, { error: 'E_TOO_LARGE', problems: [`(document): larger than ${MAX_BODY_BYTES} bytes`] }));
    return;
  }
  try {
    const outcome = await run(body.toString('utf8'), parseIfMatch(req.headers['if-match']));
    json(res, 200, { version: outcome.version, revision: outcome.revision }, { etag: revisionTag(outcome.revision) });
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    const problems = (err as { problems?: readonly string[] }).problems ?? [(err as Error).message];
    if (typeof code === 'string' && STATUS[code] !== undefined) {
      // a 412 names the running revision (body and ETag): the client can GET it and retry
      const running = code === 'E_PRECONDITION' ? (err as { running: number }).running : null;
      json(res, STATUS[code], { error: code, problems, ...(running === null ? {} : { revision: running }) },
        running === null ? {} : { etag: revisionTag(running) });
      return;
    }
    // the document was valid but some worker could not apply it: every worker runs the old one
    if (!(err instanceof EdgeplaneError)) throw err;
    json(res, 500, { error: code ?? 'E_APPLY', problems });
  }
}
