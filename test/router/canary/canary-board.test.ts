// The board and the view on one thread: apply() semantics, snapshot shape, what counts as an
// error, slot recycling and growth, the config helpers and the abort line.
import t from 'tap';
import { Value } from '@sinclair/typebox/value';
import { CanaryBoard } from '../../../router/canary/canary-board.js';
import { CanaryView, type CanaryAbortEvent } from '../../../router/canary/canary-view.js';
import { formatCanaryAbortLine } from '../../../router/canary/abort-line.js';
import { CanaryDefSchema, canariesFromApps } from '../../../router/canary/canary-schema.js';
import type { CanaryConfig, CanaryStatuses } from '../../../router/canary/canary-config.js';

function canary(prodApp: string, weight = 10, minRequests = 200, statuses: CanaryStatuses = '5xx', canaryApp = `${prodApp}-canary`): CanaryConfig {
  return { prodApp, canaryApp, weight, abort: { minRequests, confidence: 0.99, statuses } };
}

const T0 = Date.parse('2026-11-25T10:00:00.000Z');

t.test('snapshot: the GET /canaries shape', async (t) => {
  let now = T0;
  const board = new CanaryBoard({ now: () => now });
  const view = new CanaryView(board.apply([canary('api')]));
  const slot = view.slotOf('api');
  view.record(slot, 'canary', 200);
  view.record(slot, 'canary', 502);
  view.record(slot, 'production', 200);
  view.record(slot, 'production', 200);
  view.record(slot, 'production', 200);
  view.record(slot, 'production', 500);
  now += 5000;
  t.same(board.snapshot(), [{
    app: 'api', canary: 'api-canary', state: 'active',
    counts: { canary: { requests: 2, errors: 1 }, production: { requests: 4, errors: 1 } },
    rates: { canary: 0.5, production: 0.25 },
    since: '2026-11-25T10:00:00.000Z',
  }]);
  t.same(JSON.parse(JSON.stringify(board.snapshot())), board.snapshot(), 'plain JSON');
  t.equal(view.slotOf('nope'), -1);
});

t.test('what counts as an error', async (t) => {
  const board = new CanaryBoard();
  const view = new CanaryView(board.apply([canary('a', 10, 1e9, '5xx'), canary('b', 10, 1e9, '4xx+5xx')]));
  for (const app of ['a', 'b']) {
    const s = view.slotOf(app);
    for (const status of [200, 302, 404, 429, 499, 500, 503]) view.record(s, 'canary', status);
    view.record(s, 'canary', 200, true); // an H-code failure (e.g. H15 after a 200 began)
  }
  const [a, b] = board.snapshot();
  t.equal(a.counts.canary.requests, 8);
  t.equal(a.counts.canary.errors, 3, '5xx: 500, 503, the H-code failure');
  t.equal(b.counts.canary.errors, 5, '4xx+5xx: also 404 and 429; never 499 (client went away)');
});

t.test('apply(): unchanged keeps counts, changed starts fresh, removed disappears', async (t) => {
  let now = T0;
  const board = new CanaryBoard({ now: () => now });
  let view = new CanaryView(board.apply([canary('a'), canary('b'), canary('c'), canary('d'), canary('e')]));
  for (const app of ['a', 'b', 'c', 'd', 'e']) for (let i = 0; i < 3; i++) view.record(view.slotOf(app), 'production', 200);
  now += 60_000;
  const d2 = board.apply([
    canary('a'), // unchanged
    canary('b', 20), // weight
    canary('c', 10, 200, '5xx', 'other-canary'), // app
    canary('d', 10, 300), // abort settings
    { ...canary('e'), abort: { minRequests: 200, confidence: 0.95, statuses: '5xx' } },
    canary('f'), // new
  ]);
  t.equal(d2.generation, 2);
  view = new CanaryView(d2);
  const snap = board.snapshot();
  t.same(snap.map((s) => [s.app, s.counts.production.requests]), [['a', 3], ['b', 0], ['c', 0], ['d', 0], ['e', 0], ['f', 0]]);
  t.equal(snap[0].since, new Date(T0).toISOString(), 'unchanged keeps its since');
  t.equal(snap[1].since, new Date(T0 + 60_000).toISOString(), 'changed starts a new since');
  t.equal(snap[2].canary, 'other-canary');
  board.apply([canary('b', 20)]);
  t.same(board.snapshot().map((s) => s.app), ['b'], 'removed canaries are gone');
  board.apply([canary('b', 20), canary('a')]);
  t.equal(board.snapshot()[1].counts.production.requests, 0, 'a canary removed then re-added starts fresh');
});

