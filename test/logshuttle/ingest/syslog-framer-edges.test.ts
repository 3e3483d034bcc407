import t from 'tap';
import { SyslogFramer } from '../../../logshuttle/ingest/syslog-framer.js';

function run(parts: (string | Buffer)[], max?: number, end = false): { frames: string[]; bad: string[] } {
  const frames: string[] = [];
  const bad: string[] = [];
  const f = new SyslogFramer({ frame: (b, s, e) => frames.push(b.toString('utf8', s, e)), bad: (r) => bad.push(r) }, max);
  for (const p of parts) f.push(typeof p === 'string' ? Buffer.from(p) : p);
  if (end) f.end();
  return { frames, bad };
}

t.test('an over-long octet-counted frame is skipped by its count, the frames after it kept', async (t) => {
  const big = 'x'.repeat(40);
  const stream = `5 <1>1a30 <1>1${big.slice(0, 26)}7 <1>1 bb`; // 30-byte frame over a 20-byte limit, no LF anywhere
  t.same(run([stream], 20), { frames: ['<1>1a', '<1>1 bb'], bad: ['frame too long'] });
  // the same cut anywhere
  for (let i = 1; i < stream.length; i++) {
    t.same(run([stream.slice(0, i), stream.slice(i)], 20), { frames: ['<1>1a', '<1>1 bb'], bad: ['frame too long'] }, `cut at ${i}`);
  }
});

t.test('end(): a last LF frame without its LF is taken; a partial octet-counted frame is reported', async (t) => {
  t.same(run(['<14>1 - a app w - - one\n<14>1 - a app w - - last'], undefined, true), { frames: ['<14>1 - a app w - - one', '<14>1 - a app w - - last'], bad: [] });
  t.same(run(['<14>1 - a app w - - last\r'], undefined, true), { frames: ['<14>1 - a app w - - last'], bad: [] });
  t.same(run(['30 <14>1 - a app'], undefined, true), { frames: [], bad: ['truncated frame at end of stream'] });
  t.same(run(['12'], undefined, true), { frames: [], bad: ['truncated frame at end of stream'] });
  t.same(run(['<14>1 - a app w - - whole\n'], undefined, true), { frames: ['<14>1 - a app w - - whole'], bad: [] }, 'nothing held: nothing reported');
  t.same(run(['<14>1 - a app w - - last'], undefined, false), { frames: [], bad: [] }, 'without end() it waits');
});
