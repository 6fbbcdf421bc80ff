// HTTP routes of the access log (controllers only).
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { requestContext } from '../../http/request-context.js';
import { PersonIdParams, page, problemResponses } from '../../http/schemas.js';
import { AccessLogEntry, AccessLogQuery, AccessLogVerification } from './access-log.schemas.js';
import type { AccessLogService } from './access-log.service.js';

export const accessLogRoutes: FastifyPluginAsyncZod<{ accessLog: AccessLogService }> = async (app, { accessLog }) => {
  const tags = ['Transparency'];
  const security = [{ bearerAuth: [] }];

  app.get('/v1/persons/:personId/access-log', {
    schema: {
      operationId: 'listAccessLog',
      summary: 'Who looked at or changed what, newest first (controllers)',
      tags,
      security,
      params: PersonIdParams,
      querystring: AccessLogQuery,
      response: { 200: page(AccessLogEntry, 'AccessLogPage'), ...problemResponses(400, 401, 403, 404, 429) },
    },
    handler: async (request) => accessLog.list(requestContext(request), request.params.personId, request.query),
  });

  app.get('/v1/persons/:personId/access-log/verify', {
    schema: {
      operationId: 'verifyAccessLog',
      summary: 'Whether the access log\'s hash chain is intact (controllers)',
      tags,
      security,
      params: PersonIdParams,
      response: { 200: AccessLogVerification, ...problemResponses(400, 401, 403, 404, 429) },
    },
    handler: async (request) => accessLog.verify(requestContext(request), request.params.personId),
  });
};
