import t from 'tap';
import fc from 'fast-check';
import { MAX_FRAME_BYTES, SyslogFramer } from '../../logshuttle/ingest/syslog-framer.js';
import { fuzz } from './fuzz-params.js';

/** What a framer reported for a stream: the frames (copied), how many bad, the most it held. */
interface Framed {
  frames: Buffer[];
  bad: number;
  maxHeld: number;
  pending: boolean;
}

function frameAll(pieces: readonly Uint8Array[], maxFrameBytes?: number): Framed {
  const out: Framed = { frames: [], bad: 0, maxHeld: 0, pending: false };
  const framer = new SyslogFramer({
    frame(buf, start, end) {
      out.frames.push(Buffer.from(buf.subarray(start, end)));
    },
    bad() {
      out.bad++;
    },
  }, maxFrameBytes);
  for (const p of pieces) {
    // the caller's buffer is reused after push: scribble on it to catch frames that alias it
    const chunk = Buffer.from(p);
    framer.push(chunk);
    chunk.fill(0x7e);
    out.maxHeld = Math.max(out.maxHeld, framer.heldBytes);
  }
  out.pending = framer.pending;
  return out;
}

/** Cuts `buf` at the given points (any numbers; taken modulo the length, deduplicated). */
function cut(buf: Buffer, points: readonly number[]): Buffer[] {
  const at = [...new Set(points.map((p) => (buf.length === 0 ? 0 : p % (buf.length + 1))))].sort((a, b) => a - b);
  const pieces: Buffer[] = [];
  let from = 0;
  for (const p of at) {
    pieces.push(buf.subarray(from, p));
    from = p;
  }
  pieces.push(buf.subarray(from));
  return pieces;
}

const SEPARATORS = [0x0a, 0x0d, 0x20, 0x00];

/** A valid frame: its content, its encoding on the wire, and its size against the frame limit. */
interface Frame {
  content: Buffer;
  wire: Buffer;
  /** octet-counted: the count; LF-framed: the bytes before the LF (a CR included) */
  size: number;
}

const octetFrame = (maxLen: number): fc.Arbitrary<Frame> =>
  fc.tuple(fc.uint8Array({ minLength: 1, maxLength: maxLen }), fc.integer({ min: 0, max: 2 })).map(([bytes, zeros]) => {
    const content = Buffer.from(bytes);
    const count = String(content.length);
    const header = '0'.repeat(Math.min(zeros, 8 - count.length)) + count + ' ';
    return { content, wire: Buffer.concat([Buffer.from(header), content]), size: content.length };
  });

const lfFrame = (maxLen: number): fc.Arbitrary<Frame> =>
  fc.tuple(fc.uint8Array({ maxLength: maxLen - 1 }), fc.boolean()).map(([bytes, crlf]) => {
    const body = Buffer.from(bytes.filter((b) => b !== 0x0a));
    let content = Buffer.concat([Buffer.from('<'), body]);
    while (content.length > 1 && content[content.length - 1] === 0x0d) content = content.subarray(0, -1);
    return { content, wire: Buffer.concat([content, Buffer.from(crlf ? '\r\n' : '\n')]), size: content.length + (crlf ? 1 : 0) };
  });

const validFrame = (maxLen: number): fc.Arbitrary<Frame> => fc.oneof(octetFrame(maxLen), lfFrame(maxLen));

const separator = fc.uint8Array({ maxLength: 3 }).map((a) => Buffer.from(a.map((b) => SEPARATORS[b % 4])));

/** frames, each after a run of the bytes skipped between frames */
const validStream = (maxLen: number): fc.Arbitrary<{ frames: Frame[]; wire: Buffer }> =>
  fc.array(fc.tuple(separator, validFrame(maxLen)), { maxLength: 12 }).map((parts) => ({
    frames: parts.map(([, f]) => f),
    wire: Buffer.concat(parts.flatMap(([sep, f]) => [sep, f.wire])),
  }));

/** pieces of syslog-looking input that make the framer change state, plus raw bytes */
const fragment = fc.oneof(
  validFrame(40).map((f) => f.wire),
  fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a)),
  fc.constantFrom('\n', '\r\n', '<', ' ', '0 ', '00000001 x', '12', '999999999 ', '1048577 ', '5 ab', '<1>', '\r', '\0').map((s) => Buffer.from(s)),
  fc.stringMatching(/^[0-9]{1,10} ?$/).map((s) => Buffer.from(s)),
);
const anyStream = fc.array(fragment, { maxLength: 16 }).map((parts) => Buffer.concat(parts));
const cuts = fc.array(fc.nat(), { maxLength: 12 });
const smallMax = fc.integer({ min: 1, max: 64 });

