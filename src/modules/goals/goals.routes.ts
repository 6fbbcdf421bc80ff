// HTTP routes of life goals and care goals.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { requestContext } from '../../http/request-context.js';
import { IfMatchHeaders, PageQuery, PersonIdParams, page, problemResponses } from '../../http/schemas.js';
import { etagFor, parseIfMatch } from '../../lib/versioning.js';
import { historyPage } from '../history/history.schemas.js';
import {
  CareGoal,
  CareGoalCreate,
  CareGoalParams,
  CareGoalUpdate,
  CareGoalsQuery,
  LifeGoal,
  LifeGoalCreate,
  LifeGoalParams,
  LifeGoalUpdate,
  LifeGoalWithTraceability,
  LifeGoalsQuery,
} from './goals.schemas.js';
import type { GoalsService } from './goals.service.js';

const security = [{ bearerAuth: [] }];

export const goalsRoutes: FastifyPluginAsyncZod<{ goals: GoalsService }> = async (app, { goals }) => {
  const tags = ['Goals'];

  app.post('/v1/persons/:personId/life-goals', {
    schema: {
      operationId: 'createLifeGoal',
      summary: 'Write down a life goal in the person\'s own words',
      description: 'The service records who expressed it: the person, a representative, or a member writing it down with the person.',
      tags,
      security,
      params: PersonIdParams,
      body: LifeGoalCreate,
      response: { 201: LifeGoal, ...problemResponses(400, 401, 403, 404, 422, 429) },
    },
    handler: async (request, reply) => {
      const goal = await goals.createLifeGoal(requestContext(request), request.params.personId, request.body);
      return reply
        .code(201)
        .header('location', `/v1/persons/${goal.personId}/life-goals/${goal.id}`)
        .header('etag', etagFor(goal.version))
        .send(goal);
    },
  });

  app.get('/v1/persons/:personId/life-goals', {
    schema: {
      operationId: 'listLifeGoals',
      summary: 'The person\'s life goals',
      tags,
      security,
      params: PersonIdParams,
      querystring: LifeGoalsQuery,
      response: { 200: page(LifeGoal, 'LifeGoalPage'), ...problemResponses(400, 401, 403, 404, 429) },
    },
    handler: async (request) => goals.listLifeGoals(requestContext(request), request.params.personId, request.query),
  });

  app.get('/v1/persons/:personId/life-goals/:lifeGoalId', {
    schema: {
      operationId: 'getLifeGoal',
      summary: 'A life goal, with the care goals serving it and their tasks',
      tags,
      security,
      params: LifeGoalParams,
      response: { 200: LifeGoalWithTraceability, ...problemResponses(400, 401, 403, 404, 429) },
    },
    handler: async (request, reply) => {
      const goal = await goals.getLifeGoal(requestContext(request), request.params.personId, request.params.lifeGoalId);
      return reply.header('etag', etagFor(goal.version)).send(goal);
    },
  });

  app.patch('/v1/persons/:personId/life-goals/:lifeGoalId', {
    schema: {
      operationId: 'updateLifeGoal',
      summary: 'Change a life goal (If-Match required); the previous version is kept',
      tags,
      security,
      params: LifeGoalParams,
      headers: IfMatchHeaders,
      body: LifeGoalUpdate,
      response: { 200: LifeGoal, ...problemResponses(400, 401, 403, 404, 412, 422, 428, 429) },
    },
    handler: async (request, reply) => {
      const goal = await goals.updateLifeGoal(
        requestContext(request),
        request.params.personId,
        request.params.lifeGoalId,
        request.body,
        parseIfMatch(request.headers['if-match']),
      );
      return reply.header('etag', etagFor(goal.version)).send(goal);
    },
  });

  app.get('/v1/persons/:personId/life-goals/:lifeGoalId/history', {
    schema: {
      operationId: 'lifeGoalHistory',
      summary: 'Every version of a life goal: who changed what, and when',
      tags,
      security,
      params: LifeGoalParams,
      querystring: PageQuery,
      response: { 200: historyPage(LifeGoal, 'LifeGoalHistoryPage'), ...problemResponses(400, 401, 403, 404, 429) },
    },
    handler: async (request) =>
      goals.history<LifeGoal>(requestContext(request), request.params.personId, 'life_goal', request.params.lifeGoalId, request.query),
  });

  app.post('/v1/persons/:personId/care-goals', {
    schema: {
      operationId: 'createCareGoal',
      summary: 'Set a care goal serving one or more of the person\'s life goals',
      tags,
      security,
      params: PersonIdParams,
      body: CareGoalCreate,
      response: { 201: CareGoal, ...problemResponses(400, 401, 403, 404, 422, 429) },
    },
    handler: async (request, reply) => {
      const goal = await goals.createCareGoal(requestContext(request), request.params.personId, request.body);
      return reply
        .code(201)
        .header('location', `/v1/persons/${goal.personId}/care-goals/${goal.id}`)
        .header('etag', etagFor(goal.version))
        .send(goal);
    },
  });

  app.get('/v1/persons/:personId/care-goals', {
    schema: {
      operationId: 'listCareGoals',
      summary: 'The person\'s care goals',
      tags,
      security,
      params: PersonIdParams,
      querystring: CareGoalsQuery,
      response: { 200: page(CareGoal, 'CareGoalPage'), ...problemResponses(400, 401, 403, 404, 429) },
    },
    handler: async (request) => goals.listCareGoals(requestContext(request), request.params.personId, request.query),
  });

  app.get('/v1/persons/:personId/care-goals/:careGoalId', {
    schema: {
      operationId: 'getCareGoal',
      summary: 'A care goal',
      tags,
      security,
      params: CareGoalParams,
      response: { 200: CareGoal, ...problemResponses(400, 401, 403, 404, 429) },
    },
    handler: async (request, reply) => {
      const goal = await goals.getCareGoal(requestContext(request), request.params.personId, request.params.careGoalId);
      return reply.header('etag', etagFor(goal.version)).send(goal);
    },
  });

  app.patch('/v1/persons/:personId/care-goals/:careGoalId', {
    schema: {
      operationId: 'updateCareGoal',
      summary: 'Change a care goal (If-Match required); the previous version is kept',
      tags,
      security,
      params: CareGoalParams,
      headers: IfMatchHeaders,
      body: CareGoalUpdate,
      response: { 200: CareGoal, ...problemResponses(400, 401, 403, 404, 412, 422, 428, 429) },
    },
    handler: async (request, reply) => {
      const goal = await goals.updateCareGoal(
        requestContext(request),
        request.params.personId,
        request.params.careGoalId,
        request.body,
        parseIfMatch(request.headers['if-match']),
      );
      return reply.header('etag', etagFor(goal.version)).send(goal);
    },
  });

  app.get('/v1/persons/:personId/care-goals/:careGoalId/history', {
    schema: {
      operationId: 'careGoalHistory',
      summary: 'Every version of a care goal: who changed what, and when',
      tags,
      security,
      params: CareGoalParams,
      querystring: PageQuery,
      response: { 200: historyPage(CareGoal, 'CareGoalHistoryPage'), ...problemResponses(400, 401, 403, 404, 429) },
    },
    handler: async (request) =>
      goals.history<CareGoal>(requestContext(request), request.params.personId, 'care_goal', request.params.careGoalId, request.query),
  });
};
