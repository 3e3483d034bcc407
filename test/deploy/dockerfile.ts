/**
 * A small Dockerfile reader for the deploy tests (no Docker engine or linter runs here): the
 * instructions with their continuation lines joined, flags split off, exec-form (JSON) arguments
 * parsed, grouped by build stage.
 */

export interface Instruction {
  /** upper-case keyword: FROM, RUN, COPY, … */
  readonly keyword: string;
  /** `--name=value` flags before the arguments (`--from=build` → { from: 'build' }) */
  readonly flags: Readonly<Record<string, string>>;
  /** the arguments as written, after the flags */
  readonly text: string;
  /** exec form (`["node", "-e", "…"]`) parsed, else the shell-form words split on blanks */
  readonly args: readonly string[];
  /** true when the arguments are a JSON array */
  readonly exec: boolean;
  /** 1-based line where the instruction starts */
  readonly line: number;
}

export interface Stage {
  /** the FROM image */
  readonly image: string;
  /** `AS name`, if any */
  readonly name: string | undefined;
  /** the instructions after FROM, in order */
  readonly instructions: readonly Instruction[];
}

function splitFlags(rest: string): { flags: Record<string, string>; text: string } {
  const flags: Record<string, string> = {};
  let text = rest;
  for (;;) {
    const m = /^--([a-z-]+)(?:=(\S*))?\s*/.exec(text);
    if (m === null) break;
    flags[m[1]] = m[2] ?? 'true';
    text = text.slice(m[0].length);
  }
  return { flags, text };
}

/** The instructions of a Dockerfile, continuation lines joined, comments and blank lines dropped. */
export function parseInstructions(source: string): Instruction[] {
  const out: Instruction[] = [];
  const lines = source.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const start = i;
    let logical = lines[i];
    if (/^\s*(#|$)/.test(logical)) continue;
    // a trailing backslash continues the instruction; comment lines inside it are skipped
    while (/\\\s*$/.test(logical) && i + 1 < lines.length) {
      logical = logical.replace(/\\\s*$/, ' ');
      i++;
      if (/^\s*#/.test(lines[i])) {
        logical += '\\';
        continue;
      }
      logical += lines[i].trim();
    }
    const m = /^\s*([A-Za-z]+)\s*(.*)$/.exec(logical);
    if (m === null) throw new Error(`line ${start + 1}: not an instruction: ${logical}`);
    const keyword = m[1].toUpperCase();
    // HEALTHCHECK flags come before CMD; its exec form follows the CMD keyword
    const { flags, text } = splitFlags(m[2].trim());
    let argText = text;
    if (keyword === 'HEALTHCHECK' && /^CMD\s/i.test(argText)) argText = argText.replace(/^CMD\s+/i, '');
    let args: string[];
    let exec = false;
    if (argText.startsWith('[')) {
      args = JSON.parse(argText) as string[];
      exec = true;
    } else {
      args = argText.split(/\s+/).filter((w) => w !== '');
    }
    out.push({ keyword, flags, text, args, exec, line: start + 1 });
  }
  return out;
}

/** The build stages of a Dockerfile (instructions before the first FROM are ARGs; dropped). */
export function parseStages(source: string): Stage[] {
  const stages: { image: string; name: string | undefined; instructions: Instruction[] }[] = [];
  for (const ins of parseInstructions(source)) {
    if (ins.keyword === 'FROM') {
      const [image, as, name] = ins.args;
      stages.push({ image, name: as?.toUpperCase() === 'AS' ? name : undefined, instructions: [] });
    } else if (stages.length > 0) {
      stages[stages.length - 1].instructions.push(ins);
    }
  }
  return stages;
}

/** Patterns of a .dockerignore, comments and blank lines dropped. */
export function parseDockerignore(source: string): string[] {
  return source.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
}
