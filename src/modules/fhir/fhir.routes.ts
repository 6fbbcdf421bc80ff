// HTTP routes of the read-only FHIR R4 facade under /fhir/R4: one route table drives the routes, their query schemas and the CapabilityStatement; errors are OperationOutcome.
import type { CapabilityStatement, CapabilityStatementRestResource, OperationOutcome } from '@medplum/fhirtypes';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors, type FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { requestContext } from '../../http/request-context.js';
import { AppError } from '../../lib/errors.js';
import { operationOutcome, PROFILES, searchsetBundle, type IssueCode } from './fhir.mappers.js';
import { FHIR_TYPES, type FhirService, type FhirType, type SearchParams } from './fhir.service.js';

export const FHIR_PREFIX = '/fhir/R4';
export const FHIR_CONTENT_TYPE = 'application/fhir+json; charset=utf-8';

type ParamType = 'token' | 'reference' | 'date' | 'number' | 'string' | 'uri';
interface SearchParamDef {
  type: ParamType;
  documentation: string;
  schema: z.ZodType;
}

// Parameters every search accepts. `_cursor` is Kring's opaque paging token, as found in link next.
const COMMON_PARAMS: Record<string, SearchParamDef> = {
  _lastUpdated: {
    type: 'date',
    documentation: 'When the resource last changed, with eq/gt/ge/lt/le; repeat it (at most twice) for a range.',
    schema: z.union([z.string().max(64), z.array(z.string().max(64)).max(2)]),
  },
  _count: { type: 'number', documentation: 'Page size, 1 to 200 (default 50).', schema: z.coerce.number().int().min(1).max(200) },
  _cursor: { type: 'string', documentation: 'Where the next page starts; take it from link next.', schema: z.string().max(64) },
  _format: {
    type: 'string',
    documentation: 'json only.',
    // A '+' in a query string decodes to a space: accept both spellings of the FHIR media type.
    schema: z.enum(['json', 'application/json', 'application/fhir+json', 'application/fhir json']),
  },
};

const PATIENT_PARAM: SearchParamDef = {
  type: 'reference',
  documentation: 'The person (Patient/<id> or <id>); required for every type but Patient.',
  schema: z.string().max(200),
};

/** The route table: what the server serves and what the CapabilityStatement declares, from one list. */
export const FHIR_ROUTE_TABLE: Record<FhirType, { description: string; params: Record<string, SearchParamDef>; operations: string[] }> = {
  Patient: {
    description: 'The person with care and support needs (be-patient).',
    params: {
      _id: { type: 'token', documentation: 'One or more person ids, comma-separated.', schema: z.string().max(2000) },
      identifier: {
        type: 'token',
        documentation: `<system>|<value>; INSZ and BIS numbers with ${'https://www.ehealth.fgov.be/standards/fhir/core/NamingSystem/ssin'}.`,
        schema: z.string().max(300),
      },
    },
    operations: ['everything'],
  },
  CarePlan: { description: 'The person\'s plan: one per person, referring to what the caller may read.', params: { patient: PATIENT_PARAM }, operations: [] },
  CareTeam: { description: 'The person\'s care team, members contained (be-careteam).', params: { patient: PATIENT_PARAM }, operations: [] },
  Goal: { description: 'Life goals (what-matters) and care goals linked to them (be-goal).', params: { patient: PATIENT_PARAM }, operations: [] },
  Task: { description: 'Tasks of the plan (be-task).', params: { patient: PATIENT_PARAM }, operations: [] },
  Communication: { description: 'Notes; professional-only notes carry meta.security R.', params: { patient: PATIENT_PARAM }, operations: [] },
};

const searchSchema = (type: FhirType) =>
  z
    .object(
      Object.fromEntries(
        Object.entries({ ...FHIR_ROUTE_TABLE[type].params, ...COMMON_PARAMS }).map(([name, def]) => [name, def.schema.optional().meta({ description: def.documentation })]),
      ),
    )
    // An unknown parameter is refused, never ignored: a client must not believe it filtered.
    .strict();

