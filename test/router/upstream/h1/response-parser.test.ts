// The lean client's response parser on its own: every framing, every input split at every byte
// boundary (and byte by byte) parses the same, and malformed responses are refused with llhttp's
// codes, which the router classifies as H17.
import t from 'tap';
import { DONE, ResponseParser, type ResponseSink } from '../../../../router/upstream/h1/response-parser.js';
import { classifyUpstreamError } from '../../../../router/upstream/upstream-errors.js';

interface Parsed {
  status: number;
  text: string;
  headers: string[];
  body: string;
  done: boolean;
  /** index in the whole input just past the message (when done) */
  end: number;
  keepAlive: boolean;
  closeDelimited: boolean;
  hintMs: number;
  heads: number;
}

/** Feeds `input` cut at `cuts` (indexes), resuming after every pause; returns what the sink saw. */
function parse(input: Buffer, cuts: number[], opts: { head?: boolean; pauseEveryData?: boolean; max?: number } = {}): Parsed {
  const out: Parsed = { status: 0, text: '', headers: [], body: '', done: false, end: -1, keepAlive: true, closeDelimited: false, hintMs: -1, heads: 0 };
  const sink: ResponseSink = {
    onResponseHead(status, raw, text) {
      out.heads++;
      out.status = status;
      out.text = text;
      out.headers = raw.map((b) => b.toString('latin1'));
      return true;
    },
    onResponseData(chunk) {
      out.body += chunk.toString('latin1');
      return !opts.pauseEveryData;
    },
  };
  const p = new ResponseParser(sink, opts.max ?? 16384);
  p.reset(opts.head === true);
  const bounds = [0, ...cuts, input.length];
  for (let k = 0; k < bounds.length - 1 && !out.done; k++) {
    const piece = input.subarray(bounds[k], bounds[k + 1]);
    let at = 0;
    for (let guard = 0; guard < 100000; guard++) {
      at = p.execute(piece, at);
      if (p.state === DONE) {
        out.done = true;
        out.end = bounds[k] + at;
        break;
      }
      if (at >= piece.length) {
        // all read; a pause on the last byte still owes the completion: one more call with nothing
        const again = p.execute(piece, at);
        if (p.state === DONE) {
          out.done = true;
          out.end = bounds[k] + again;
        }
        break;
      }
    }
  }
  out.keepAlive = p.keepAlive;
  out.closeDelimited = p.closeDelimited;
  out.hintMs = p.keepAliveHintMs;
  return out;
}

/** Every way to cut `input` in two, and byte by byte. */
function splits(input: Buffer): number[][] {
  const all: number[][] = [[]];
  for (let i = 1; i < input.length; i++) all.push([i]);
  all.push(Array.from({ length: input.length - 1 }, (_, i) => i + 1));
  return all;
}

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

interface Valid {
  name: string;
  input: string;
  head?: boolean;
  expect: Partial<Parsed>;
}

