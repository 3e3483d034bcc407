/**
 * OpenAPI path templates (`/users/{id}`, `/files/{name}.{ext}`) matched against the path the app
 * receives, segment by segment: a literal segment wins over a templated one at the same place
 * ("concrete paths before templated ones"), trying the others only if the literal branch leads
 * nowhere. A trie: the work per request is bounded by the number of templates, not their
 * product. Matching is case-sensitive (paths in OpenAPI are); a trailing slash is ignored.
 * Parameter values are percent-decoded (a `%2F` inside a segment is a `/` in the value).
 */

interface TemplatedSegment {
  readonly regex: RegExp;
  readonly names: readonly string[];
  readonly node: TrieNode;
}

interface TrieNode {
  readonly literal: Map<string, TrieNode>;
  readonly templated: TemplatedSegment[];
  /** the value stored for a template ending here */
  value: unknown;
  hasValue: boolean;
}

function node(): TrieNode {
  return { literal: new Map(), templated: [], value: undefined, hasValue: false };
}

const PARAM = /\{([^{}]+)\}/g;

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function segmentsOf(path: string): string[] {
  let p = path;
  if (p.length > 1 && p.endsWith('/')) p = p.slice(0, -1);
  return p === '/' ? [] : p.slice(1).split('/');
}

export interface PathMatch<T> {
  readonly value: T;
  readonly params: Record<string, string>;
}

export class PathMatcher<T> {
  private readonly root = node();

  /** Adds a template; returns why it cannot be one, or undefined. */
  add(template: string, value: T): string | undefined {
    if (!template.startsWith('/')) return 'a path must start with /';
    let at = this.root;
    for (const seg of segmentsOf(template)) {
      if (!seg.includes('{')) {
        let next = at.literal.get(seg);
        if (next === undefined) {
          next = node();
          at.literal.set(seg, next);
        }
        at = next;
        continue;
      }
      const names: string[] = [];
      let source = '^';
      let last = 0;
      for (const m of seg.matchAll(PARAM)) {
        source += escapeRegex(seg.slice(last, m.index)) + '([^/]+?)';
        names.push(m[1]);
        last = m.index + m[0].length;
      }
      source += escapeRegex(seg.slice(last)) + '$';
      if (/[{}]/.test(seg.replace(PARAM, ''))) return `"${seg}" has an unbalanced brace`;
      const existing = at.templated.find((t) => t.regex.source === source);
      if (existing !== undefined) {
        at = existing.node;
        continue;
      }
      const t: TemplatedSegment = { regex: new RegExp(source), names, node: node() };
      at.templated.push(t);
      at = t.node;
    }
    if (at.hasValue) return 'the same path is given twice (templates differing only in parameter names)';
    at.value = value;
    at.hasValue = true;
    return undefined;
  }

  match(path: string): PathMatch<T> | null {
    const segs = segmentsOf(path);
    const params: Record<string, string> = {};
    // iterative depth-first search: (node, segment index, next templated child to try)
    const stack: { n: TrieNode; i: number; k: number; bound: string[] }[] = [{ n: this.root, i: 0, k: -1, bound: [] }];
    while (stack.length > 0) {
      const f = stack[stack.length - 1];
      if (f.i === segs.length) {
        if (f.n.hasValue) return { value: f.n.value as T, params };
        stack.pop();
        for (const b of f.bound) delete params[b];
        continue;
      }
      const seg = segs[f.i];
      if (f.k === -1) {
        f.k = 0;
        const lit = f.n.literal.get(seg);
        if (lit !== undefined) {
          stack.push({ n: lit, i: f.i + 1, k: -1, bound: [] });
          continue;
        }
      }
      if (f.k < f.n.templated.length) {
        const t = f.n.templated[f.k++];
        const m = t.regex.exec(seg);
        if (m === null) continue;
        const bound: string[] = [];
        t.names.forEach((name, j) => {
          params[name] = decodeSegment(m[j + 1]);
          bound.push(name);
        });
        stack.push({ n: t.node, i: f.i + 1, k: -1, bound });
        continue;
      }
      stack.pop();
      for (const b of f.bound) delete params[b];
    }
    return null;
  }
}

function decodeSegment(s: string): string {
  if (!s.includes('%')) return s;
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
