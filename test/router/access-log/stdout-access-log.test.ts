// The router's stdout access log (router/access-log/access-log-sink.ts StdoutAccessLog): the bytes
// written are the lines as UTF-8, one per `\n`, in order, whatever their size or how many come in
// one loop turn; a reader that stops reading never blocks the writer, the overflow is dropped
// and counted in an L10 line once the reader is back.
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, createReadStream, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { StdoutAccessLog, type AccessLogSink } from '../../../router/access-log/access-log-sink.js';
import { ROOT, until } from '../../support/router-harness.js';
import { assertDistFresh } from '../../support/dist-fresh.js';

const dir = mkdtempSync(join(tmpdir(), 'edgeplane-access-log-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

t.test('the lines as UTF-8, each followed by a newline, in order, across turns and buffer growth', async (t) => {
  const file = join(dir, 'out.log');
  const fd = openSync(file, 'w');
  const log: AccessLogSink = new StdoutAccessLog(fd);
  const lines: string[] = [];
  const add = (line: string): void => {
    lines.push(line);
    log.write('app', line, Date.now());
  };
  add('at=info method=GET path=/ host=a.example.io status=200');
  add('at=info fwd="caf\u00e9, \u4e2d\u6587, \ud83d\ude00" path=/utf8');
  await turn();
  for (let i = 0; i < 5000; i++) add(`at=info method=GET path=/n/${i} request_id=${'r'.repeat(i % 50)} status=200`);
  add('x'.repeat(200 * 1024)); // longer than the first buffer
  await turn();
  for (let i = 0; i < 3; i++) {
    add(`at=error code=H12 desc="Request timeout" n=${i} ${'\u00e9'.repeat(30000)}`); // 2 bytes each: forces the exact size check
    await turn();
  }
  await log.close?.();
  closeSync(fd);
  const expected = Buffer.from(lines.map((l) => l + '\n').join(''), 'utf8');
  const got = readFileSync(file);
  t.equal(got.length, expected.length, 'as many bytes');
  t.ok(got.equals(expected), 'the same bytes');
});

t.test('a reader that stops: writes never block, the overflow is dropped and reported in an L10 line', async (t) => {
  const fifo = join(dir, 'fifo');
  execFileSync('mkfifo', [fifo]);
  const fd = openSync(fifo, 'r+'); // O_RDWR: opens without a reader; writes block (in the thread pool) once the pipe is full
  const log: AccessLogSink = new StdoutAccessLog(fd);
  const line = 'at=info method=GET path=/overflow host=a.example.io request_id=' + 'i'.repeat(60) + ' status=200';
  const total = Math.ceil((20 * 1024 * 1024) / (line.length + 1)); // 20 MiB of lines: more than the 8 MiB held
  const started = Date.now();
  for (let i = 0; i < total; i++) {
    log.write('app', line, 0);
    if (i % 10000 === 0) await turn();
  }
  t.ok(Date.now() - started < 60000, 'the writer went on (nothing blocked the loop)');
  let text = '';
  const reader = createReadStream(fifo, { encoding: 'latin1' });
  reader.on('data', (d: string | Buffer) => (text += String(d)));
  await until(() => /dropped=\d+\n/.test(text), 60000, 'the L10 report');
  await until(() => {
    const m = /at=error code=L10 desc="stdout overflow" dropped=(\d+)\n/.exec(text);
    return m !== null && text.split('\n').filter((l) => l === line).length + Number(m[1]) === total;
  }, 60000, 'every line written or counted as dropped');
  const kept = text.split('\n').filter((l) => l === line).length;
  const dropped = Number(/dropped=(\d+)/.exec(text)![1]);
  t.ok(dropped > 0, `${dropped} lines dropped`);
  t.ok(kept * (line.length + 1) >= 8 * 1024 * 1024, `at least 8 MiB held and delivered (${kept} lines)`);
  t.equal(kept + dropped, total, 'every line delivered or counted');
  t.notMatch(text.replace(/at=error code=L10 desc="stdout overflow" dropped=\d+\n/, ''), /[^\n]L10|dropped=/, 'one report');
  await log.close?.();
  reader.destroy();
  closeSync(fd);
});

t.test('lines still waiting when the thread exits are written before it ends', async (t) => {
  // the built sink (tests run after `npm run build`), in a process that exits in the turn of its writes
  assertDistFresh();
  const sink = join(ROOT, 'dist/router/access-log/access-log-sink.js');
  const script = `import(${JSON.stringify(sink)}).then((m) => {
    const log = new m.StdoutAccessLog();
    for (let i = 0; i < 3; i++) log.write('app', 'at=info line=' + i, 0);
    process.exit(0);
  });`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30000 });
  t.equal(r.status, 0, r.stderr);
  t.equal(r.stdout, 'at=info line=0\nat=info line=1\nat=info line=2\n', 'every line, in order');
});