export function capabilityStatement(baseUrl: string, date: string): CapabilityStatement {
  const resource: CapabilityStatementRestResource[] = FHIR_TYPES.map((type) => ({
    type,
    ...(type in PROFILES ? { supportedProfile: [PROFILES[type as keyof typeof PROFILES]] } : {}),
    interaction: [{ code: 'read' }, { code: 'search-type' }],
    searchParam: Object.entries({ ...FHIR_ROUTE_TABLE[type].params, ...COMMON_PARAMS }).map(([name, def]) => ({ name, type: def.type, documentation: def.documentation })),
    ...(FHIR_ROUTE_TABLE[type].operations.length > 0
      ? { operation: FHIR_ROUTE_TABLE[type].operations.map((name) => ({ name, definition: `http://hl7.org/fhir/OperationDefinition/${type}-${name}` })) }
      : {}),
  }));
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date,
    publisher: 'Kring',
    kind: 'instance',
    software: { name: 'Kring' },
    implementation: { description: 'Kring care plans as FHIR R4, read-only', url: baseUrl },
    fhirVersion: '4.0.1',
    format: ['json', 'application/fhir+json'],
    rest: [
      {
        mode: 'server',
        documentation: 'Read-only. Access as on /v1: a bearer JWT; each caller sees only the categories their relation to the person allows.',
        security: {
          service: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/restful-security-service', code: 'OAuth' }] }],
          description: 'Bearer JWT (claims sub, name, insz, nihii, org).',
        },
        resource,
      },
    ],
  };
}

// ------------------------------------------------------------------------------- errors

const ISSUE_CODES: Record<number, IssueCode> = { 400: 'invalid', 401: 'login', 403: 'forbidden', 404: 'not-found', 405: 'not-supported', 409: 'conflict', 413: 'too-costly', 415: 'not-supported', 429: 'throttled' };
const READ_METHODS = new Set(['GET', 'HEAD']);

// fastify-type-provider-zod's shape: the zod issue code as `keyword`, its other fields in `params`.
interface ValidationEntry {
  keyword?: string;
  instancePath?: string;
  message?: string;
  params?: { keys?: string[] };
}

function validationOutcome(error: FastifyError): { status: number; body: OperationOutcome } {
  const entries = (error.validation ?? []) as ValidationEntry[];
  const unknown = entries.flatMap((e) => (e.keyword === 'unrecognized_keys' ? (e.params?.keys ?? []) : []));
  if (unknown.length > 0) return { status: 400, body: operationOutcome('not-supported', `Unknown search parameter: ${unknown.join(', ')}.`) };
  const detail = entries.map((e) => `${(e.instancePath ?? '').replace(/^\//, '').replace(/\//g, '.') || 'request'}: ${e.message ?? 'is invalid'}`).join('; ');
  return { status: 400, body: operationOutcome('invalid', detail || 'The request is not valid.') };
}

/** Every error on /fhir/R4 as an OperationOutcome, never problem+json; nothing internal reaches the client. */
export function fhirErrorHandler(error: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  let status: number;
  let body: OperationOutcome;
  if (error instanceof AppError) {
    status = error.status;
    // One answer for every 404: an unknown id and another person's id must look the same.
    const diagnostics = status === 404 ? `No resource at ${request.url.split('?')[0]}.` : error.detail;
    body = operationOutcome(ISSUE_CODES[status] ?? 'exception', diagnostics);
    if (error.headers) reply.headers(error.headers);
  } else if (hasZodFastifySchemaValidationErrors(error)) {
    ({ status, body } = validationOutcome(error));
  } else if (error.statusCode && error.statusCode >= 400 && error.statusCode < 500) {
    status = error.statusCode;
    body = operationOutcome(ISSUE_CODES[status] ?? 'invalid', 'The request could not be handled as sent.');
  } else {
    request.log.error({ err: error }, 'unhandled error');
    status = 500;
    body = operationOutcome('exception', 'Something went wrong on our side; it has been logged.');
  }
  // A write is refused as a write whatever else is wrong with it (a body the parser refused, say);
  // only a missing token and the rate limit keep their own answer.
  if (!READ_METHODS.has(request.method) && status !== 401 && status !== 429) {
    status = 405;
    body = operationOutcome('not-supported', 'The FHIR facade is read-only: only GET is supported.');
    reply.header('allow', 'GET');
  }
  return reply.code(status).type(FHIR_CONTENT_TYPE).send(body);
}

// ------------------------------------------------------------------------------- routes

const FhirResource = z.looseObject({ resourceType: z.string() }).meta({ id: 'FhirResource', description: 'A FHIR R4 resource (application/fhir+json).' });
const OperationOutcomeSchema = z
  .looseObject({ resourceType: z.literal('OperationOutcome'), issue: z.array(z.looseObject({ severity: z.string(), code: z.string() })) })
  .meta({ id: 'OperationOutcome', description: 'FHIR R4 OperationOutcome.' });
const fhirOk = (description: string) => ({ 200: { description, content: { 'application/fhir+json': { schema: FhirResource } } } });
const outcomes = (...statuses: number[]) =>
  Object.fromEntries(statuses.map((s) => [s, { description: 'OperationOutcome', content: { 'application/fhir+json': { schema: OperationOutcomeSchema } } }]));
const IdParams = z.object({ id: z.string().min(1).max(64) });

