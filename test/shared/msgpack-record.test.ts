import t from 'tap';
import { decode, decodeMulti } from '@msgpack/msgpack';
import { encodeLogRecord } from '../../shared/msgpack-record.js';
import type { LogRecord } from '../../shared/log-record.js';

t.test('hand-encoded records decode with @msgpack/msgpack, every string size class', async (t) => {
  for (const len of [0, 5, 31, 32, 255, 256, 65535, 65536, 200000]) {
    const r: LogRecord = { app: 'api-prod', source: 'router', process: 'router', stream: 'stdout', time: 1732528800123, message: 'é'.repeat(len / 2) + 'x'.repeat(len % 2) };
    t.same(decode(encodeLogRecord(r)), r, `message of ${len} bytes`);
  }
});

t.test('records concatenated decode one after another', async (t) => {
  const a: LogRecord = { app: 'a', source: 'router', process: 'router', stream: 'stderr', time: 1, message: 'at=error code=H10' };
  const b: LogRecord = { app: 'b'.repeat(40), source: 'platform', process: 'p'.repeat(300), stream: 'stdout', time: 2.5, message: '✓ ünïcödé' };
  t.same([...decodeMulti(Buffer.concat([encodeLogRecord(a), encodeLogRecord(b)]))], [a, b]);
});
