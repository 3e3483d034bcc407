// examples/schema/*.schema.json (the editor JSON Schemas of both config documents) are rendered
// from the TypeBox schemas the programs validate with; they must be what the current build
// renders (refresh: `npm run build && node test/deploy/render-json-schemas.mjs --write`), and
// say of real documents what the programs say.
import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { ROOT } from '../support/router-harness.js';
import { renderSchemas, SCHEMA_FILES } from './render-json-schemas.mjs';
import { jsonSchemaProblems } from './json-schema-check.js';

const committed = (file: string): any => JSON.parse(readFileSync(join(ROOT, file), 'utf8'));
const configMaps = readdirSync(join(ROOT, 'deploy')).filter((f) => f.endsWith('.yaml'))
  .flatMap((f) => parseAllDocuments(readFileSync(join(ROOT, 'deploy', f), 'utf8')).map((d) => d.toJS()))
  .filter((d) => d.kind === 'ConfigMap');

t.test('the committed schema files are what the current build renders', async (t) => {
  const rendered = await renderSchemas();
  for (const [file, text] of Object.entries(rendered)) {
    t.equal(readFileSync(join(ROOT, file), 'utf8'), text,
      `${file} is up to date (else: npm run build && node test/deploy/render-json-schemas.mjs --write)`);
  }
});

t.test('router schema: the example and the Kubernetes config are valid; mistakes are named', async (t) => {
  const schema = committed(SCHEMA_FILES.router);
  t.equal(schema.$schema, 'http://json-schema.org/draft-07/schema#');
  t.same(schema.properties.timeouts.properties.connectMs.default, 5000);
  t.same(schema.properties.listen.properties.admin.default, { host: '127.0.0.1', port: 9090 });
  const example = committed('examples/router.json');
  t.same(jsonSchemaProblems(schema, example), [], 'examples/router.json');
  t.same(jsonSchemaProblems(schema, { ...example, $schema: '../examples/schema/router.schema.json' }), [], 'a config may name the schema');
  t.same(jsonSchemaProblems(schema, JSON.parse(configMaps.find((c) => c.data['router.json']).data['router.json'])), [], 'deploy ConfigMap');
  const bad = structuredClone(example);
  bad.bogus = 1;
  bad.apps['api-prod'].canary.weight = 101;
  bad.apps['api-prod'].dynos.push('no-port');
  delete bad.domain;
  t.same(jsonSchemaProblems(schema, bad).sort(), [
    '(document).apps.api-prod.canary.weight: above 100',
    '(document).apps.api-prod.dynos[2]: does not match ^(\\[[0-9A-Fa-f:.]+\\]|[A-Za-z0-9.-]+):[0-9]{1,5}$',
    '(document).bogus: unknown key',
    '(document).domain: required',
  ]);
});

t.test('log shuttle schema: the example and the Kubernetes config are valid; mistakes are named', async (t) => {
  const schema = committed(SCHEMA_FILES.logshuttle);
  t.equal(schema.properties.history.default, 1500);
  t.equal(schema.properties.drainBuffer.default, 1024);
  const example = committed('examples/logshuttle.json');
  t.same(jsonSchemaProblems(schema, example), [], 'examples/logshuttle.json');
  t.same(jsonSchemaProblems(schema, JSON.parse(configMaps.find((c) => c.data['logshuttle.json']).data['logshuttle.json'])), [], 'deploy ConfigMap');
  t.same(jsonSchemaProblems(schema, { ...example, history: 0, listen: { http: { host: 'x' } } }).sort(), [
    '(document).history: below 1',
    '(document).listen.http.port: required',
  ]);
});
