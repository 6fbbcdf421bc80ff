// HTTP routes of meetings (multidisciplinary consultations of the care team).
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { requestContext } from '../../http/request-context.js';
import { IfMatchHeaders, PageQuery, PersonIdParams, page, problemResponses } from '../../http/schemas.js';
import { etagFor, parseIfMatch } from '../../lib/versioning.js';
import { historyPage } from '../history/history.schemas.js';
import { Meeting, MeetingCreate, MeetingParams, MeetingUpdate, MeetingsQuery } from './meetings.schemas.js';
import type { MeetingsService } from './meetings.service.js';

const security = [{ bearerAuth: [] }];

export const meetingsRoutes: FastifyPluginAsyncZod<{ meetings: MeetingsService }> = async (app, { meetings }) => {
  const tags = ['Meetings'];

  app.post('/v1/persons/:personId/meetings', {
    schema: {
      operationId: 'createMeeting',
      summary: 'Book a (video) meeting of the care team',
      description:
        'Every participant must be an active team member who may read meetings; endsAt must be after startsAt; ' +
        'a meeting needs a videoUrl (https), a location, or both.',
      tags,
      security,
      params: PersonIdParams,
      body: MeetingCreate,
      response: { 201: Meeting, ...problemResponses(400, 401, 403, 404, 409, 422, 429) },
    },
    handler: async (request, reply) => {
      const meeting = await meetings.create(requestContext(request), request.params.personId, request.body);
      return reply
        .code(201)
        .header('location', `/v1/persons/${meeting.personId}/meetings/${meeting.id}`)
        .header('etag', etagFor(meeting.version))
        .send(meeting);
    },
  });

  app.get('/v1/persons/:personId/meetings', {
    schema: {
      operationId: 'listMeetings',
      summary: 'The person\'s meetings, in start order',
      description: 'from and to select the meetings overlapping that window.',
      tags,
      security,
      params: PersonIdParams,
      querystring: MeetingsQuery,
      response: { 200: page(Meeting, 'MeetingPage'), ...problemResponses(400, 401, 403, 404, 429) },
    },
    handler: async (request) => meetings.list(requestContext(request), request.params.personId, request.query),
  });

  app.get('/v1/persons/:personId/meetings/:meetingId', {
    schema: {
      operationId: 'getMeeting',
      summary: 'A meeting',
      tags,
      security,
      params: MeetingParams,
      response: { 200: Meeting, ...problemResponses(400, 401, 403, 404, 429) },
    },
    handler: async (request, reply) => {
      const meeting = await meetings.get(requestContext(request), request.params.personId, request.params.meetingId);
      return reply.header('etag', etagFor(meeting.version)).send(meeting);
    },
  });

  app.patch('/v1/persons/:personId/meetings/:meetingId', {
    schema: {
      operationId: 'updateMeeting',
      summary: 'Reschedule, change or cancel a meeting',
      description: 'If-Match is honoured when sent (412 when stale) but not required. A cancelled meeting cannot be changed (409).',
      tags,
      security,
      params: MeetingParams,
      headers: IfMatchHeaders,
      body: MeetingUpdate,
      response: { 200: Meeting, ...problemResponses(400, 401, 403, 404, 409, 412, 422, 429) },
    },
    handler: async (request, reply) => {
      const meeting = await meetings.update(
        requestContext(request),
        request.params.personId,
        request.params.meetingId,
        request.body,
        parseIfMatch(request.headers['if-match']),
      );
      return reply.header('etag', etagFor(meeting.version)).send(meeting);
    },
  });

  app.get('/v1/persons/:personId/meetings/:meetingId/history', {
    schema: {
      operationId: 'meetingHistory',
      summary: 'Every version of a meeting: who changed what, and when',
      tags,
      security,
      params: MeetingParams,
      querystring: PageQuery,
      response: { 200: historyPage(Meeting, 'MeetingHistoryPage'), ...problemResponses(400, 401, 403, 404, 429) },
    },
    handler: async (request) => meetings.history(requestContext(request), request.params.personId, request.params.meetingId, request.query),
  });
};
