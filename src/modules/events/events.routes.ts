// HTTP routes of the change feed.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { requestContext } from '../../http/request-context.js';
import { problemResponses } from '../../http/schemas.js';
import type { ChangesService } from './changes.service.js';
import { ChangesPage, ChangesParams, ChangesQuery } from './events.schemas.js';

export const eventsRoutes: FastifyPluginAsyncZod<{ changes: ChangesService }> = async (app, { changes }) => {
  app.get('/v1/persons/:personId/changes', {
    schema: {
      operationId: 'listChanges',
      summary: 'The person\'s changes in commit order, for synchronising an EHR',
      description:
        'Thin events filtered by what the caller may read now. nextCursor is never null: pass it as `after` to get what happened since.',
      tags: ['Push events'],
      security: [{ bearerAuth: [] }],
      params: ChangesParams,
      querystring: ChangesQuery,
      response: { 200: ChangesPage, ...problemResponses(400, 401, 404, 429) },
    },
    handler: async (request) => changes.changes(requestContext(request), request.params.personId, request.query),
  });
};
