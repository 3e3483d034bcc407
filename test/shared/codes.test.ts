import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CODES, codeInfo, type Code, type CodeInfo } from '../../shared/codes.js';
import { EdgeplaneError } from '../../shared/errors.js';
import { markdownFiles, read, tables, type MdTable } from '../support/markdown.js';
import { HerokuCode } from '../../router/front/heroku-codes.js';
import { ROUTER_CODES } from '../../router/access-log/access-line.js';
import { formatCanaryAbortLine } from '../../router/canary/abort-line.js';

// The code registry (shared/codes.ts) held to the docs and to the sources, as fastify holds its
// error codes: every registered code is documented in docs/ with the same meaning (a row of a
// code table with a `meaning` column; its `status` and `desc` columns, where the table has
// them, agree too), every code the docs' code tables name is registered, and every code literal
// in router/, logshuttle/ and shared/ is registered.

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DOCS = markdownFiles(ROOT, 'docs');

/** `code`-first tables of README.md and docs/: where a code is documented. */
interface CodeRow {
  readonly file: string;
  readonly line: number;
  readonly code: string;
  readonly table: MdTable;
  readonly cells: string[];
}

const plain = (cell: string): string => cell.replace(/\s+/g, ' ').trim();
const unticked = (cell: string): string => plain(cell).replace(/^`(.*)`$/, '$1');

function codeRows(files: readonly string[]): CodeRow[] {
  const out: CodeRow[] = [];
  for (const file of files) {
    for (const table of tables(read(ROOT, file))) {
      if (unticked(table.header[0] ?? '').toLowerCase() !== 'code') continue;
      for (const row of table.rows) {
        const code = unticked(row.cells[0] ?? '');
        if (code !== '') out.push({ file, line: row.line, code, table, cells: row.cells });
      }
    }
  }
  return out;
}

const column = (table: MdTable, name: string): number => table.header.findIndex((h) => h.toLowerCase() === name);

/** A meaning cell says the registry's meaning, possibly followed by more detail. */
function sameMeaning(cell: string, meaning: string): boolean {
  const c = plain(cell);
  const m = plain(meaning);
  return c === m || (c.startsWith(m) && /^[^\p{L}\p{N}]/u.test(c.slice(m.length)));
}

/** What a documented row says differently from the registry, or nothing. */
function rowProblems(row: CodeRow, info: CodeInfo): string[] {
  const where = `${row.file}:${row.line} ${row.code}`;
  const out: string[] = [];
  const meaning = column(row.table, 'meaning');
  if (meaning < 0) return out;
  if (!sameMeaning(row.cells[meaning] ?? '', info.meaning)) out.push(`${where}: meaning "${plain(row.cells[meaning] ?? '')}" is not the registry's "${info.meaning}"`);
  const status = column(row.table, 'status');
  if (status >= 0 && plain(row.cells[status] ?? '') !== String(info.status ?? '')) out.push(`${where}: status "${plain(row.cells[status] ?? '')}", registry ${info.status ?? '(none)'}`);
  const desc = column(row.table, 'desc');
  if (desc >= 0 && unticked(row.cells[desc] ?? '') !== (info.desc ?? '')) out.push(`${where}: desc "${unticked(row.cells[desc] ?? '')}", registry "${info.desc ?? ''}"`);
  return out;
}

t.test('the registry is well formed', async (t) => {
  for (const [code, info] of Object.entries(CODES) as [Code, CodeInfo][]) {
    t.ok(info.meaning.length > 0 && !info.meaning.includes('|'), `${code} has a meaning that fits a table cell`);
    if (info.kind === 'error') t.match(code, /^E_[A-Z][A-Z0-9_]*$/, `${code}: error codes are E_*`);
    if (info.kind === 'request' || info.kind === 'event') t.ok(info.desc, `${code} has the desc of its log line`);
    if (info.status !== undefined) t.ok(Number.isInteger(info.status) && info.status >= 100 && info.status < 600, `${code} status ${info.status}`);
  }
  t.ok(Object.isFrozen(CODES) && Object.isFrozen(CODES.H10), 'frozen');
  t.equal(codeInfo('H12')?.status, 503);
  t.equal(codeInfo('toString'), undefined, 'no prototype member is a code');
  t.equal(new EdgeplaneError('E_CONFIG', 'x').code, 'E_CONFIG');
});

t.test('every registered code is documented in docs/ with the same meaning', async (t) => {
  const rows = codeRows(DOCS);
  const undocumented: string[] = [];
  const wrong: string[] = [];
  for (const [code, info] of Object.entries(CODES) as [Code, CodeInfo][]) {
    const mine = rows.filter((r) => r.code === code && column(r.table, 'meaning') >= 0);
    if (mine.length === 0) undocumented.push(code);
    for (const r of mine) wrong.push(...rowProblems(r, info));
  }
  t.same(undocumented, [], 'every code has a row in a code table with a meaning column (docs/codes.md has them all)');
  t.same(wrong, [], 'each row says what the registry says');
});

t.test('every code in the docs\' code tables is registered', async (t) => {
  const unknown = codeRows(['README.md', ...DOCS]).filter((r) => codeInfo(r.code) === undefined).map((r) => `${r.file}:${r.line} ${r.code}`);
  t.same(unknown, [], 'no code table names an unregistered code');
});

/** The code literals a source file emits. */
const LITERALS: readonly RegExp[] = [
  /\bcode=([A-Za-z][A-Za-z0-9_]*)/g, // log lines: code=H12, code=shutdown, code=canary_abort
  /['"`](H\d\d)['"`]/g, // Heroku codes as literals
  /\b(E_[A-Z][A-Z0-9_]*)\b/g, // error codes
  /\b(L1\d)\b/g, // platform lines
  /\bcode:\s*['"]([a-z][a-z0-9_]*)['"]/g, // refusals' lower-case codes: { code: 'rate_limited' } (E_* above; Node's ETIMEDOUT… are not ours)
];

function sources(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && /\.(ts|mts|js|mjs)$/.test(e.name) && !e.name.endsWith('.d.ts')) out.push(p);
    }
  };
  walk(join(ROOT, dir));
  return out;
}

t.test('every code literal in router/, logshuttle/ and shared/ is registered', async (t) => {
  const found = new Map<string, string>();
  for (const file of ['router', 'logshuttle', 'shared'].flatMap(sources)) {
    const text = readFileSync(file, 'utf8');
    for (const re of LITERALS) for (const m of text.matchAll(re)) if (!found.has(m[1])) found.set(m[1], relative(ROOT, file));
  }
  t.ok(found.size > 30, `the sources emit codes (${found.size} found)`);
  const unregistered = [...found].filter(([code]) => codeInfo(code) === undefined).map(([code, file]) => `${code} (${file})`);
  t.same(unregistered, [], 'every code the sources emit is in shared/codes.ts (add it there and to docs/codes.md)');
});

// Until the router's own tables are built from the registry, they must say what it says.
t.test('the router\'s own code tables agree with the registry', async (t) => {
  for (const [code, desc] of Object.entries({ ...HerokuCode, ...ROUTER_CODES })) {
    t.equal(desc, codeInfo(code)?.desc, `${code}: desc="${desc}"`);
  }
  const line = formatCanaryAbortLine({
    prodApp: 'a', canaryApp: 'b', slot: 0, generation: 1, weight: 10, confidence: 0.99, time: 0,
    counts: { canary: { requests: 1, errors: 1 }, production: { requests: 1, errors: 0 } }, rates: { canary: 1, production: 0 },
  });
  t.match(line, `at=error code=canary_abort desc="${CODES.canary_abort.desc}" `, 'the canary abort line');
});
