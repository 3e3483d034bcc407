import t from 'tap';
import type { HerokuCodeName } from '../../../router/front/heroku-codes.js';
import { Dyno } from '../../../router/upstream/dyno.js';
import { RoundRobin } from '../../../router/upstream/round-robin.js';
import {
  afterBrokenResponse, afterFailedAttempt, EJECT_BASE_MS, EJECT_MAX_MS, ejectionMs, nextDyno, type AttemptState, type RotationDyno,
} from '../../../router/upstream/dyno-attempts.js';

/*
 * The dyno-attempt policy (router/upstream/dyno-attempts.ts) that the HTTP exchange and the
 * WebSocket handshake share: which dyno next, retry or not, eject or not. Against a fake pool:
 * dynos that remember what the policy did to them, and scripted attempts.
 */

/** A dyno of the fake pool: ejected until a time the test can read; counts fail/succeed calls. */
class FakeDyno implements RotationDyno {
  ejectedUntil = 0;
  fails = 0;
  successes = 0;
  constructor(readonly name: string) {}
  isEjected(now: number): boolean {
    return this.ejectedUntil > now;
  }
  fail(now: number): void {
    this.fails++;
    this.ejectedUntil = now + 1000;
  }
  succeed(): void {
    this.successes++;
    this.ejectedUntil = 0;
  }
}

const pool = (n: number): FakeDyno[] => Array.from({ length: n }, (_, i) => new FakeDyno(`d${i}`));
const fresh = (): AttemptState => ({ tried: 0, triedMore: null, retried: false, lastCode: 'H10' });

/** One request through the policy, as the exchange drives it: each attempt's outcome scripted per dyno. */
function run(rr: RoundRobin<FakeDyno>, outcome: (d: FakeDyno) => HerokuCodeName | 'ok', method = 'GET', body: 'none' | 'untouched' | 'touched' = 'none',
  now = 0): { tried: string[]; answer: HerokuCodeName | 'ok' } {
  const state = fresh();
  const tried: string[] = [];
  for (;;) {
    const d = nextDyno(state, rr, now);
    if (d === null) return { tried, answer: state.lastCode };
    tried.push(d.name);
    const o = outcome(d);
    if (o === 'ok') {
      d.succeed();
      return { tried, answer: 'ok' };
    }
    const answer = afterFailedAttempt(state, d, o, method, body === 'none', body === 'touched', now);
    if (answer !== null) return { tried, answer };
  }
}

t.test('round robin: in turn, skipping ejected dynos, never all of them out', async (t) => {
  const ds = pool(3);
  const rr = new RoundRobin(ds);
  const names = (k: number, now = 0): string[] => Array.from({ length: k }, () => ds[rr.pick(0, now, null)].name);
  t.same(names(4), ['d0', 'd1', 'd2', 'd0']);
  ds[1].ejectedUntil = 5000;
  t.same(names(3, 100), ['d2', 'd0', 'd2'], 'd1 skipped while ejected');
  t.same(names(3, 6000), ['d0', 'd1', 'd2'], 'back in rotation once its time is over');
  for (const d of ds) d.ejectedUntil = 5000;
  const i = rr.pick(0, 100, null);
  t.ok(i >= 0, 'every dyno ejected: one is still picked (a dyno that might work beats a certain 503)');
  t.equal(new RoundRobin<FakeDyno>([]).pick(0, 0, null), -1, 'no dynos: none');
});

t.test('nextDyno marks what it tried; none left: null; beyond 31 dynos too', async (t) => {
  const ds = pool(40);
  const rr = new RoundRobin(ds);
  const state = fresh();
  const seen = new Set<string>();
  for (let k = 0; k < 40; k++) {
    const d = nextDyno(state, rr, 0);
    t.not(d, null);
    seen.add(d!.name);
  }
  t.equal(seen.size, 40, 'each dyno once');
  t.equal(state.triedMore?.size, 9, 'dynos 31..39 in the overflow set');
  t.equal(nextDyno(state, rr, 0), null, 'all tried');
});

t.test('connect refused or timed out: the next dyno, the dyno ejected; all refused: the worst code', async (t) => {
  const ds = pool(3);
  const rr = new RoundRobin(ds);
  const r = run(rr, (d) => (d.name === 'd1' ? 'H19' : 'H10'));
  t.same(r.tried, ['d0', 'd1', 'd2'], 'every dyno tried once');
  t.equal(r.answer, 'H19', 'a connect timeout stays the answer once seen');
  t.same(ds.map((d) => d.fails), [1, 1, 1], 'each ejected');

  const later = run(new RoundRobin(pool(2)), (d) => (d.name === 'd0' ? 'H10' : 'ok'), 'POST', 'untouched');
  t.same(later, { tried: ['d0', 'd1'], answer: 'ok' }, 'a request with a body, none of it sent yet: also the next dyno');
});

