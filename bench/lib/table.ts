/**
 * The one bench table: every group returns rows of this shape; run.ts prints them together and
 * writes them to bench/RESULTS.md. A row whose peer is missing or whose run failed stays in the
 * table with its reason (never a NaN, never dropped).
 */
import type { Spread } from './stats.js';

export type RowStatus = 'ok' | 'not installed' | 'failed' | 'missing';

export interface Row {
  group: string;
  subject: string;
  /** what produced the number: autocannon, wrk, the syslog generator, a timer, … */
  tool: string;
  /** 'req/s', 'lines/s', 'ms', 'MiB', 'ns/lookup', … */
  unit: string;
  value: Spread | null;
  p50Ms?: number;
  p99Ms?: number;
  /** value / the reference's value from the same run; null when there is no reference */
  ratio?: number | null;
  /** what the ratio compares with, e.g. 'nginx (autocannon)' */
  ratioTo?: string;
  /** resident memory of the program under test at the end of the row's last run */
  rssMb?: number;
  status: RowStatus;
  /** a result that is text rather than a number (e.g. "see below") */
  text?: string;
  note?: string;
}

export function okRow(r: Omit<Row, 'status'>): Row {
  return { ...r, status: 'ok' };
}

/** A placeholder row: the peer is not installed, the run failed, or the piece is not there. */
export function statusRow(group: string, subject: string, status: Exclude<RowStatus, 'ok'>, note: string, tool = '-', unit = ''): Row {
  return { group, subject, tool, unit, value: null, status, note };
}

function num(n: number): string {
  if (!Number.isFinite(n)) return '-';
  const a = Math.abs(n);
  if (a >= 100) return Math.round(n).toLocaleString('en-US');
  if (a >= 10) return n.toFixed(1);
  if (a >= 1) return n.toFixed(2);
  return n.toFixed(3);
}

function ms(n: number | undefined): string {
  return n === undefined || !Number.isFinite(n) ? '' : n.toFixed(2);
}

function result(r: Row): string {
  if (r.status !== 'ok') return `**${r.status}**`;
  if (!r.value) return r.text ?? '-';
  const v = r.value;
  const s = v.runs.length > 1 ? ` (${num(v.min)}–${num(v.max)})` : '';
  return `${num(v.median)} ${r.unit}${s}`;
}

function ratioCell(r: Row): string {
  if (r.ratio === undefined) return '';
  if (r.ratio === null) return r.ratioTo ? `n/a (no ${r.ratioTo})` : 'n/a';
  return `${r.ratio.toFixed(2)}x ${r.ratioTo ?? ''}`.trim();
}

const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** Markdown table: one line per row, in the order given. */
export function renderTable(rows: readonly Row[]): string {
  const out = [
    '| group | subject | measured by | median (min–max) | p50 ms | p99 ms | ratio | RSS MiB | notes |',
    '|---|---|---|---:|---:|---:|---|---:|---|',
  ];
  for (const r of rows) {
    out.push(`| ${[r.group, r.subject, r.tool, result(r), ms(r.p50Ms), ms(r.p99Ms), ratioCell(r),
      r.rssMb === undefined || !Number.isFinite(r.rssMb) ? '' : r.rssMb.toFixed(0), r.note ?? ''].map(cell).join(' | ')} |`);
  }
  return out.join('\n');
}
