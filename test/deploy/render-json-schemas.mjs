// Renders the editor JSON Schemas of both config documents from the TypeBox schemas the programs
// validate with (dist/, after `npm run build`): TypeBox schemas are JSON Schema, so this is
// JSON.stringify plus a header and the `default` of each field whose default the code exports.
//
//   npm run build && node test/deploy/render-json-schemas.mjs --write   # refresh examples/schema/
//
// test/deploy/json-schema.test.ts renders them again and fails when the committed files differ.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DRAFT = 'http://json-schema.org/draft-07/schema#';

export const SCHEMA_FILES = {
  router: 'examples/schema/router.schema.json',
  logshuttle: 'examples/schema/logshuttle.schema.json',
};

/** A plain-JSON copy of a TypeBox schema (its symbol keys dropped). */
const plain = (schema) => JSON.parse(JSON.stringify(schema));

/** The node at `path` (property names; `*` = the only patternProperties entry). Throws if absent. */
function at(schema, path) {
  let node = schema;
  for (const key of path) {
    if (key === '*') {
      const values = Object.values(node.patternProperties ?? {});
      if (values.length !== 1) throw new Error(`no single patternProperties at ${path.join('.')}`);
      node = values[0];
    } else {
      node = node.properties?.[key];
    }
    if (node === undefined) throw new Error(`no field ${path.join('.')} in the schema`);
  }
  return node;
}

/** `DEFAULT_DRAIN_BUFFER` -> `drainBuffer` */
const fieldOf = (constant) => constant.slice('DEFAULT_'.length).toLowerCase().replace(/_([a-z])/g, (_m, c) => c.toUpperCase());

function withHeader(title, description, schema) {
  const { $schema: _ignored, ...rest } = schema;
  return { $schema: DRAFT, title, description, ...rest };
}

export async function renderSchemas() {
  const router = await import(new URL('dist/router/config/schema.js', `file://${ROOT}`).href);
  const canary = await import(new URL('dist/router/canary/canary-config.js', `file://${ROOT}`).href);
  const shuttle = await import(new URL('dist/logshuttle/config/schema.js', `file://${ROOT}`).href);

  const r = plain(router.RouterConfigSchema);
  const d = router.DEFAULTS;
  for (const f of ['connectMs', 'firstByteMs', 'idleMs']) at(r, ['timeouts', f]).default = d[f];
  at(r, ['limits', 'maxBodyBytes']).default = d.maxBodyBytes;
  at(r, ['shutdownMs']).default = d.shutdownMs;
  at(r, ['listen', 'admin']).default = { ...d.admin };
  for (const [f, v] of Object.entries(canary.DEFAULT_ABORT)) at(r, ['apps', '*', 'canary', 'abort', f]).default = v;
  const routerDoc = withHeader('Edgeplane router configuration',
    'node dist/router/main.js --config FILE, and PUT /config on the admin listener. Unknown keys are errors. See docs/router/configuration.md.', r);
  // a config may name this schema for editors: "$schema": "…/router.schema.json"
  routerDoc.properties = { $schema: { type: 'string', description: 'this schema, for editors (ignored by the router)' }, ...routerDoc.properties };

  const s = plain(shuttle.ShuttleConfigSchema);
  for (const [name, value] of Object.entries(shuttle)) {
    if (name.startsWith('DEFAULT_') && typeof value === 'number') at(s, [fieldOf(name)]).default = value;
  }
  const shuttleDoc = withHeader('Edgeplane log shuttle configuration',
    'node dist/logshuttle/main.js --config FILE. Unknown keys are errors. See docs/logshuttle/configuration.md.', s);

  return {
    [SCHEMA_FILES.router]: JSON.stringify(routerDoc, null, 2) + '\n',
    [SCHEMA_FILES.logshuttle]: JSON.stringify(shuttleDoc, null, 2) + '\n',
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const files = await renderSchemas();
  for (const [file, text] of Object.entries(files)) {
    const path = new URL(file, `file://${ROOT}`);
    let old = '';
    try { old = readFileSync(path, 'utf8'); } catch { /* new */ }
    if (process.argv.includes('--write')) writeFileSync(path, text);
    process.stdout.write(`${file}: ${old === text ? 'up to date' : process.argv.includes('--write') ? 'written' : 'STALE'}\n`);
  }
}
