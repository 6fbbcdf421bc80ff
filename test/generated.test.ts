// Generated files are committed (clients read the OpenAPI document; the code reads the database
// types) and must never drift from their sources.
import { readFileSync } from 'node:fs';
import t from 'tap';
import { DB_TYPES_FILE, generateFromMigrations } from '../scripts/db-types.js';
import { generateOpenApi, OPENAPI_FILE } from '../scripts/openapi.js';

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

interface Operation {
  operationId?: string;
  tags?: string[];
  security?: Array<Record<string, string[]>>;
  parameters?: Array<{ name: string; in: string; required?: boolean }>;
  responses?: Record<string, { content?: Record<string, unknown> }>;
}

t.test('openapi/openapi.json is what the code describes', async (t) => {
  const generated = await generateOpenApi();
  const committed = readFileSync(OPENAPI_FILE, 'utf8');
  t.ok(generated === committed, 'openapi/openapi.json is out of date: run `npm run openapi` and commit the result');
  if (generated !== committed) t.same(JSON.parse(committed), JSON.parse(generated), 'the difference');
});

t.test('src/db/types.ts is what the migrations create', async (t) => {
  const generated = await generateFromMigrations();
  const committed = readFileSync(DB_TYPES_FILE, 'utf8');
  t.ok(generated === committed, 'src/db/types.ts is out of date: run `npm run db:types` and commit the result');
  if (generated !== committed) t.equal(committed, generated, 'the difference');
});

t.test('the OpenAPI document is complete enough to generate a client from', async (t) => {
  const document = JSON.parse(readFileSync(OPENAPI_FILE, 'utf8'));
  t.match(document.openapi, /^3\.1\.\d+$/, 'OpenAPI 3.1');
  t.match(document.info, { title: String, version: String });
  t.match(document.components?.securitySchemes?.bearerAuth, { type: 'http', scheme: 'bearer' }, 'bearerAuth is defined');

  const operations: Array<[string, string, Operation]> = [];
  for (const [path, item] of Object.entries(document.paths as Record<string, Record<string, Operation>>)) {
    for (const method of METHODS) if (item[method]) operations.push([method.toUpperCase(), path, item[method]!]);
  }
  t.ok(operations.some(([, path]) => path.startsWith('/v1/')), 'the /v1 API is documented');
  t.ok(operations.some(([, path]) => path === '/health/ready'), 'operations are documented');

  const notProblemJson: string[] = [];
  const ids = new Set<string>();
  const declaredTags = new Set((document.tags ?? []).map((tag: { name: string }) => tag.name));
  for (const [method, path, operation] of operations) {
    const name = `${method} ${path}`;
    t.match(operation.operationId, /^[a-z][A-Za-z0-9]*$/, `${name}: operationId`);
    t.notOk(ids.has(operation.operationId!), `${name}: operationId is unique`);
    ids.add(operation.operationId!);
    t.ok(Array.isArray(operation.tags) && operation.tags.length > 0, `${name}: tags`);
    for (const tag of operation.tags ?? []) t.ok(declaredTags.has(tag), `${name}: tag ${tag} is declared at the top`);

    for (const param of path.match(/\{[^}]+\}/g) ?? []) {
      const declared = operation.parameters?.find((p) => p.in === 'path' && p.name === param.slice(1, -1));
      t.ok(declared?.required, `${name}: path parameter ${param} is declared`);
    }

    if (path.startsWith('/v1/')) {
      t.ok(
        operation.security?.some((requirement) => 'bearerAuth' in requirement),
        `${name}: security bearerAuth`,
      );
      t.ok(operation.responses?.['401'], `${name}: documents 401`);
      t.ok(operation.responses?.['429'], `${name}: documents 429`);
      for (const [status, response] of Object.entries(operation.responses ?? {})) {
        if (Number(status) >= 400 && !response.content?.['application/problem+json']) notProblemJson.push(`${name} ${status}`);
      }
    }
  }

  t.same(notProblemJson, [], 'error answers are documented as application/problem+json, as they are sent');

  const refs = JSON.stringify(document).match(/"\$ref":"#\/components\/schemas\/[^"]+"/g) ?? [];
  for (const ref of new Set(refs)) {
    const name = ref.slice('"$ref":"#/components/schemas/'.length, -1);
    t.ok(document.components?.schemas?.[name], `$ref ${name} resolves`);
  }
});
