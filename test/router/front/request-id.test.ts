import t from 'tap';
import { randomUUID } from 'node:crypto';
import { acceptRequestId, newRequestId } from '../../../router/front/request-id.js';

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

t.test('generated request ids are random version 4 UUIDs, as randomUUID makes them', async (t) => {
  t.match(randomUUID(), UUID_V4, 'the pattern fits randomUUID itself');
  const ids = Array.from({ length: 5000 }, () => newRequestId()); // past several random batches
  t.same(ids.filter((id) => !UUID_V4.test(id)), [], 'every id is a v4 UUID');
  t.equal(new Set(ids).size, ids.length, 'no id twice');
  // every hex digit shows up in every free position over many ids (not a fixed or half-filled pattern)
  const free = [...Array(36).keys()].filter((i) => ![8, 13, 14, 18, 19, 23].includes(i));
  const stuck = free.filter((i) => new Set(ids.map((id) => id[i])).size < 16);
  t.same(stuck, [], 'each random position takes all 16 digits');
});

t.test('a client X-Request-Id is kept when acceptable, else replaced', async (t) => {
  t.equal(acceptRequestId('abc-123_x.y:z+/='), 'abc-123_x.y:z+/=');
  t.match(acceptRequestId(''), UUID_V4, 'none sent');
  t.match(acceptRequestId('has space'), UUID_V4);
  t.match(acceptRequestId('x'.repeat(201)), UUID_V4, 'too long');
  t.equal(acceptRequestId('x'.repeat(200)), 'x'.repeat(200));
});
