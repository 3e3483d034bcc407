// One parser serves every response of a keep-alive connection, reusing the header lines it
// remembers from earlier heads. Whatever came before on the connection (the same head, a
// head differing by one byte, an interim response, a HEAD request, an error, a head cut across
// reads), each response must parse exactly as a fresh parser parses it.
import t from 'tap';
import { DONE, ResponseParser, type ResponseSink } from '../../../../router/upstream/h1/response-parser.js';

interface Parsed {
  status: number;
  text: string;
  headers: string[];
  body: string;
  done: boolean;
  keepAlive: boolean;
  hintMs: number;
  error: string;
}

let current: Parsed;
const sink: ResponseSink = {
  onResponseHead(status, raw, text) {
    current.status = status;
    current.text = text;
    current.headers = raw.map((x) => x.toString('latin1'));
    return true;
  },
  onResponseData(chunk) {
    current.body += chunk.toString('latin1');
    return true;
  },
};

/** One response through `p` (reset first), cut at `cut` when given. */
function run(p: ResponseParser, input: string, head: boolean, cut = -1): Parsed {
  current = { status: 0, text: '', headers: [], body: '', done: false, keepAlive: true, hintMs: -1, error: '' };
  p.reset(head);
  const bytes = Buffer.from(input, 'latin1');
  const pieces = cut > 0 && cut < bytes.length ? [bytes.subarray(0, cut), bytes.subarray(cut)] : [bytes];
  try {
    for (const piece of pieces) {
      p.execute(piece, 0);
      if (p.state === DONE) break;
    }
  } catch (err) {
    current.error = (err as { code?: string }).code ?? String(err);
  }
  current.done = p.state === DONE;
  current.keepAlive = p.keepAlive;
  current.hintMs = p.keepAliveHintMs;
  return current;
}

const fresh = (input: string, head: boolean): Parsed => run(new ResponseParser(sink, 16384), input, head);

const A = 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nDate: Mon, 07 Dec 2026 21:00:00 GMT\r\nContent-Length: 5\r\n\r\nhello';
const steps: { name: string; input: string; head?: boolean; cut?: number }[] = [
  { name: 'first response', input: A },
  { name: 'the same head again', input: A },
  { name: 'the same head, a different body of the same length', input: A.replace('hello', 'world') },
  { name: 'the same head for a HEAD request (no body)', input: A.slice(0, -5), head: true },
  { name: 'the same head again after HEAD', input: A },
  { name: 'one byte of the Date differs', input: A.replace(':00 GMT', ':01 GMT') },
  { name: 'Content-Length differs', input: 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nDate: Mon, 07 Dec 2026 21:00:01 GMT\r\nContent-Length: 6\r\n\r\nhello!' },
  { name: 'back to a kept head', input: 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nDate: Mon, 07 Dec 2026 21:00:01 GMT\r\nContent-Length: 6\r\n\r\nhello!' },
  { name: 'the kept head cut across two reads', input: 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nDate: Mon, 07 Dec 2026 21:00:01 GMT\r\nContent-Length: 6\r\n\r\nhello!', cut: 30 },
  { name: 'an interim response, then the kept head', input: 'HTTP/1.1 100 Continue\r\nX-Interim: 1\r\n\r\nHTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nDate: Mon, 07 Dec 2026 21:00:01 GMT\r\nContent-Length: 6\r\n\r\nhello!' },
  { name: 'the head again after the interim one', input: 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nDate: Mon, 07 Dec 2026 21:00:01 GMT\r\nContent-Length: 6\r\n\r\nhello!' },
  { name: 'status and reason differ', input: 'HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nDate: Mon, 07 Dec 2026 21:00:01 GMT\r\nContent-Length: 6\r\n\r\nnope!!' },
  { name: 'chunked', input: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nKeep-Alive: timeout=9\r\n\r\n3\r\nabc\r\n0\r\n\r\n' },
  { name: 'chunked again (the kept head)', input: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nKeep-Alive: timeout=9\r\n\r\n5\r\nabcde\r\n2\r\nfg\r\n0\r\n\r\n' },
  { name: 'a 204 after chunked', input: 'HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n' },
  { name: 'the 204 again', input: 'HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n' },
  { name: 'a malformed head', input: 'HTTP/1.1 200 OK\r\nBad Header: x\r\nContent-Length: 1\r\n\r\nx' },
  { name: 'the first head after the error', input: A },
  { name: 'and again', input: A },
  { name: 'the same head with one header value changed, same length', input: A.replace('text/plain', 'text/plaim') },
  { name: 'the original head once more', input: A },
];

t.test('a long-lived parser parses every response as a fresh one does', async (t) => {
  const p = new ResponseParser(sink, 16384);
  for (const s of steps) {
    const want = fresh(s.input, s.head === true);
    const got = run(p, s.input, s.head === true, s.cut);
    t.same(got, want, s.name);
  }
});

t.test('heads that keep changing: the parser stops keeping them and still parses each one right', async (t) => {
  const p = new ResponseParser(sink, 16384);
  for (let i = 0; i < 40; i++) {
    // every head differs (a cookie), then from time to time the same one twice
    const id = i % 5 === 0 ? 'same' : `id${i}`;
    const input = `HTTP/1.1 200 OK\r\nSet-Cookie: s=${id}\r\nContent-Length: 2\r\n\r\n${String(i).padStart(2, '0')}`;
    t.same(run(p, input, false), fresh(input, false), `response ${i}`);
  }
});