const originOf = (request: FastifyRequest) => `${request.protocol}://${request.host}`;
const sendFhir = (reply: FastifyReply, body: unknown) => reply.type(FHIR_CONTENT_TYPE).send(JSON.stringify(body));

export const fhirRoutes: FastifyPluginAsyncZod<{ fhir: FhirService }> = async (app, { fhir }) => {
  const tags = ['FHIR R4'];
  const security = [{ bearerAuth: [] }];
  const generatedAt = new Date().toISOString();

  // Encapsulated: these replace the global problem+json rendering for /fhir/R4 only.
  app.setErrorHandler(fhirErrorHandler);
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).type(FHIR_CONTENT_TYPE).send(operationOutcome('not-found', `No FHIR endpoint ${request.method} ${request.url.split('?')[0]}.`)),
  );
  // FHIR clients send application/fhir+json; accept it so that a write is answered 405, not 415.
  app.addContentTypeParser('application/fhir+json', { parseAs: 'string' }, (_request, _body, done) => done(null, undefined));

  app.get('/metadata', {
    config: { public: true },
    schema: {
      operationId: 'fhirCapabilities',
      summary: 'The CapabilityStatement (FHIR 4.0.1), generated from the route table',
      tags,
      response: fhirOk('CapabilityStatement'),
    },
    handler: async (request, reply) => sendFhir(reply, capabilityStatement(`${originOf(request)}${FHIR_PREFIX}`, generatedAt)),
  });

  for (const type of FHIR_TYPES) {
    app.get(`/${type}/:id`, {
      schema: {
        operationId: `fhirRead${type}`,
        summary: `Read a ${type}`,
        description: `${FHIR_ROUTE_TABLE[type].description} 404 for an unknown id or a person the caller has no relation to; 403 when the caller's scopes leave the category out.`,
        tags,
        security,
        params: IdParams,
        querystring: z.object({ _format: COMMON_PARAMS._format!.schema.optional() }).strict(),
        response: { ...fhirOk(type), ...outcomes(400, 401, 403, 404, 429) },
      },
      handler: async (request, reply) => {
        const resource = await fhir.read(requestContext(request), type, request.params.id);
        if (resource.meta?.versionId) reply.header('etag', `W/"${resource.meta.versionId}"`);
        if (resource.meta?.lastUpdated) reply.header('last-modified', new Date(resource.meta.lastUpdated).toUTCString());
        return sendFhir(reply, resource);
      },
    });

    app.get(`/${type}`, {
      schema: {
        operationId: `fhirSearch${type}`,
        summary: `Search ${type}`,
        description:
          `${FHIR_ROUTE_TABLE[type].description} A searchset Bundle; a person the caller has no relation to, or a category their scopes leave out, ` +
          'gives an empty Bundle. Unknown parameters: 400.',
        tags,
        security,
        querystring: searchSchema(type),
        response: { ...fhirOk('Bundle (searchset)'), ...outcomes(400, 401, 429) },
      },
      handler: async (request, reply) => {
        const result = await fhir.search(requestContext(request), type, request.query as SearchParams);
        const origin = originOf(request);
        const self = new URL(request.url, origin);
        let next: string | undefined;
        if (result.nextAfter) {
          const url = new URL(request.url, origin);
          url.searchParams.set('_cursor', result.nextAfter);
          next = url.toString();
        }
        return sendFhir(reply, searchsetBundle(`${origin}${FHIR_PREFIX}`, result.resources, { self: self.toString(), next }));
      },
    });
  }

  app.get('/Patient/:id/$everything', {
    schema: {
      operationId: 'fhirPatientEverything',
      summary: 'Everything of the plan the caller may read',
      description: 'Patient, CarePlan, CareTeam, Goals, Tasks and Communications, each only when the caller\'s scopes allow it, as one searchset Bundle.',
      tags,
      security,
      params: IdParams,
      querystring: z.object({ _format: COMMON_PARAMS._format!.schema.optional() }).strict(),
      response: { ...fhirOk('Bundle (searchset)'), ...outcomes(400, 401, 403, 404, 429) },
    },
    handler: async (request, reply) => {
      const origin = originOf(request);
      return sendFhir(reply, await fhir.everything(requestContext(request), request.params.id, `${origin}${FHIR_PREFIX}`, `${origin}${request.url}`));
    },
  });

  // Read-only: every write method answers 405 (public, so that it says so even without a token).
  const readOnly = async () => {
    throw new AppError(405, 'method-not-allowed', 'Method Not Allowed', 'The FHIR facade is read-only.', undefined, { allow: 'GET' });
  };
  for (const url of ['/', '/*']) {
    app.route({ method: ['POST', 'PUT', 'PATCH', 'DELETE'], url, config: { public: true }, schema: { hide: true }, handler: readOnly });
  }
};
