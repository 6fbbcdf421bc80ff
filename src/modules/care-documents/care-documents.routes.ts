// HTTP routes of the care documents: wishes (advance care planning) and the safety plan.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { requestContext } from '../../http/request-context.js';
import { IfMatchHeaders, PageQuery, PersonIdParams, problemResponses } from '../../http/schemas.js';
import { etagFor, parseIfMatch } from '../../lib/versioning.js';
import { historyPage } from '../history/history.schemas.js';
import { DocumentVersionParams, SafetyPlan, SafetyPlanContent, Wishes, WishesContent } from './care-documents.schemas.js';
import type { CareDocumentsService } from './care-documents.service.js';

const security = [{ bearerAuth: [] }];

export const careDocumentsRoutes: FastifyPluginAsyncZod<{ careDocuments: CareDocumentsService }> = async (app, { careDocuments }) => {
  const tags = ['Care documents'];

  // Both documents have the same four routes; only their names, paths and shapes differ.
  const documents = [
    { kind: 'wishes', path: 'wishes', name: 'Wishes', label: 'the person\'s advance care planning wishes', content: WishesContent, shape: Wishes },
    { kind: 'safety_plan', path: 'safety-plan', name: 'SafetyPlan', label: 'the person\'s signalling / safety plan', content: SafetyPlanContent, shape: SafetyPlan },
  ] as const;

  for (const { kind, path, name, label, content, shape } of documents) {
    const url = `/v1/persons/:personId/${path}`;

    app.get(url, {
      schema: {
        operationId: `get${name}`,
        summary: `The current version of ${label}`,
        description: 'Answers 404 while no version has been written yet.',
        tags,
        security,
        params: PersonIdParams,
        response: { 200: shape, ...problemResponses(400, 401, 403, 404, 429) },
      },
      handler: async (request, reply) => {
        const document = await careDocuments.get(requestContext(request), kind, request.params.personId);
        return reply.header('etag', etagFor(document.version)).send(document);
      },
    });

    app.put(url, {
      schema: {
        operationId: `replace${name}`,
        summary: `Write a new version of ${label}`,
        description:
          'The first version is written without If-Match (201); every later one requires If-Match with the current ' +
          'version (428 without it, 412 when stale). An If-Match on a document that does not exist yet answers 412.',
        tags,
        security,
        params: PersonIdParams,
        headers: IfMatchHeaders,
        body: content,
        response: { 200: shape, 201: shape, ...problemResponses(400, 401, 403, 404, 412, 428, 429) },
      },
      handler: async (request, reply) => {
        const { document, created } = await careDocuments.put(
          requestContext(request),
          kind,
          request.params.personId,
          request.body,
          parseIfMatch(request.headers['if-match']),
        );
        return reply.code(created ? 201 : 200).header('etag', etagFor(document.version)).send(document);
      },
    });

    app.get(`${url}/versions`, {
      schema: {
        operationId: `list${name}Versions`,
        summary: `Every version of ${label}: who changed which fields, and when`,
        tags,
        security,
        params: PersonIdParams,
        querystring: PageQuery,
        response: { 200: historyPage(shape, `${name}HistoryPage`), ...problemResponses(400, 401, 403, 404, 429) },
      },
      handler: async (request) => careDocuments.versions(requestContext(request), kind, request.params.personId, request.query),
    });

    app.get(`${url}/versions/:version`, {
      schema: {
        operationId: `get${name}Version`,
        summary: `One version of ${label}, as it was written`,
        tags,
        security,
        params: DocumentVersionParams,
        response: { 200: shape, ...problemResponses(400, 401, 403, 404, 429) },
      },
      handler: async (request) =>
        careDocuments.version(requestContext(request), kind, request.params.personId, request.params.version),
    });
  }
};
