// OpenAPI 3.1 from the zod route schemas (named components via .meta({ id })), Swagger UI at /docs.
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';

export const openApiPlugin = fp(
  async (app: FastifyInstance) => {
    await app.register(swagger, {
      openapi: {
        openapi: '3.1.0',
        info: {
          title: 'Kring API',
          version: '1.0.0',
          description:
            'Care-plan collaboration for a person with care and support needs: their life goals, their own care team, ' +
            'consent per member and scope, care goals, tasks, versioned notes and push events. Errors are RFC 9457 ' +
            'problem details (application/problem+json).',
          license: { name: 'EUPL-1.2', identifier: 'EUPL-1.2' },
        },
        components: {
          securitySchemes: {
            bearerAuth: {
              type: 'http',
              scheme: 'bearer',
              bearerFormat: 'JWT',
              description: 'Claims read: sub (required), name, insz, nihii, org.',
            },
          },
        },
        tags: [
          { name: 'Persons', description: 'Persons with care and support needs, and their plans.' },
          { name: 'Care team', description: 'The team the person composes: professionals, informal carers, volunteers, organisations.' },
          { name: 'Consent grants', description: 'Who may see and do what, member by member and scope by scope.' },
          { name: 'Representatives', description: 'Mandates: people or organisations acting for the person.' },
          { name: 'Invitations', description: 'Joining a team or taking up a mandate with a one-time code.' },
          { name: 'Emergency access', description: 'Break the glass: justified, time-limited, always visible to the person.' },
          { name: 'Goals', description: 'Life goals in the person\'s own words, and the care goals serving them.' },
          { name: 'Tasks', description: 'Work assigned to team members, serving care goals; the caller\'s own open tasks across plans.' },
          { name: 'Care documents', description: 'Advance care planning wishes and the signalling / safety plan: one current version each, every version kept.' },
          { name: 'Meetings', description: '(Video) consultations of the care team: booking, rescheduling, cancelling.' },
          { name: 'Notes', description: 'Versioned notes: only the author revises or retracts; no version is ever lost.' },
          { name: 'Push events', description: 'Thin events: the change feed, the live stream (Server-Sent Events) and, to come, webhooks.' },
          { name: 'Notifications', description: 'The caller\'s inbox: what concerns them across their plans, as thin references to events.' },
          { name: 'Webhooks', description: 'Subscriptions: signed (Standard Webhooks), retried, consent re-checked at every delivery; deliveries and replay.' },
          { name: 'Transparency', description: 'The person\'s access log and its hash-chain verification.' },
          { name: 'FHIR R4', description: 'The same plan, read-only, as HL7 FHIR R4 (4.0.1) resources for EHRs: application/fhir+json, errors as OperationOutcome.' },
          { name: 'Operations', description: 'Health and documentation.' },
        ],
      },
      transform: jsonSchemaTransform,
      transformObject: jsonSchemaTransformObject,
    });
    // The documentation is public: mark Swagger UI's routes so the auth hook lets them through.
    app.addHook('onRoute', (route) => {
      if (route.url.startsWith('/docs')) route.config = { ...(route.config ?? {}), public: true };
    });
    await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: true, uiConfig: { deepLinking: true } });

    app.get('/openapi.json', { config: { public: true }, schema: { hide: true } }, async () => app.swagger());
  },
  { name: 'kring-openapi' },
);