const VALID: Valid[] = [
  {
    name: 'Content-Length body, headers as sent (names keep their case)',
    input: 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Thing:  a b \t\r\n\r\nhello',
    expect: { status: 200, text: 'OK', headers: ['Content-Length', '5', 'X-Thing', 'a b'], body: 'hello', done: true, keepAlive: true },
  },
  {
    name: 'chunked with extensions (token and quoted values, BWS) and trailers',
    input: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;name=val;q="x y"\r\nhello\r\n6 ; ext\r\n world\r\nA\r\n0123456789\r\n0;last\r\nTrailer-A: 1\r\nTrailer-B: two\r\n\r\n',
    expect: { status: 200, body: 'hello world0123456789', done: true, keepAlive: true },
  },
  {
    name: 'chunked, empty, upper-case hex and Transfer-Encoding gzip, chunked',
    input: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n1F\r\n' + 'x'.repeat(31) + '\r\n0\r\n\r\n',
    expect: { body: 'x'.repeat(31), done: true },
  },
  {
    name: 'interim 100 and 103 skipped, the final response parsed',
    input: 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok',
    expect: { status: 201, text: 'Created', headers: ['Content-Length', '2'], body: 'ok', done: true, heads: 1 },
  },
  {
    name: 'no framing: the body runs to the end of the connection',
    input: 'HTTP/1.1 200 OK\r\nX: y\r\n\r\nuntil close',
    expect: { body: 'until close', done: false, keepAlive: false, closeDelimited: true },
  },
  {
    name: 'Transfer-Encoding without chunked: close-delimited',
    input: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nzipped',
    expect: { body: 'zipped', done: false, keepAlive: false, closeDelimited: true },
  },
  {
    name: 'HEAD: no body whatever Content-Length says',
    input: 'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n',
    head: true,
    expect: { status: 200, body: '', done: true, keepAlive: true },
  },
  {
    name: 'HEAD with Transfer-Encoding: chunked, no body',
    input: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n',
    head: true,
    expect: { body: '', done: true },
  },
  { name: '204 without body', input: 'HTTP/1.1 204 No Content\r\n\r\n', expect: { status: 204, body: '', done: true, keepAlive: true } },
  {
    name: '304 with a Content-Length of the resource, no body',
    input: 'HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\nETag: "x"\r\n\r\n',
    expect: { status: 304, body: '', done: true, keepAlive: true },
  },
  { name: 'Content-Length: 0', input: 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n', expect: { body: '', done: true } },
  { name: 'no reason phrase', input: 'HTTP/1.1 404\r\nContent-Length: 0\r\n\r\n', expect: { status: 404, text: '', done: true } },
  {
    name: 'Connection: close',
    input: 'HTTP/1.1 200 OK\r\nconnection: Keep-Alive, CLOSE\r\nContent-Length: 1\r\n\r\nx',
    expect: { body: 'x', done: true, keepAlive: false },
  },
  { name: 'HTTP/1.0 closes by default', input: 'HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx', expect: { done: true, keepAlive: false } },
  {
    name: 'HTTP/1.0 with Connection: keep-alive',
    input: 'HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nx',
    expect: { done: true, keepAlive: true },
  },
  {
    name: 'Keep-Alive: timeout=5 read as a hint',
    input: 'HTTP/1.1 200 OK\r\nKeep-Alive: timeout=5, max=100\r\nContent-Length: 0\r\n\r\n',
    expect: { done: true, hintMs: 5000 },
  },
  {
    name: 'obs-text in a value and the reason phrase',
    input: 'HTTP/1.1 200 \xe9t\xe9\r\nX: caf\xe9\r\nContent-Length: 0\r\n\r\n',
    expect: { text: '\xe9t\xe9', headers: ['X', 'caf\xe9', 'Content-Length', '0'], done: true },
  },
];

t.test('valid responses: the same result for every split of the input', async (t) => {
  for (const v of VALID) {
    const input = b(v.input);
    const whole = parse(input, [], { head: v.head });
    t.match(whole, v.expect, `${v.name}: whole`);
    let differing = 0;
    for (const cuts of splits(input)) {
      const p = parse(input, cuts, { head: v.head });
      if (JSON.stringify(p) !== JSON.stringify(whole)) {
        differing++;
        if (differing < 3) t.same(p, whole, `${v.name}: cut at ${cuts.length > 2 ? 'every byte' : cuts.join(',')}`);
      }
    }
    t.equal(differing, 0, `${v.name}: ${input.length + 1} splits parse alike`);
  }
});

t.test('a pause on every body piece: same body, completion only after the last resume', async (t) => {
  for (const v of VALID.filter((x) => x.expect.done === true)) {
    const input = b(v.input);
    const whole = parse(input, [], { head: v.head });
    t.same(parse(input, [], { head: v.head, pauseEveryData: true }), whole, `${v.name}: paused`);
    t.same(parse(input, splits(input).at(-1)!, { head: v.head, pauseEveryData: true }), whole, `${v.name}: paused, byte by byte`);
  }
  // completion is withheld while paused on the last body byte
  let paused = true;
  const p = new ResponseParser({ onResponseHead: () => true, onResponseData: () => !paused }, 16384);
  p.reset(false);
  const input = b('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
  const at = p.execute(input, 0);
  t.equal(at, input.length, 'everything read');
  t.not(p.state, DONE, 'not complete while the sink is paused');
  paused = false;
  t.equal(p.execute(input, at), input.length, 'resumed');
  t.equal(p.state, DONE, 'complete after the resume');
});

t.test('bytes after the message are left unread (not part of this response)', async (t) => {
  for (const [message, extra] of [
    ['HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok', 'EXTRA'],
    ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n', 'HTTP/1.1 200 OK\r\n'],
    ['HTTP/1.1 204 No Content\r\n\r\n', 'stray body'],
  ] as const) {
    const input = message + extra;
    const end = message.length;
    const p = parse(b(input), []);
    t.ok(p.done, `${JSON.stringify(input.slice(0, 40))}: done`);
    t.equal(p.end, end, 'ends at the end of the message');
    for (const cuts of splits(b(input))) t.equal(parse(b(input), cuts).end, end);
  }
});

const MALFORMED: [string, string, string][] = [
  ['not HTTP at all', '\x00\x01\x02 this is not HTTP\r\n\r\n', 'HPE_INVALID_CONSTANT'],
  ['a blank line before the status line', '\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n', 'HPE_INVALID_CONSTANT'],
  ['HTTP/2.0', 'HTTP/2.0 200 OK\r\n\r\n', 'HPE_INVALID_VERSION'],
  ['HTTP/1.10', 'HTTP/1.10 200 OK\r\n\r\n', 'HPE_INVALID_VERSION'],
  ['four-digit status', 'HTTP/1.1 2000 OK\r\ncontent-length: 2\r\n\r\nok', 'HPE_INVALID_STATUS'],
  ['status 099', 'HTTP/1.1 099 X\r\n\r\n', 'HPE_INVALID_STATUS'],
  ['status 600', 'HTTP/1.1 600 X\r\n\r\n', 'HPE_INVALID_STATUS'],
  ['status with letters', 'HTTP/1.1 2O0 OK\r\n\r\n', 'HPE_INVALID_STATUS'],
  ['control character in the reason', 'HTTP/1.1 200 O\x01K\r\n\r\n', 'HPE_INVALID_STATUS'],
  ['101 without an upgrade asked for', 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n', 'HPE_PAUSED_UPGRADE'],
  ['Content-Length: twelve', 'HTTP/1.1 200 OK\r\ncontent-length: twelve\r\n\r\nhello', 'HPE_INVALID_CONTENT_LENGTH'],
  ['Content-Length: -1', 'HTTP/1.1 200 OK\r\ncontent-length: -1\r\n\r\n', 'HPE_INVALID_CONTENT_LENGTH'],
  ['Content-Length: +5', 'HTTP/1.1 200 OK\r\ncontent-length: +5\r\n\r\n', 'HPE_INVALID_CONTENT_LENGTH'],
  ['Content-Length: 1 2', 'HTTP/1.1 200 OK\r\ncontent-length: 1 2\r\n\r\n', 'HPE_INVALID_CONTENT_LENGTH'],
  ['Content-Length: 1,1', 'HTTP/1.1 200 OK\r\ncontent-length: 1,1\r\n\r\nx', 'HPE_INVALID_CONTENT_LENGTH'],
  ['empty Content-Length', 'HTTP/1.1 200 OK\r\ncontent-length: \r\n\r\n', 'HPE_INVALID_CONTENT_LENGTH'],
  ['16-digit Content-Length', 'HTTP/1.1 200 OK\r\ncontent-length: 1000000000000000\r\n\r\n', 'HPE_INVALID_CONTENT_LENGTH'],
  ['conflicting Content-Length', 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 3\r\n\r\nok!', 'HPE_UNEXPECTED_CONTENT_LENGTH'],
  ['repeated Content-Length', 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\nContent-Length: 2\r\n\r\nok', 'HPE_UNEXPECTED_CONTENT_LENGTH'],
  ['Content-Length with chunked', 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n', 'HPE_UNEXPECTED_CONTENT_LENGTH'],
  ['chunked not the last coding', 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked, gzip\r\n\r\n', 'HPE_INVALID_TRANSFER_ENCODING'],
  ['chunked twice', 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ntransfer-encoding: chunked\r\n\r\n', 'HPE_INVALID_TRANSFER_ENCODING'],
  ['a header without a colon', 'HTTP/1.1 200 OK\r\nno colon in this header\r\ncontent-length: 2\r\n\r\nok', 'HPE_INVALID_HEADER_TOKEN'],
  ['space before the colon', 'HTTP/1.1 200 OK\r\nContent-Length : 2\r\n\r\nok', 'HPE_INVALID_HEADER_TOKEN'],
  ['obs-fold', 'HTTP/1.1 200 OK\r\nX-A: b\r\n c\r\nContent-Length: 0\r\n\r\n', 'HPE_INVALID_HEADER_TOKEN'],
  ['empty header name', 'HTTP/1.1 200 OK\r\n: x\r\n\r\n', 'HPE_INVALID_HEADER_TOKEN'],
  ['control character in a value', 'HTTP/1.1 200 OK\r\nX: a\x01b\r\nContent-Length: 0\r\n\r\n', 'HPE_INVALID_HEADER_TOKEN'],
  ['NUL in a value', 'HTTP/1.1 200 OK\r\nX: a\x00b\r\nContent-Length: 0\r\n\r\n', 'HPE_INVALID_HEADER_TOKEN'],
  ['bare LF line ends', 'HTTP/1.1 200 OK\nContent-Length: 0\n\n', 'HPE_CR_EXPECTED'],
  ['bare LF ending a header', 'HTTP/1.1 200 OK\r\nX: y\nContent-Length: 0\r\n\r\n', 'HPE_CR_EXPECTED'],
  ['CR not followed by LF', 'HTTP/1.1 200 OK\rContent-Length: 0\r\n\r\n', 'HPE_LF_EXPECTED'],
  ['CR inside a value', 'HTTP/1.1 200 OK\r\nX: a\rb\r\nContent-Length: 0\r\n\r\n', 'HPE_LF_EXPECTED'],
  ['chunk size not hex', 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\nnot a chunk\r\n', 'HPE_INVALID_CHUNK_SIZE'],
  ['empty chunk size', 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n\r\n', 'HPE_INVALID_CHUNK_SIZE'],
  ['chunk size with a sign', 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n-5\r\nhello\r\n', 'HPE_INVALID_CHUNK_SIZE'],
  ['chunk size too large', 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n10000000000000\r\n', 'HPE_INVALID_CHUNK_SIZE'],
  ['space after the size without an extension', 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5 \r\nhello\r\n0\r\n\r\n', 'HPE_INVALID_CHUNK_SIZE'],
  ['chunk size line with a bare LF', 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n', 'HPE_INVALID_CHUNK_SIZE'],
  ['control character in a chunk extension', 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5;a\x01\r\nhello\r\n0\r\n\r\n', 'HPE_STRICT'],
  ['chunk data longer than its size', 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhelloXX\r\n0\r\n\r\n', 'HPE_CR_EXPECTED'],
  ['chunk data followed by CR only', 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\rX0\r\n\r\n', 'HPE_LF_EXPECTED'],
  ['a trailer without a colon', 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n0\r\nbad trailer\r\n\r\n', 'HPE_INVALID_HEADER_TOKEN'],
  ['a trailer value with a control character', 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n0\r\nT: a\x02\r\n\r\n', 'HPE_INVALID_HEADER_TOKEN'],
  ['a head past the size limit', 'HTTP/1.1 200 OK\r\nX-Big: ' + 'a'.repeat(17000) + '\r\n\r\n', 'HPE_HEADER_OVERFLOW'],
  ['trailers past the size limit', 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n0\r\nT: ' + 'a'.repeat(17000) + '\r\n\r\n', 'HPE_HEADER_OVERFLOW'],
];

/** The error code thrown, or 'none'. */
function codeOf(input: Buffer, cuts: number[]): string {
  try {
    parse(input, cuts);
    return 'none';
  } catch (err) {
    return `${(err as Error).name} ${(err as NodeJS.ErrnoException).code} ${classifyUpstreamError(err as Error)}`;
  }
}

t.test('malformed responses: HTTPParserError with the llhttp code, H17, at every split', async (t) => {
  for (const [name, input, code] of MALFORMED) {
    const buf = b(input);
    t.equal(codeOf(buf, []), `HTTPParserError ${code} H17`, name);
    const cutsList = buf.length > 1000 ? [[1], [buf.length - 1], [Math.floor(buf.length / 2)]] : splits(buf);
    const wrong = cutsList.map((c) => codeOf(buf, c)).filter((c) => c !== `HTTPParserError ${code} H17`);
    t.same(wrong, [], `${name}: the same error for ${cutsList.length} splits`);
  }
});

t.test('garbage is refused at its first byte, not after a timeout', async (t) => {
  t.match(codeOf(b('X'), []), /HPE_INVALID_CONSTANT/, 'one byte is enough');
  t.equal(codeOf(b('HTTP/1.1 200 OK\r\nX'), []), 'none', 'an incomplete but valid head waits for more');
});

t.test('the header size limit is the parser\'s option', async (t) => {
  const input = b('HTTP/1.1 200 OK\r\nX: ' + 'a'.repeat(100) + '\r\nContent-Length: 0\r\n\r\n');
  t.equal(parse(input, [], { max: 200 }).done, true, 'under the limit');
  t.throws(() => parse(input, [], { max: 100 }), { code: 'HPE_HEADER_OVERFLOW' }, 'over it');
});
