import { admin } from './admin-client.js';

/** One sample of the Prometheus text exposition format. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Metric families by name, with their TYPE, and every sample. */
export interface Scrape {
  types: Map<string, string>;
  samples: Sample[];
  /** the value of the one sample with this name whose labels include `labels`; undefined when none */
  get(name: string, labels?: Record<string, string>): number | undefined;
  /** every sample with this name whose labels include `labels` */
  all(name: string, labels?: Record<string, string>): Sample[];
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?\s*/y;

function parseLabels(text: string, line: string): Record<string, string> {
  const labels: Record<string, string> = {};
  LABEL.lastIndex = 0;
  while (LABEL.lastIndex < text.length) {
    const m = LABEL.exec(text);
    if (m === null) throw new Error(`bad labels in: ${line}`);
    labels[m[1]] = m[2].replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
  }
  return labels;
}

/** Parses Prometheus text strictly: a line that is neither a comment nor a sample throws. */
export function parsePrometheus(text: string): Scrape {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('# TYPE ')) {
      const [name, type] = line.slice(7).split(' ');
      types.set(name, type);
      continue;
    }
    if (line.startsWith('#')) continue;
    const m = SAMPLE.exec(line);
    if (m === null) throw new Error(`not a Prometheus sample: ${line}`);
    // as Go's ParseFloat (the Prometheus parser): NaN and Inf in any case (prom-client writes `Nan`)
    const v = m[3].toLowerCase();
    const value = v === 'nan' ? NaN : v === '+inf' || v === 'inf' ? Infinity : v === '-inf' ? -Infinity : Number(m[3]);
    if (Number.isNaN(value) && v !== 'nan') throw new Error(`bad value in: ${line}`);
    samples.push({ name: m[1], labels: m[2] ? parseLabels(m[2], line) : {}, value });
  }
  const matches = (s: Sample, name: string, labels: Record<string, string>): boolean =>
    s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v);
  return {
    types,
    samples,
    all: (name, labels = {}) => samples.filter((s) => matches(s, name, labels)),
    get(name, labels = {}) {
      const found = samples.filter((s) => matches(s, name, labels));
      if (found.length > 1) throw new Error(`${found.length} samples of ${name} match ${JSON.stringify(labels)}`);
      return found[0]?.value;
    },
  };
}

/** GET /metrics, parsed. */
export async function scrape(port: number, token?: string): Promise<Scrape> {
  const a = await admin(port, 'GET', '/metrics', { token });
  if (a.status !== 200) throw new Error(`GET /metrics answered ${a.status}: ${a.body}`);
  return parsePrometheus(a.body);
}