t.test('valid frames (octet-counted and LF-framed, mixed) round-trip exactly, however the stream is cut', async (t) => {
  await fuzz(t, 'round trip', fc.property(validStream(300), cuts, ({ frames, wire }, points) => {
    const r = frameAll(cut(wire, points));
    if (r.bad !== 0) throw new Error(`${r.bad} bad reports on a valid stream`);
    if (r.pending) throw new Error('a partial frame is left over from a complete stream');
    if (r.frames.length !== frames.length) throw new Error(`${r.frames.length} frames, expected ${frames.length}`);
    frames.forEach((f, i) => {
      if (!r.frames[i].equals(f.content)) throw new Error(`frame ${i} differs: ${r.frames[i].toString('hex')} vs ${f.content.toString('hex')}`);
    });
  }), 4000);
});

t.test('any byte stream gives the same frames and bad reports split at any points as unsplit', async (t) => {
  await fuzz(t, 'split invariance, default limit', fc.property(anyStream, cuts, (wire, points) => {
    const whole = frameAll([wire]);
    const split = frameAll(cut(wire, points));
    const a = split.frames.map((f) => f.toString('hex'));
    const b = whole.frames.map((f) => f.toString('hex'));
    if (a.join() !== b.join()) throw new Error(`frames differ: split ${a.join()} whole ${b.join()}`);
    if (split.bad !== whole.bad) throw new Error(`bad reports: split ${split.bad}, whole ${whole.bad}`);
    if (split.pending !== whole.pending) throw new Error('pending differs');
  }), 3000);
  // a small frame limit makes "frame too long" reachable with small inputs
  await fuzz(t, 'split invariance, small limits', fc.property(anyStream, cuts, smallMax, (wire, points, max) => {
    const whole = frameAll([wire], max);
    const split = frameAll(cut(wire, points), max);
    const a = split.frames.map((f) => f.toString('hex'));
    const b = whole.frames.map((f) => f.toString('hex'));
    if (a.join() !== b.join()) throw new Error(`frames differ: split ${a.join()} whole ${b.join()}`);
    if (split.bad !== whole.bad) throw new Error(`bad reports: split ${split.bad}, whole ${whole.bad}`);
    for (const f of split.frames) if (f.length > max) throw new Error(`frame of ${f.length} bytes passed a limit of ${max}`);
  }), 3000);
});

t.test('garbage never throws and the held bytes stay bounded', async (t) => {
  const garbage = fc.array(fc.oneof(fragment, fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a))), { maxLength: 24 });
  await fuzz(t, 'bounded hold', fc.property(garbage, smallMax, (pieces, max) => {
    const r = frameAll(pieces, max);
    if (r.maxHeld > max + 9) throw new Error(`held ${r.maxHeld} bytes with a limit of ${max}`);
  }), 3000);
});

t.test('a valid frame after garbage and a LF is never lost', async (t) => {
  // garbage without LF that does not itself start an octet count (which would own what follows)
  const garbage = fc.oneof(fc.uint8Array({ maxLength: 120 }), fragment)
    .map((a) => Buffer.from(Uint8Array.from(a).filter((b) => b !== 0x0a)))
    .filter((g) => !/^[\r \0]*[0-9]{1,8} /.test(g.toString('latin1')));
  await fuzz(t, 'resync after garbage', fc.property(garbage, validStream(100), cuts, fc.option(smallMax), (g, { frames, wire }, points, max) => {
    const limit = max ?? undefined;
    const expected = frames.filter((f) => limit === undefined || f.size <= limit).map((f) => f.content.toString('hex'));
    if (limit !== undefined && expected.length !== frames.length) return; // over-long frames are dropped: covered above
    const r = frameAll(cut(Buffer.concat([g, Buffer.from('\n'), wire]), points), limit);
    const got = r.frames.map((f) => f.toString('hex'));
    // the garbage itself may make one LF frame (it started with '<'); everything after survives
    if (got.length < expected.length || got.length > expected.length + 1) throw new Error(`${got.length} frames for ${expected.length} valid`);
    if (got.slice(got.length - expected.length).join() !== expected.join()) throw new Error('a valid frame after garbage was lost or changed');
  }), 3000);
});

t.test('an endless line without LF is dropped once, held bytes bounded, and the next frame survives', async (t) => {
  const r = frameAll([
    ...Array.from({ length: 40 }, (_, i) => Buffer.alloc(64 * 1024, i === 0 ? 0x3c : 0x41)), // '<' then 2.5 MB of 'A'
    Buffer.from('AAAA\n12 <13>1 - a b\n'),
  ]);
  t.equal(r.bad, 1, 'one bad report');
  t.ok(r.maxHeld <= MAX_FRAME_BYTES + 9, `held at most ${r.maxHeld} bytes`);
  t.strictSame(r.frames.map(String), ['<13>1 - a b\n']);
  // the same line in one piece gets the same verdict
  const whole = frameAll([Buffer.concat([Buffer.from('<'), Buffer.alloc(MAX_FRAME_BYTES, 0x41), Buffer.from('\n<1>x\n')])]);
  t.equal(whole.bad, 1, 'one piece: one bad report');
  t.strictSame(whole.frames.map(String), ['<1>x']);
});
