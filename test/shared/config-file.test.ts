import t from 'tap';
import { Type } from '@sinclair/typebox';
import { schemaProblems } from '../../shared/config-file.js';

const Schema = Type.Object({
  apps: Type.Record(Type.String(), Type.Object({ dynos: Type.Array(Type.String()) }, { additionalProperties: false })),
}, { additionalProperties: false });

t.test('field names: indexes from arrays, keys from objects, odd keys quoted', async (t) => {
  const problems = schemaProblems(Schema, {
    apps: {
      '1': { dynos: ['a', 2] },
      'api-prod': { dynos: [], colour: 'red' },
      '': { dynos: [] , x: 1 },
      'a b': { dynos: 'no' },
    },
  });
  t.ok(problems.includes('apps.1.dynos[1]: expected string'), problems.join('\n'));
  t.ok(problems.includes('apps.api-prod.colour: unknown key'), problems.join('\n'));
  t.ok(problems.includes('apps[""].x: unknown key'), problems.join('\n'));
  t.ok(problems.includes('apps["a b"].dynos: expected array'), problems.join('\n'));
});
