import { request } from 'node:http';
import { waitFor } from './wait.js';

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One HTTP request, body read whole. */
export function httpRequest(url: string, options: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: options.method ?? 'GET', headers: options.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

/** A live tail: collects the body as it streams. */
export interface LiveTail {
  text(): string;
  lines(): string[];
  status: Promise<number>;
  headers: Promise<Record<string, string | string[] | undefined>>;
  waitForLines(n: number): Promise<string[]>;
  close(): void;
}

export function openTail(url: string, headers: Record<string, string> = {}): LiveTail {
  let body = '';
  let resolveStatus!: (n: number) => void;
  let resolveHeaders!: (h: Record<string, string | string[] | undefined>) => void;
  const status = new Promise<number>((r) => (resolveStatus = r));
  const hdrs = new Promise<Record<string, string | string[] | undefined>>((r) => (resolveHeaders = r));
  const req = request(url, { headers }, (res) => {
    resolveStatus(res.statusCode ?? 0);
    resolveHeaders(res.headers);
    res.setEncoding('utf8');
    res.on('data', (d: string) => (body += d));
    res.on('error', () => {});
  });
  req.on('error', () => {});
  req.end();
  const lines = (): string[] => body.split('\n').filter((l, i, a) => i < a.length - 1 || l !== '');
  return {
    text: () => body,
    lines,
    status,
    headers: hdrs,
    async waitForLines(n) {
      await waitFor(() => body.split('\n').length - 1 >= n, `${n} tail lines (have: ${JSON.stringify(body.slice(-300))})`);
      return lines();
    },
    close: () => req.destroy(),
  };
}
