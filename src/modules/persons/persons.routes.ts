// HTTP routes of persons: thin handlers that hand the verified caller to the service.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { IfMatchHeaders, PageQuery, PersonIdParams, page, problemResponses } from '../../http/schemas.js';
import { etagFor, parseIfMatch } from '../../lib/versioning.js';
import { Person, PersonCreate, PersonUpdate } from './persons.schemas.js';
import type { PersonsService } from './persons.service.js';
import { requestContext } from '../../http/request-context.js';

const tags = ['Persons'];
const security = [{ bearerAuth: [] }];

export const personsRoutes: FastifyPluginAsyncZod<{ persons: PersonsService }> = async (app, { persons }) => {
  app.post('/v1/persons', {
    schema: {
      operationId: 'createPerson',
      summary: 'Start a plan for a person',
      description:
        'A citizen starts their own plan (token insz equals the INSZ); a professional (token with nihii) starts one for someone else and steers it until the person claims it.',
      tags,
      security,
      body: PersonCreate,
      response: { 201: Person, ...problemResponses(400, 401, 403, 409, 422, 429) },
    },
    handler: async (request, reply) => {
      const person = await persons.create(requestContext(request), request.body);
      return reply.code(201).header('location', `/v1/persons/${person.id}`).header('etag', etagFor(person.version)).send(person);
    },
  });

  app.get('/v1/persons', {
    schema: {
      operationId: 'listPersons',
      summary: 'The plans the caller may see',
      tags,
      security,
      querystring: PageQuery,
      response: { 200: page(Person, 'PersonPage'), ...problemResponses(400, 401, 429) },
    },
    handler: async (request) => persons.list(requestContext(request), request.query),
  });

  app.get('/v1/persons/:personId', {
    schema: {
      operationId: 'getPerson',
      summary: 'A person',
      tags,
      security,
      params: PersonIdParams,
      response: { 200: Person, ...problemResponses(400, 401, 403, 404, 429) },
    },
    handler: async (request, reply) => {
      const person = await persons.get(requestContext(request), request.params.personId);
      return reply.header('etag', etagFor(person.version)).send(person);
    },
  });

  app.patch('/v1/persons/:personId', {
    schema: {
      operationId: 'updatePerson',
      summary: 'Change a person\'s details (controllers)',
      description: 'Honours If-Match when sent (412 when stale).',
      tags,
      security,
      params: PersonIdParams,
      headers: IfMatchHeaders,
      body: PersonUpdate,
      response: { 200: Person, ...problemResponses(400, 401, 403, 404, 412, 422, 429) },
    },
    handler: async (request, reply) => {
      const person = await persons.update(
        requestContext(request),
        request.params.personId,
        request.body,
        parseIfMatch(request.headers['if-match']),
      );
      return reply.header('etag', etagFor(person.version)).send(person);
    },
  });

  app.post('/v1/persons/:personId/claim', {
    schema: {
      operationId: 'claimPerson',
      summary: 'The person takes control of a plan a professional started',
      tags,
      security,
      params: PersonIdParams,
      response: { 200: Person, ...problemResponses(400, 401, 403, 404, 409, 429) },
    },
    handler: async (request, reply) => {
      const person = await persons.claim(requestContext(request), request.params.personId);
      return reply.header('etag', etagFor(person.version)).send(person);
    },
  });
};
