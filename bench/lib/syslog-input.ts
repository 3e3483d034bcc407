/**
 * The relay benches' input: N octet-counted RFC5424 frames (syslog TCP, RFC 6587), `apps` apps
 * interleaved round robin (HOSTNAME = app, as the shuttle's ingest expects), each message ending
 * with `seq=<n>` so the sink can prove every line arrived exactly once.
 */

export function appName(i: number, apps: number): string {
  return apps === 1 ? 'api-prod' : `app-${i % apps}`;
}

export function buildSyslogInput(lines: number, apps: number): Buffer {
  const parts: Buffer[] = [];
  const t0 = Date.UTC(2026, 10, 25, 10, 0, 0, 0);
  for (let i = 0; i < lines; i++) {
    const msg = `<14>1 ${new Date(t0 + (i >> 6)).toISOString()} ${appName(i, apps)} app web.1 - - Entering api.getTheme for user 339910 status=200 bytes=448 seq=${i}`;
    parts.push(Buffer.from(`${Buffer.byteLength(msg)} ${msg}`));
  }
  return Buffer.concat(parts);
}
