// The bus-error predicates (shared/bus/nats-errors.ts) against what a real nats-server 2.9
// throws through the @nats-io 3.x client: each case provoked for real and recognised by its
// class and API code; errors of another kind, and errors whose message only reads alike, are not.
import t from 'tap';
import { connect } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { startNatsServer } from '../../support/nats-cluster.js';
import { BusError } from '../../../shared/bus/bus-errors.js';
import {
  BusUnavailable, asBusUnavailable, isBusUnreachable, isConsumerNotFound, isWrongLastSequence,
} from '../../../shared/bus/nats-errors.js';

// a hang's bound only (the machine may be loaded): the server takes its time
t.setTimeout(600_000);

/** What `call` rejects with (an error of its own, failing the test, when it resolves). */
async function thrown(call: () => Promise<unknown>, what: string): Promise<unknown> {
  try {
    await call();
  } catch (err) {
    return err;
  }
  throw new Error(`${what}: resolved, expected an error`);
}

/** the three predicates' answers for one error */
function verdicts(err: unknown): { wrongLastSequence: boolean; consumerNotFound: boolean; busUnreachable: boolean } {
  return { wrongLastSequence: isWrongLastSequence(err), consumerNotFound: isConsumerNotFound(err), busUnreachable: isBusUnreachable(err) };
}

const NONE = { wrongLastSequence: false, consumerNotFound: false, busUnreachable: false };

t.test('each error the bus code tells apart, provoked on a real server', async (t) => {
  const nats = await startNatsServer({ t });
  const nc = await connect({ servers: nats.servers });
  const js = jetstream(nc, { timeout: 3000 });
  const jsm = await jetstreamManager(nc);
  const kv = await new Kvm(js).create('NATS_ERRORS', { history: 1 });
  const rev = await kv.create('held', 'first');

  const created = await thrown(() => kv.create('held', 'second'), 'KV create of a held key');
  t.same(verdicts(created), { ...NONE, wrongLastSequence: true }, 'KV create of a held key: wrong last sequence');
  const updated = await thrown(() => kv.update('held', 'x', rev + 10), 'KV update over a stale revision');
  t.same(verdicts(updated), { ...NONE, wrongLastSequence: true }, 'KV update over a stale revision: wrong last sequence');
  const deleted = await thrown(() => kv.delete('held', { previousSeq: rev + 10 }), 'KV delete at a stale revision');
  t.same(verdicts(deleted), { ...NONE, wrongLastSequence: true }, 'KV delete at a stale revision: wrong last sequence');

  await jsm.streams.add({ name: 'NATS_ERRORS_S', subjects: ['nats-errors.>'] });
  const noConsumer = await thrown(() => jsm.consumers.info('NATS_ERRORS_S', 'absent'), 'info of a missing consumer');
  t.same(verdicts(noConsumer), { ...NONE, consumerNotFound: true }, 'a missing consumer: consumer not found');
  const noStream = await thrown(() => jsm.streams.info('NATS_ERRORS_ABSENT'), 'info of a missing stream');
  t.same(verdicts(noStream), NONE, 'a missing stream (another API error): none of them');

  const noResponders = await thrown(() => nc.request('nobody.serves.this', '', { timeout: 3000 }), 'a request nobody serves');
  t.same(verdicts(noResponders), { ...NONE, busUnreachable: true }, 'a request nobody serves: unreachable');
  // a JetStream publish to a subject no stream holds: the client wraps the no-responders
  const orphan = await new Kvm(js).create('NATS_ERRORS_GONE');
  await jsm.streams.delete('KV_NATS_ERRORS_GONE');
  const gone = await thrown(() => orphan.put('k', 'v'), 'a KV write to a deleted bucket');
  t.same(verdicts(gone), { ...NONE, busUnreachable: true }, 'a JetStream publish nobody serves: unreachable');

  await nats.node(0).kill();
  const timedOut = await thrown(() => kv.get('held'), 'KV get while the server is away');
  t.same(verdicts(timedOut), { ...NONE, busUnreachable: true }, 'the server away (a timeout): unreachable');
  const wrapped = asBusUnavailable(timedOut);
  t.ok(wrapped instanceof BusUnavailable, 'wrapped as BusUnavailable');
  t.match(wrapped, { code: 'E_BUS_UNAVAILABLE', message: (timedOut as Error).message, cause: timedOut });

  await nc.close();
  const closed = await thrown(() => kv.get('held'), 'KV get on a closed connection');
  t.same(verdicts(closed), { ...NONE, busUnreachable: true }, 'a closed connection: unreachable');
});

t.test('errors of another kind, and messages that only read alike, are none of them', async (t) => {
  const alike = new Error('wrong last sequence: 1; consumer not found; timeout; no responders; closed connection');
  t.same(verdicts(alike), NONE, 'a plain Error with every message text');
  t.same(verdicts(new BusError('E_BUS_OVERFLOW', 'outbox full')), NONE, 'another bus error');
  t.same(verdicts(new BusError('E_BUS_CLOSED', 'bus connection closed')), { ...NONE, busUnreachable: true }, 'our own connection closed: unreachable');
  t.same(verdicts(null), NONE, 'null');
  t.equal(asBusUnavailable(alike), alike, 'an error that is not the bus away passes through asBusUnavailable as it is');
});
