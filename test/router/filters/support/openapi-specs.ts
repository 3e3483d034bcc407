/** OpenAPI documents for the openapi filter's tests (file name -> text, relative to the config file). */

export const API_YAML = `
openapi: 3.0.3
info: { title: test, version: '1' }
paths:
  /users/{id}:
    parameters:
      - { name: x-trace, in: header, schema: { type: string, pattern: '^[a-f0-9]{8}$' } }
    get:
      parameters:
        - { name: id, in: path, required: true, schema: { type: integer, minimum: 1 } }
        - { name: fields, in: query, required: true, schema: { type: string } }
      responses: { '200': { description: ok } }
  /users/me:
    get:
      responses: { '200': { description: ok } }
  /users:
    post:
      requestBody:
        required: true
        content:
          application/json:
            schema: { $ref: './schemas/user.yaml#/User' }
      responses: { '200': { description: ok } }
  /tree:
    post:
      requestBody:
        content:
          application/json:
            schema: { $ref: '#/components/schemas/Node' }
      responses: { '200': { description: ok } }
  /files/{name}.{ext}:
    get:
      parameters:
        - { name: name, in: path, required: true, schema: { type: string, minLength: 2 } }
        - { name: ext, in: path, required: true, schema: { type: string, enum: [json, txt] } }
      responses: { '200': { description: ok } }
  /search:
    get:
      parameters:
        - { name: tags, in: query, schema: { type: array, maxItems: 2, items: { type: string } } }
        - { name: limit, in: query, schema: { type: integer, exclusiveMinimum: true, minimum: 0 } }
      responses: { '200': { description: ok } }
  /feed:
    get:
      responses: { '101': { description: upgraded } }
components:
  schemas:
    Node:
      type: array
      items: { $ref: '#/components/schemas/Node' }
`;

export const USER_YAML = `
User:
  type: object
  required: [name]
  additionalProperties: false
  properties:
    name: { type: string }
    age: { type: integer, nullable: true }
    blob: { type: string }
`;

export const API31_JSON = JSON.stringify({
  openapi: '3.1.0',
  info: { title: 'test', version: '1' },
  paths: {
    '/things': {
      post: {
        requestBody: {
          required: true,
          content: { 'application/json': { schema: { type: 'object', required: ['label'], properties: { label: { type: ['string', 'null'] } } } } },
        },
        responses: { 200: { description: 'ok' } },
      },
    },
  },
});

/** Specs that are config errors, with what the error must name. */
export const BAD_SPECS: { name: string; files: Record<string, string>; expect: RegExp[] }[] = [
  {
    name: 'an invalid schema',
    files: { 'spec.yaml': `
openapi: 3.0.3
info: { title: t, version: '1' }
paths:
  /x:
    get:
      parameters:
        - { name: q, in: query, schema: { type: integr } }
      responses: { '200': { description: ok } }
` },
    expect: [/filters\.schema\.spec: /, /spec\.yaml/, /\/paths\/~1x\/get\/parameters\/0\/schema/],
  },
  {
    name: 'an unresolvable $ref',
    files: { 'spec.yaml': `
openapi: 3.0.3
info: { title: t, version: '1' }
paths:
  /x:
    post:
      requestBody:
        content:
          application/json:
            schema: { $ref: '#/components/schemas/Missing' }
      responses: { '200': { description: ok } }
` },
    expect: [/filters\.schema\.spec: /, /spec\.yaml/, /\/paths\/~1x\/post\/requestBody\/content\/application~1json\/schema/, /Missing/],
  },
  {
    name: 'a $ref to a missing file',
    files: { 'spec.yaml': `
openapi: 3.0.3
info: { title: t, version: '1' }
paths:
  /x:
    get:
      parameters:
        - { name: q, in: query, schema: { $ref: './nowhere.yaml#/Q' } }
      responses: { '200': { description: ok } }
` },
    expect: [/filters\.schema\.spec: /, /nowhere\.yaml/, /\/paths\/~1x\/get\/parameters\/0\/schema/],
  },
  {
    name: 'a cyclic $ref that never descends',
    files: { 'spec.yaml': `
openapi: 3.0.3
info: { title: t, version: '1' }
paths:
  /x:
    post:
      requestBody:
        content:
          application/json:
            schema: { $ref: '#/components/schemas/A' }
      responses: { '200': { description: ok } }
components:
  schemas:
    A: { allOf: [ { $ref: '#/components/schemas/B' } ] }
    B: { $ref: '#/components/schemas/A' }
` },
    expect: [/filters\.schema\.spec: /, /spec\.yaml/, /\$ref cycle/, /\/components\/schemas\/A/],
  },
  {
    name: 'a Swagger 2.0 document',
    files: { 'spec.yaml': `swagger: '2.0'\ninfo: { title: t, version: '1' }\npaths: {}\n` },
    expect: [/filters\.schema\.spec: /, /spec\.yaml/, /\/openapi/, /3\.0\.x or 3\.1\.x/],
  },
  {
    name: 'a YAML document that does not parse',
    files: { 'spec.yaml': `openapi: 3.0.3\ninfo: { title: t, version: '1' }\npaths:\n  /x:\n    get: [unclosed\n      responses: {}\n` },
    expect: [/filters\.schema\.spec: /, /spec\.yaml/, /line 5, column \d+/],
  },
  {
    name: 'a file that is not there',
    files: {},
    expect: [/filters\.schema\.spec: /, /spec\.yaml/],
  },
];
