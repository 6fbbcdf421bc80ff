// HTTP route of emergency access.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { requestContext } from '../../http/request-context.js';
import { problemResponses } from '../../http/schemas.js';
import { EmergencyAccess, EmergencyAccessCreate } from './emergency.schemas.js';
import type { EmergencyService } from './emergency.service.js';

export const emergencyRoutes: FastifyPluginAsyncZod<{ emergency: EmergencyService }> = async (app, { emergency }) => {
  app.post('/v1/emergency-access', {
    schema: {
      operationId: 'openEmergencyAccess',
      summary: 'Break the glass: time-limited read access for an on-call professional outside the team',
      description:
        'Needs a token with nihii and a reason of at least 10 characters. Gives team, goals, wishes and safety_plan read ' +
        'access for a limited time (12 hours by default). Refused (403) when the person disallowed it. Always audited and ' +
        'notified to the person and the coordinator.',
      tags: ['Emergency access'],
      security: [{ bearerAuth: [] }],
      body: EmergencyAccessCreate,
      response: { 201: EmergencyAccess, ...problemResponses(400, 401, 403, 404, 429) },
    },
    handler: async (request, reply) => reply.code(201).send(await emergency.open(requestContext(request), request.body)),
  });
};
