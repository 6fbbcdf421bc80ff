// HTTP routes of tasks, and of the caller's own open tasks across plans.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { requestContext } from '../../http/request-context.js';
import { IfMatchHeaders, PageQuery, PersonIdParams, page, problemResponses } from '../../http/schemas.js';
import { etagFor, parseIfMatch } from '../../lib/versioning.js';
import { historyPage } from '../history/history.schemas.js';
import { Task, TaskCreate, TaskParams, TaskUpdate, TasksQuery } from './tasks.schemas.js';
import type { TasksService } from './tasks.service.js';

const security = [{ bearerAuth: [] }];
const TaskPage = page(Task, 'TaskPage');

export const tasksRoutes: FastifyPluginAsyncZod<{ tasks: TasksService }> = async (app, { tasks }) => {
  const tags = ['Tasks'];

  app.post('/v1/persons/:personId/tasks', {
    schema: {
      operationId: 'createTask',
      summary: 'Assign a task to a team member',
      description:
        'Needs tasks:write. The assignee must be an active member whose grant lets them read tasks; a care goal must be ' +
        'one of the same person\'s (422 otherwise).',
      tags,
      security,
      params: PersonIdParams,
      body: TaskCreate,
      response: { 201: Task, ...problemResponses(400, 401, 403, 404, 422, 429) },
    },
    handler: async (request, reply) => {
      const task = await tasks.createTask(requestContext(request), request.params.personId, request.body);
      return reply
        .code(201)
        .header('location', `/v1/persons/${task.personId}/tasks/${task.id}`)
        .header('etag', etagFor(task.version))
        .send(task);
    },
  });

  app.get('/v1/persons/:personId/tasks', {
    schema: {
      operationId: 'listTasks',
      summary: 'The person\'s tasks',
      description: '`assignee=me` lists the tasks assigned to the caller\'s own memberships in this plan.',
      tags,
      security,
      params: PersonIdParams,
      querystring: TasksQuery,
      response: { 200: TaskPage, ...problemResponses(400, 401, 403, 404, 429) },
    },
    handler: async (request) => tasks.listTasks(requestContext(request), request.params.personId, request.query),
  });

  app.get('/v1/persons/:personId/tasks/:taskId', {
    schema: {
      operationId: 'getTask',
      summary: 'A task',
      tags,
      security,
      params: TaskParams,
      response: { 200: Task, ...problemResponses(400, 401, 403, 404, 429) },
    },
    handler: async (request, reply) => {
      const task = await tasks.getTask(requestContext(request), request.params.personId, request.params.taskId);
      return reply.header('etag', etagFor(task.version)).send(task);
    },
  });

  app.patch('/v1/persons/:personId/tasks/:taskId', {
    schema: {
      operationId: 'updateTask',
      summary: 'Change a task or move its status; the previous version is kept',
      description:
        'The assignee may change the status with tasks:read alone (so may the creator, a coordinator and controllers); ' +
        'any other change needs tasks:write. If-Match is honoured when sent (412 when stale), not required.',
      tags,
      security,
      params: TaskParams,
      headers: IfMatchHeaders,
      body: TaskUpdate,
      response: { 200: Task, ...problemResponses(400, 401, 403, 404, 412, 422, 429) },
    },
    handler: async (request, reply) => {
      const task = await tasks.updateTask(
        requestContext(request),
        request.params.personId,
        request.params.taskId,
        request.body,
        parseIfMatch(request.headers['if-match']),
      );
      return reply.header('etag', etagFor(task.version)).send(task);
    },
  });

  app.get('/v1/persons/:personId/tasks/:taskId/history', {
    schema: {
      operationId: 'taskHistory',
      summary: 'Every version of a task: who changed what, and when',
      tags,
      security,
      params: TaskParams,
      querystring: PageQuery,
      response: { 200: historyPage(Task, 'TaskHistoryPage'), ...problemResponses(400, 401, 403, 404, 429) },
    },
    handler: async (request) => tasks.history(requestContext(request), request.params.personId, request.params.taskId, request.query),
  });

  app.get('/v1/me/tasks', {
    schema: {
      operationId: 'listMyTasks',
      summary: 'The caller\'s open tasks across all plans',
      description:
        'Open (status open or in_progress) tasks assigned to the caller\'s active memberships, in the plans where their ' +
        'grant lets them read tasks right now.',
      tags,
      security,
      querystring: PageQuery,
      response: { 200: TaskPage, ...problemResponses(400, 401, 429) },
    },
    handler: async (request) => tasks.myOpenTasks(requestContext(request), request.query),
  });
};