t.test('aborted stays aborted until the config changes it; the event and the line', async (t) => {
  const board = new CanaryBoard();
  const events: CanaryAbortEvent[] = [];
  const d1 = board.apply([canary('api', 10, 20)]);
  const view = new CanaryView(d1, { onAbort: (e) => events.push(e) });
  const slot = view.slotOf('api');
  for (let i = 0; i < 180; i++) view.record(slot, 'production', i % 90 === 0 ? 500 : 200);
  let won = 0;
  for (let i = 0; i < 40; i++) if (view.record(slot, 'canary', 500)) won++;
  t.equal(won, 1);
  t.equal(events.length, 1);
  t.same(events[0].counts, { canary: { requests: 20, errors: 20 }, production: { requests: 180, errors: 2 } });
  t.equal(view.pick(slot), false);
  const aborted = board.snapshot()[0];
  t.equal(aborted.state, 'aborted');
  t.equal(aborted.since, new Date(events[0].time).toISOString());
  t.same(aborted.counts, events[0].counts, 'records after the abort do not count');

  t.equal(formatCanaryAbortLine(events[0]),
    'at=error code=canary_abort desc="Canary aborted" app=api canary=api-canary canary_requests=20 canary_errors=20'
    + ' canary_rate=1.0000 production_requests=180 production_errors=2 production_rate=0.0111 weight=10 confidence=0.99');

  const again = new CanaryView(board.apply([canary('api', 10, 20)]));
  t.equal(again.pick(slot), false, 'same config: still aborted');
  t.same(board.snapshot()[0], aborted);
  const changed = new CanaryView(board.apply([canary('api', 10, 25)]));
  t.equal(board.snapshot()[0].state, 'active');
  let picks = 0;
  for (let i = 0; i < 1000; i++) if (changed.pick(changed.slotOf('api'))) picks++;
  t.ok(picks > 50, `changed config: traffic again (${picks} of 1000)`);
});

t.test('slot recycling: never by the same config, oldest first, and old views are ignored', async (t) => {
  const board = new CanaryBoard({ capacity: 2 });
  const old = new CanaryView(board.apply([canary('a'), canary('b')]), { seed: 1 });
  const slotA = old.slotOf('a');
  const d2 = board.apply([canary('a', 50), canary('b')]);
  t.equal(d2.capacity, 4, 'full board: grows rather than reuse a slot the same config gave up');
  const slotA2 = new CanaryView(d2).slotOf('a');
  t.not(slotA2, slotA);
  board.apply([canary('b')]); // gives up a's second slot
  const v4 = new CanaryView(board.apply([canary('b'), canary('c'), canary('d')]));
  t.equal(v4.slotOf('c'), 3, 'a never-used slot first');
  t.equal(v4.slotOf('d'), slotA, 'then the slot given up longest ago');
  t.equal(board.description().capacity, 4, 'no growth while old slots are free');

  old.record(slotA, 'canary', 500);
  let picks = 0;
  for (let i = 0; i < 100; i++) if (old.pick(slotA)) picks++;
  t.equal(picks, 0, 'an old view sends nothing to a canary whose config changed');
  const dCounts = () => board.snapshot().find((x) => x.app === 'd')!.counts.canary;
  t.same(dCounts(), { requests: 0, errors: 0 }, 'nor counts into the slot\'s new canary');
  v4.record(slotA, 'canary', 500);
  t.same(dCounts(), { requests: 1, errors: 1 });
});

t.test('the board grows and keeps counts', async (t) => {
  const board = new CanaryBoard({ capacity: 1 });
  const d1 = board.apply([canary('a')]);
  const v1 = new CanaryView(d1);
  v1.record(0, 'production', 500);
  const d2 = board.apply([canary('a'), canary('b'), canary('c')]);
  t.ok(d2.capacity >= 3);
  t.not(d2.sab, d1.sab);
  const v2 = new CanaryView(d2);
  v2.record(v2.slotOf('c'), 'canary', 200);
  const snap = board.snapshot();
  t.same(snap[0].counts.production, { requests: 1, errors: 1 });
  t.same(snap[2].counts.canary, { requests: 1, errors: 0 });
});

t.test('two canaries on one prodApp is an E_CANARY_CONFIG error', async (t) => {
  const board = new CanaryBoard();
  t.throws(() => board.apply([canary('a'), canary('a', 20)]), { code: 'E_CANARY_CONFIG' });
});

t.test('the description is structured-cloneable', async (t) => {
  const board = new CanaryBoard();
  const d = board.apply([canary('a')]);
  const copy = structuredClone(d);
  t.same(copy.canaries, d.canaries);
  new CanaryView(copy).record(0, 'canary', 200);
  t.equal(board.snapshot()[0].counts.canary.requests, 1, 'the clone shares the memory');
});

t.test('config: schema and normalisation', async (t) => {
  t.ok(Value.Check(CanaryDefSchema, { app: 'api-canary', weight: 10, abort: { minRequests: 200, confidence: 0.99, statuses: '5xx' } }));
  t.ok(Value.Check(CanaryDefSchema, { app: 'api-canary', weight: 0 }));
  t.notOk(Value.Check(CanaryDefSchema, { app: 'api-canary', weight: 101 }));
  t.notOk(Value.Check(CanaryDefSchema, { app: 'api-canary', weight: 10, sticky: true }), 'unknown key');
  t.notOk(Value.Check(CanaryDefSchema, { app: 'x', weight: 10, abort: { statuses: '4xx' } }));
  t.notOk(Value.Check(CanaryDefSchema, { app: 'x', weight: 10, abort: { confidence: 1 } }));
  const { canaries, problems } = canariesFromApps({
    'api-prod': { canary: { app: 'api-canary', weight: 10 } },
    'api-canary': {},
    'ui-prod': { canary: { app: 'nope', weight: 5 } },
    'self': { canary: { app: 'self', weight: 5 } },
    'chain': { canary: { app: 'api-prod', weight: 5 } },
  });
  t.same(canaries, [{ prodApp: 'api-prod', canaryApp: 'api-canary', weight: 10, abort: { minRequests: 200, confidence: 0.99, statuses: '5xx' } }]);
  t.same(problems, [
    'apps.ui-prod.canary.app: no app named "nope"',
    'apps.self.canary.app: an app cannot be its own canary',
    'apps.chain.canary.app: "api-prod" has a canary of its own; a canary cannot have one',
  ]);
});
