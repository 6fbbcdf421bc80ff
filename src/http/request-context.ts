// Builds the service's request context from a request whose token was verified.
import type { FastifyRequest } from 'fastify';
import type { RequestContext } from '../lib/context.js';
import { unauthorized } from '../lib/errors.js';

export function requestContext(request: FastifyRequest): RequestContext {
  // The auth hook guarantees an actor on non-public routes; this guards against a route
  // accidentally marked public reaching a service.
  if (!request.actor) throw unauthorized();
  return { actor: request.actor, requestId: request.id };
}
