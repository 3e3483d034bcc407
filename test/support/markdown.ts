import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

/**
 * Just enough of GitHub-flavoured Markdown for the docs tests: the lines outside fenced code,
 * headings and their anchors (GitHub's slug rules), explicit HTML anchors, links, and tables.
 */

/** Every `*.md` file under `dir`, as paths relative to `root`, sorted. */
export function markdownFiles(root: string, dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && e.name.endsWith('.md')) out.push(relative(root, p));
    }
  };
  walk(join(root, dir));
  return out.sort();
}

export interface MdLine {
  /** 1-based line number in the file */
  readonly n: number;
  readonly text: string;
}

/** The lines that are not inside a fenced code block (``` or ~~~), fence lines excluded. */
export function proseLines(source: string): MdLine[] {
  const out: MdLine[] = [];
  let fence: string | null = null;
  source.split('\n').forEach((text, i) => {
    const m = /^ {0,3}(`{3,}|~{3,})/.exec(text);
    if (fence === null) {
      if (m) fence = m[1];
      else out.push({ n: i + 1, text });
    } else if (m && m[1][0] === fence[0] && m[1].length >= fence.length && text.trim() === m[1]) {
      fence = null;
    }
  });
  return out;
}

/** Splits a line into code spans and the text between them. */
function segments(text: string): { code: boolean; text: string }[] {
  const out: { code: boolean; text: string }[] = [];
  let i = 0;
  while (i < text.length) {
    const open = text.indexOf('`', i);
    if (open < 0) break;
    let ticks = 1;
    while (text[open + ticks] === '`') ticks++;
    const fence = '`'.repeat(ticks);
    let close = text.indexOf(fence, open + ticks);
    while (close >= 0 && text[close + ticks] === '`') close = text.indexOf(fence, close + ticks + 1);
    if (close < 0) break;
    out.push({ code: false, text: text.slice(i, open) });
    out.push({ code: true, text: text.slice(open + ticks, close) });
    i = close + ticks;
  }
  out.push({ code: false, text: text.slice(i) });
  return out;
}

/** A line with its code spans blanked (so `[x](y)` inside backticks is not a link). */
export function withoutCodeSpans(text: string): string {
  return segments(text).map((s) => (s.code ? ' '.repeat(s.text.length + 2) : s.text)).join('');
}

/** The text GitHub renders for a heading's inline Markdown. */
function headingText(md: string): string {
  return segments(md).map((s) => {
    if (s.code) return s.text;
    return s.text
      .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1') // links and images: their text
      .replace(/<[^>]+>/g, '') // inline HTML
      .replace(/\*+/g, '')
      .replace(/(^|[^\p{L}\p{N}])_+(?=[\p{L}\p{N}])/gu, '$1') // emphasis underscores, not snake_case
      .replace(/([\p{L}\p{N}])_+(?=[^\p{L}\p{N}_]|$)/gu, '$1');
  }).join('');
}

/** GitHub's heading slug (github-slugger): lower case, punctuation dropped, spaces to `-`. */
export function slug(headingMarkdown: string): string {
  return headingText(headingMarkdown).trim().toLowerCase().replace(/[^\p{L}\p{M}\p{N}\p{Pc}\- ]/gu, '').replace(/ /g, '-');
}

/** Every anchor a file offers: heading slugs (duplicates numbered -1, -2, …) and `<a id|name>`. */
export function anchors(source: string): Set<string> {
  const out = new Set<string>();
  const seen = new Map<string, number>();
  const add = (s: string): void => {
    const k = seen.get(s);
    seen.set(s, (k ?? -1) + 1);
    out.add(k === undefined ? s : `${s}-${k + 1}`);
  };
  const lines = proseLines(source);
  lines.forEach((l, i) => {
    const atx = /^ {0,3}#{1,6}[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$/.exec(l.text);
    if (atx) add(slug(atx[1]));
    else if (/^ {0,3}(=+|-+)[ \t]*$/.test(l.text) && i > 0) {
      const prev = lines[i - 1];
      // a setext underline: the line right above is paragraph text (not a list, table or blank)
      if (prev.n === l.n - 1 && prev.text.trim() !== '' && !/^\s*([-*+|>]|\d+\.)/.test(prev.text)) add(slug(prev.text.trim()));
    }
    for (const m of withoutCodeSpans(l.text).matchAll(/<a\s+(?:[^>]*\s)?(?:id|name)="([^"]+)"/g)) out.add(m[1]);
  });
  return out;
}

export interface MdLink {
  readonly line: number;
  readonly target: string;
}

/** Every link target of a file: inline links and images, reference definitions, `href`s. */
export function links(source: string): MdLink[] {
  const out: MdLink[] = [];
  for (const l of proseLines(source)) {
    const text = withoutCodeSpans(l.text);
    for (const m of text.matchAll(/!?\[(?:[^[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+"[^"]*")?\s*\)/g)) out.push({ line: l.n, target: m[1] });
    const def = /^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$/.exec(text);
    if (def) out.push({ line: l.n, target: def[1] });
    for (const m of text.matchAll(/<a\s+(?:[^>]*\s)?href="([^"]+)"/g)) out.push({ line: l.n, target: m[1] });
  }
  return out;
}

export interface MdTable {
  readonly line: number;
  /** header cells, trimmed */
  readonly header: string[];
  readonly rows: { line: number; cells: string[] }[];
}

/** Cells of a table row: split on unescaped `|`, `\|` kept as `|`, trimmed. */
function cells(row: string): string[] {
  let s = row.trim();
  if (s.startsWith('|')) s = s.slice(1);
  if (s.endsWith('|') && !s.endsWith('\\|')) s = s.slice(0, -1);
  return s.split(/(?<!\\)\|/).map((c) => c.replace(/\\\|/g, '|').trim());
}

/** Every pipe table of a file (outside fenced code). */
export function tables(source: string): MdTable[] {
  const lines = proseLines(source);
  const out: MdTable[] = [];
  for (let i = 0; i + 1 < lines.length; i++) {
    const head = lines[i];
    const sep = lines[i + 1];
    if (!head.text.includes('|') || sep.n !== head.n + 1 || !/^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$/.test(sep.text)) continue;
    const table: MdTable = { line: head.n, header: cells(head.text), rows: [] };
    let j = i + 2;
    while (j < lines.length && lines[j].n === lines[j - 1].n + 1 && lines[j].text.includes('|')) {
      table.rows.push({ line: lines[j].n, cells: cells(lines[j].text) });
      j++;
    }
    out.push(table);
    i = j - 1;
  }
  return out;
}

/** Reads a file of the repository as UTF-8. */
export function read(root: string, file: string): string {
  return readFileSync(join(root, file), 'utf8');
}
