// HTTP route of the plan overview.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { requestContext } from '../../http/request-context.js';
import { PersonIdParams, problemResponses } from '../../http/schemas.js';
import { Overview } from './overview.schemas.js';
import type { OverviewService } from './overview.service.js';

export const overviewRoutes: FastifyPluginAsyncZod<{ overview: OverviewService }> = async (app, { overview }) => {
  app.get('/v1/persons/:personId/overview', {
    schema: {
      operationId: 'getOverview',
      summary: 'The plan at a glance, filtered by what the caller may read',
      description: 'Person, active team, life goals with their care goals, open tasks, latest notes. Parts the caller may not read are null.',
      tags: ['Persons'],
      security: [{ bearerAuth: [] }],
      params: PersonIdParams,
      response: { 200: Overview, ...problemResponses(400, 401, 403, 404, 429) },
    },
    handler: async (request) => overview.overview(requestContext(request), request.params.personId),
  });
};
