// The `bus` config section: validated with the rest of a document, defaults applied.
import t from 'tap';
import { Type } from '@sinclair/typebox';
import { schemaProblems } from '../../../shared/config-file.js';
import { BusConfigSchema, resolveBusConfig, busNames } from '../../../shared/bus/bus-config.js';

const Doc = Type.Object({ bus: Type.Optional(BusConfigSchema) }, { additionalProperties: false });

t.test('the section of DESIGN.md is valid as written', async (t) => {
  const bus = { servers: ['nats://10.0.0.5:4222', 'nats://10.0.0.6:4222'], stream: 'EDGEPLANE_LOGS', partitions: 16, replicas: 3, max_age_s: 3600, credentials: null };
  t.same(schemaProblems(Doc, { bus }), []);
  t.same(resolveBusConfig(bus), { ...bus, outbox: 100000 });
  t.ok(Object.isFrozen(resolveBusConfig(bus)));
});

t.test('defaults', async (t) => {
  t.same(resolveBusConfig({ servers: ['nats://127.0.0.1:4222'] }), {
    servers: ['nats://127.0.0.1:4222'], stream: 'EDGEPLANE_LOGS', partitions: 16, replicas: 3, max_age_s: 3600, credentials: null, outbox: 100000,
  });
  t.same(busNames('S'), { stream: 'S', history: 'S_HIST', leases: 'S_LEASES', drains: 'S_DRAINS' });
});

t.test('bad values are named', async (t) => {
  const problems = schemaProblems(Doc, { bus: { servers: [], stream: 'a.b', partitions: 0, replicas: 9, outbox: 0, extra: 1 } });
  for (const field of ['bus.servers', 'bus.stream', 'bus.partitions', 'bus.replicas', 'bus.outbox', 'bus.extra']) {
    t.ok(problems.some((p) => p.startsWith(`${field}:`)), `${field} named: ${problems.join('; ')}`);
  }
  t.ok(schemaProblems(Doc, { bus: { stream: 'X' } }).some((p) => p.startsWith('bus.servers')), 'servers required');
});
