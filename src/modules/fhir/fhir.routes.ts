// HTTP routes of the read-only FHIR R4 facade under /fhir/R4: one route table drives the routes, their query schemas and the CapabilityStatement; errors are OperationOutcome.
import type { Bundle, CapabilityStatement, CapabilityStatementRestResource, OperationOutcome, Resource } from '@medplum/fhirtypes';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors, type FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { requestContext } from '../../http/request-context.js';
import { AppError } from '../../lib/errors.js';
import { EXTENSIONS, historyBundle, kringCanonicals, operationOutcome, PROFILES, searchsetBundle, SYSTEMS, type IssueCode } from './fhir.mappers.js';
import { FHIR_TYPES, VERSIONED_TYPES, type EverythingParams, type FhirService, type FhirType, type SearchParams, type SearchResult, type VersionedType } from './fhir.service.js';

export const FHIR_PREFIX = '/fhir/R4';
export const FHIR_CONTENT_TYPE = 'application/fhir+json; charset=utf-8';

type ParamType = 'token' | 'reference' | 'date' | 'number' | 'string' | 'uri';
interface SearchParamDef {
  type: ParamType;
  documentation: string;
  schema: z.ZodType;
}

const dateValues = (max: number) => z.union([z.string().max(64), z.array(z.string().max(64)).max(max)]);