t.test('a body already handed to the attempt: never sent again', async (t) => {
  const ds = pool(2);
  const r = run(new RoundRobin(ds), () => 'H10', 'POST', 'touched');
  t.same(r, { tried: ['d0'], answer: 'H10' });
  t.equal(ds[0].fails, 0, 'not blamed on the dyno either');
});

t.test('connection closed before a response (H13): one retry for an idempotent bodyless request only', async (t) => {
  const ds = pool(3);
  const get = run(new RoundRobin(ds), () => 'H13', 'GET');
  t.same(get, { tried: ['d0', 'd1'], answer: 'H13' }, 'GET: tried once more, on another dyno, then H13');
  t.same(ds.map((d) => d.fails), [1, 1, 0], 'both dynos ejected');

  for (const method of ['HEAD', 'OPTIONS', 'PUT', 'DELETE']) {
    t.equal(run(new RoundRobin(pool(3)), () => 'H13', method).tried.length, 2, `${method} retried once`);
  }
  t.same(run(new RoundRobin(pool(3)), () => 'H13', 'POST'), { tried: ['d0'], answer: 'H13' }, 'POST: not retried');
  t.same(run(new RoundRobin(pool(3)), () => 'H13', 'PUT', 'untouched'), { tried: ['d0'], answer: 'H13' }, 'a request with a body: not retried');
  t.same(run(new RoundRobin(pool(3)), (d) => (d.name === 'd0' ? 'H13' : 'ok'), 'GET'), { tried: ['d0', 'd1'], answer: 'ok' }, 'the retry succeeds');
  t.same(run(new RoundRobin(pool(1)), () => 'H13', 'GET'), { tried: ['d0'], answer: 'H13' }, 'one dyno: nothing else to try');
});

t.test('refused, then closed, then served: the whole sequence of one GET', async (t) => {
  const ds = pool(3);
  const r = run(new RoundRobin(ds), (d) => (d.name === 'd0' ? 'H10' : d.name === 'd1' ? 'H13' : 'ok'));
  t.same(r, { tried: ['d0', 'd1', 'd2'], answer: 'ok' });
  t.same(ds.map((d) => [d.fails, d.successes]), [[1, 0], [1, 0], [0, 1]]);
});

t.test('a timeout waiting for the response or a malformed response: answered at once', async (t) => {
  const ds = pool(3);
  const rr = new RoundRobin(ds);
  t.same(run(rr, () => 'H12'), { tried: ['d0'], answer: 'H12' });
  t.equal(ds[0].fails, 0, 'H12: a slow dyno is not ejected');
  t.same(run(rr, () => 'H17'), { tried: ['d1'], answer: 'H17' }, 'the next request: the next dyno');
  t.equal(ds[1].fails, 1, 'H17: ejected');
});

t.test('after the response head: never retried; ejection for the dyno\'s own failures', async (t) => {
  const d = new FakeDyno('d0');
  t.equal(afterBrokenResponse(d, 'H12', 0), 'H15', 'the first-byte timer firing in the body is an idle response');
  t.equal(afterBrokenResponse(d, 'H15', 0), 'H15');
  t.equal(d.fails, 0, 'idle: not ejected');
  t.equal(afterBrokenResponse(d, 'H13', 0), 'H13');
  t.equal(afterBrokenResponse(d, 'H17', 0), 'H17');
  t.equal(d.fails, 2, 'closed or malformed mid-body: ejected');
});

t.test('a real Dyno\'s ejection: doubling from 1 s up to 30 s, reset by a success', async (t) => {
  const d = new Dyno('127.0.0.1:9', 1000);
  t.teardown(() => d.close());
  t.same([1, 2, 3, 5, 6, 7, 16].map(ejectionMs), [EJECT_BASE_MS, 2000, 4000, 16000, EJECT_MAX_MS, EJECT_MAX_MS, EJECT_MAX_MS]);
  d.fail(0);
  t.ok(d.isEjected(999) && !d.isEjected(1000), 'out for 1 s');
  d.fail(1000);
  t.ok(d.isEjected(2999) && !d.isEjected(3000), 'then 2 s');
  d.succeed();
  t.notOk(d.isEjected(1001), 'a success puts it back at once');
  d.fail(5000);
  t.ok(d.isEjected(5999) && !d.isEjected(6000), 'and the backoff starts over');
});
