import { admin, type AdminAnswer } from '../../support/admin-client.js';

export { admin };
export type { AdminAnswer };

export const MERGE_PATCH = 'application/merge-patch+json';

/** An admin answer with its JSON body parsed (undefined when not JSON). */
export interface JsonAnswer<T = Record<string, unknown>> extends AdminAnswer {
  json: T;
}

function parsed<T>(a: AdminAnswer): JsonAnswer<T> {
  let json: T;
  try {
    json = JSON.parse(a.body) as T;
  } catch {
    json = undefined as T;
  }
  return { ...a, json };
}

export interface ChangeAnswer { version?: string; revision?: number; error?: string; problems?: string[] }

/** PATCH /config with a merge patch (object, or raw text). */
export async function patchConfig(port: number, patch: unknown, headers: Record<string, string> = {}): Promise<JsonAnswer<ChangeAnswer>> {
  const body = typeof patch === 'string' ? patch : JSON.stringify(patch);
  return parsed(await admin(port, 'PATCH', '/config', { body, headers: { 'content-type': MERGE_PATCH, ...headers } }));
}

export async function putConfig(port: number, doc: unknown, headers: Record<string, string> = {}): Promise<JsonAnswer<ChangeAnswer>> {
  return parsed(await admin(port, 'PUT', '/config', { body: JSON.stringify(doc), headers: { 'content-type': 'application/json', ...headers } }));
}

export async function rollback(port: number, body: unknown, headers: Record<string, string> = {}): Promise<JsonAnswer<ChangeAnswer>> {
  return parsed(await admin(port, 'POST', '/config/rollback', { body: typeof body === 'string' ? body : JSON.stringify(body), headers: { 'content-type': 'application/json', ...headers } }));
}

export interface RevisionEntry { revision: number; time: string; source: string; sha256: string; restored?: number }

export async function revisions(port: number): Promise<JsonAnswer<RevisionEntry[]>> {
  return parsed(await admin(port, 'GET', '/config/revisions'));
}

/** GET /config: the document and its revision (from the ETag). */
export async function running(port: number): Promise<{ doc: Record<string, unknown>; revision: number; etag: string; version: string }> {
  const a = await admin(port, 'GET', '/config');
  if (a.status !== 200) throw new Error(`GET /config answered ${a.status}`);
  const etag = String(a.headers.etag);
  return { doc: JSON.parse(a.body) as Record<string, unknown>, revision: Number(JSON.parse(etag)), etag, version: String(a.headers['x-config-version']) };
}