// Parameters every search accepts. `_cursor` is Kring's opaque paging token, as found in link next.
const COMMON_PARAMS: Record<string, SearchParamDef> = {
  _id: { type: 'token', documentation: 'One or more ids, comma-separated.', schema: z.string().max(2000) },
  _lastUpdated: {
    type: 'date',
    documentation: 'When the resource last changed, with eq/gt/ge/lt/le; repeat it (at most twice) for a range.',
    schema: dateValues(2),
  },
  _count: { type: 'number', documentation: 'Page size, 1 to 200 (default 50).', schema: z.coerce.number().int().min(1).max(200) },
  _cursor: { type: 'string', documentation: 'Where the next page starts; take it from link next.', schema: z.string().max(300) },
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
const status = (codes: string): SearchParamDef => ({ type: 'token', documentation: `One or more of ${codes}, comma-separated.`, schema: z.string().max(200) });

interface RouteEntry {
  description: string;
  params: Record<string, SearchParamDef>;
  operations: string[];
}

/** The route table: what the server serves and what the CapabilityStatement declares, from one list. */
export const FHIR_ROUTE_TABLE: Record<FhirType, RouteEntry> = {
  Patient: {
    description: 'The person with care and support needs (be-patient).',
    params: {
      identifier: {
        type: 'token',
        documentation: `<system>|<value>; INSZ and BIS numbers with ${SYSTEMS.ssin}.`,
        schema: z.string().max(300),
      },
    },
    operations: ['everything'],
  },
  CarePlan: { description: 'The person\'s plan: one per person, referring to what the caller may read.', params: { patient: PATIENT_PARAM, status: status('active') }, operations: [] },
  CareTeam: { description: 'The person\'s care team, members contained (be-careteam).', params: { patient: PATIENT_PARAM, status: status('active') }, operations: [] },
  Goal: {
    description: 'Life goals (what-matters) and care goals linked to them (be-goal for life goals).',
    params: {
      patient: PATIENT_PARAM,
      'lifecycle-status': status('proposed, active, completed, cancelled'),
      category: { type: 'token', documentation: `what-matters (${SYSTEMS.pco}) for life goals, care-goal (${SYSTEMS.goalKind}) for care goals.`, schema: z.string().max(300) },
    },
    operations: [],
  },
  Task: {
    description: 'Tasks of the plan (be-task).',
    params: {
      patient: PATIENT_PARAM,
      status: status('requested, in-progress, completed, cancelled'),
      owner: { type: 'reference', documentation: `The assignee: a member id (${SYSTEMS.member}), optionally as <type>/<id>.`, schema: z.string().max(200) },
    },
    operations: [],
  },
  Communication: {
    description: 'Notes; professional-only notes carry meta.security R. Versioned.',
    params: {
      patient: PATIENT_PARAM,
      status: status('completed, entered-in-error'),
      sent: { type: 'date', documentation: 'When the note was first written, with eq/gt/ge/lt/le; at most twice.', schema: dateValues(2) },
    },
    operations: [],
  },
  Consent: {
    description: 'Grant records (scope patient-privacy, controllers only) and wish statements (scope adr). Wishes are versioned.',
    params: { patient: PATIENT_PARAM, status: status('active, inactive'), scope: status('patient-privacy, adr') },
    operations: [],
  },
  DocumentReference: { description: 'The safety plan as text; earlier versions in _history.', params: { patient: PATIENT_PARAM, status: status('current') }, operations: [] },
  Appointment: {
    description: 'Meetings of the team; the video link in the virtualService extension.',
    params: {
      patient: PATIENT_PARAM,
      status: status('booked, cancelled'),
      date: { type: 'date', documentation: 'The start, with eq/gt/ge/lt/le; at most twice.', schema: dateValues(2) },
    },
    operations: [],
  },
  RelatedPerson: { description: 'Representatives (mandates), with level and basis.', params: { patient: PATIENT_PARAM }, operations: [] },
  Provenance: { description: 'Who wrote each version of the versioned resources, and for whom.', params: { patient: PATIENT_PARAM }, operations: [] },
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

const isVersioned = (type: FhirType): type is VersionedType => (VERSIONED_TYPES as readonly string[]).includes(type);

export function capabilityStatement(baseUrl: string, date: string): CapabilityStatement {
  const resource: CapabilityStatementRestResource[] = FHIR_TYPES.map((type) => ({
    type,
    ...(type in PROFILES ? { supportedProfile: [PROFILES[type as keyof typeof PROFILES]] } : {}),
    interaction: [{ code: 'read' }, ...(isVersioned(type) ? [{ code: 'vread' as const }, { code: 'history-instance' as const }] : []), { code: 'search-type' }],
    ...(isVersioned(type) ? { versioning: 'versioned' as const, readHistory: true } : {}),
    searchParam: Object.entries({ ...FHIR_ROUTE_TABLE[type].params, ...COMMON_PARAMS }).map(([name, def]) => ({ name, type: def.type, documentation: def.documentation })),
    ...(FHIR_ROUTE_TABLE[type].operations.length > 0
      ? { operation: FHIR_ROUTE_TABLE[type].operations.map((name) => ({ name, definition: `http://hl7.org/fhir/OperationDefinition/${type}-${name}` })) }
      : {}),
  }));
  return {
    resourceType: 'CapabilityStatement',
    // Kring's own code systems, naming systems and extensions, derived from the mappers' constants.
    extension: kringCanonicals().map(({ kind, url }) => ({
      url: EXTENSIONS.definesCanonical,
      extension: [
        { url: 'type', valueCode: kind },
        { url: 'url', valueUri: url },
      ],
    })),
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
const FormatOnly = z.object({ _format: COMMON_PARAMS._format!.schema.optional() }).strict();

/** One resource with its version headers (read and vread). */
function sendVersioned(reply: FastifyReply, resource: Resource) {
  if (resource.meta?.versionId) reply.header('etag', `W/"${resource.meta.versionId}"`);
  if (resource.meta?.lastUpdated) reply.header('last-modified', new Date(resource.meta.lastUpdated).toUTCString());
  return sendFhir(reply, resource);
}

/** self and next links of a page: the request's own URL, with the cursor of the next page. */
function pageLinks(request: FastifyRequest, result: SearchResult): { self: string; next?: string } {
  const origin = originOf(request);
  const self = new URL(request.url, origin).toString();
  if (!result.next) return { self };
  const next = new URL(request.url, origin);
  next.searchParams.set('_cursor', result.next);
  return { self, next: next.toString() };
}

function withOutcome(bundle: Bundle, result: SearchResult): Bundle {
  if (result.total !== undefined) bundle.total = result.total;
  if (result.outcome) (bundle.entry ??= []).push({ resource: result.outcome, search: { mode: 'outcome' } });
  return bundle;
}

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
        querystring: FormatOnly,
        response: { ...fhirOk(type), ...outcomes(400, 401, 403, 404, 429) },
      },
      handler: async (request, reply) => sendVersioned(reply, await fhir.read(requestContext(request), type, request.params.id)),
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
        return sendFhir(reply, searchsetBundle(`${originOf(request)}${FHIR_PREFIX}`, result.resources, pageLinks(request, result)));
      },
    });

    if (!isVersioned(type)) continue;

    app.get(`/${type}/:id/_history`, {
      schema: {
        operationId: `fhirHistory${type}`,
        summary: `Every version of a ${type}, newest first`,
        description: 'A history Bundle, paged with _count and link next; access as for the read.',
        tags,
        security,
        params: IdParams,
        querystring: z.object({ _count: COMMON_PARAMS._count!.schema.optional(), _cursor: COMMON_PARAMS._cursor!.schema.optional(), _format: COMMON_PARAMS._format!.schema.optional() }).strict(),
        response: { ...fhirOk('Bundle (history)'), ...outcomes(400, 401, 403, 404, 429) },
      },
      handler: async (request, reply) => {
        const result = await fhir.history(requestContext(request), type, request.params.id, request.query as { _count?: number; _cursor?: string });
        return sendFhir(reply, withOutcome(historyBundle(`${originOf(request)}${FHIR_PREFIX}`, result.resources, pageLinks(request, result)), result));
      },
    });

    app.get(`/${type}/:id/_history/:version`, {
      schema: {
        operationId: `fhirVread${type}`,
        summary: `One version of a ${type}`,
        description: 'The resource as it stood at that version (vread), with its ETag and Last-Modified.',
        tags,
        security,
        params: z.object({ id: z.string().min(1).max(64), version: z.string().min(1).max(64) }),
        querystring: FormatOnly,
        response: { ...fhirOk(type), ...outcomes(400, 401, 403, 404, 429) },
      },
      handler: async (request, reply) => sendVersioned(reply, await fhir.vread(requestContext(request), type as VersionedType, request.params.id, request.params.version)),
    });
  }

  app.get('/Patient/:id/$everything', {
    schema: {
      operationId: 'fhirPatientEverything',
      summary: 'Everything of the plan the caller may read',
      description:
        'Every resource of the plan the caller may read (Tasks included), as searchset Bundle pages in a fixed order. ' +
        '_since: only what changed from that instant on; _type: only these types (comma-separated); _count: page size.',
      tags,
      security,
      params: IdParams,
      querystring: z
        .object({
          _since: z.string().max(64).optional().meta({ description: 'An instant: only resources changed from then on.' }),
          _type: z.string().max(500).optional().meta({ description: 'Comma-separated resource types.' }),
          _count: COMMON_PARAMS._count!.schema.optional(),
          _cursor: COMMON_PARAMS._cursor!.schema.optional(),
          _format: COMMON_PARAMS._format!.schema.optional(),
        })
        .strict(),
      response: { ...fhirOk('Bundle (searchset)'), ...outcomes(400, 401, 403, 404, 429) },
    },
    handler: async (request, reply) => {
      const result = await fhir.everything(requestContext(request), request.params.id, request.query as EverythingParams);
      return sendFhir(reply, withOutcome(searchsetBundle(`${originOf(request)}${FHIR_PREFIX}`, result.resources, pageLinks(request, result)), result));
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
