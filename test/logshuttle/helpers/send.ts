import { connect } from 'node:net';
import { httpRequest, type Reply } from './http-client.js';

export interface LineSpec {
  app: string;
  source?: string;
  process?: string;
  stream?: string;
  time?: number;
  message: string;
}

/** POSTs records as application/x-ndjson to /ingest. */
export function postNdjson(base: string, lines: LineSpec[], headers: Record<string, string> = {}): Promise<Reply> {
  const body = lines.map((l) => JSON.stringify({ source: 'app', process: 'web.1', stream: 'stdout', time: Date.now(), ...l })).join('\n') + '\n';
  return httpRequest(`${base}/ingest`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson', ...headers }, body });
}

/** Writes `data` on a fresh TCP connection and closes it. */
export function sendTcp(port: number, data: Buffer | string): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => s.end(data));
    s.on('error', reject);
    s.on('close', () => resolve());
  });
}

/** An octet-counted RFC 5424 frame. */
export function syslogFrame(app: string, proc: string, message: string, appName = 'app'): string {
  const msg = `<14>1 - ${app} ${appName} ${proc} - - ${message}`;
  return `${Buffer.byteLength(msg)} ${msg}`;
}
