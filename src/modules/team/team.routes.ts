// HTTP routes of the care team, grants, representatives and invitations.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { requestContext } from '../../http/request-context.js';
import { IfMatchHeaders, PersonIdParams, page, problemResponses } from '../../http/schemas.js';
import { etagFor, parseIfMatch } from '../../lib/versioning.js';
import {
  GrantRecord,
  GrantUpdate,
  GrantsQuery,
  InvitationAccepted,
  InvitationParams,
  MemberParams,
  Representative,
  RepresentativeCreate,
  RepresentativeInvitation,
  RepresentativeParams,
  RepresentativesQuery,
  TeamInvitation,
  TeamInvitationCreate,
  TeamMember,
  TeamMemberUpdate,
  TeamQuery,
} from './team.schemas.js';
import type { TeamService } from './team.service.js';

const security = [{ bearerAuth: [] }];

export const teamRoutes: FastifyPluginAsyncZod<{ team: TeamService }> = async (app, { team }) => {
  const tags = ['Care team'];

  app.post('/v1/persons/:personId/team/invitations', {
    schema: {
      operationId: 'inviteTeamMember',
      summary: 'Invite a member to the care team (controllers)',
      description:
        'Creates the member (status invited) with its grant, and a one-time invitation code (shown once, valid 14 days by default). ' +
        'A professional accepts only with a token whose nihii matches; an organisation only with a matching org.',
      tags,
      security,
      params: PersonIdParams,
      body: TeamInvitationCreate,
      response: { 201: TeamInvitation, ...problemResponses(400, 401, 403, 404, 422, 429) },
    },
    handler: async (request, reply) => {
      const created = await team.invite(requestContext(request), request.params.personId, request.body);
      return reply
        .code(201)
        .header('location', `/v1/persons/${created.personId}/team/${created.memberId}`)
        .header('etag', etagFor(created.version))
        .send(created);
    },
  });

  app.get('/v1/persons/:personId/team', {
    schema: {
      operationId: 'listTeam',
      summary: 'The care team (include=ended adds former members)',
      tags,
      security,
      params: PersonIdParams,
      querystring: TeamQuery,
      response: { 200: page(TeamMember, 'TeamMemberPage'), ...problemResponses(400, 401, 403, 404, 429) },
    },
    handler: async (request) => team.list(requestContext(request), request.params.personId, request.query),
  });

  app.get('/v1/persons/:personId/team/:memberId', {
    schema: {
      operationId: 'getTeamMember',
      summary: 'A team member',
      tags,
      security,
      params: MemberParams,
      response: { 200: TeamMember, ...problemResponses(400, 401, 403, 404, 429) },
    },
    handler: async (request, reply) => {
      const member = await team.get(requestContext(request), request.params.personId, request.params.memberId);
      return reply.header('etag', etagFor(member.version)).send(member);
    },
  });

  app.patch('/v1/persons/:personId/team/:memberId', {
    schema: {
      operationId: 'updateTeamMember',
      summary: 'Change a member\'s function, discipline or display name',
      description: 'Controllers and members holding team:write. Honours If-Match when sent.',
      tags,
      security,
      params: MemberParams,
      headers: IfMatchHeaders,
      body: TeamMemberUpdate,
      response: { 200: TeamMember, ...problemResponses(400, 401, 403, 404, 409, 412, 429) },
    },
    handler: async (request, reply) => {
      const member = await team.update(
        requestContext(request),
        request.params.personId,
        request.params.memberId,
        request.body,
        parseIfMatch(request.headers['if-match']),
      );
      return reply.header('etag', etagFor(member.version)).send(member);
    },
  });

  app.delete('/v1/persons/:personId/team/:memberId', {
    schema: {
      operationId: 'endTeamMembership',
      summary: 'End a membership (a controller, or the member leaving); the history stays',
      tags,
      security,
      params: MemberParams,
      response: { 200: TeamMember, ...problemResponses(400, 401, 403, 404, 409, 429) },
    },
    handler: async (request) => team.end(requestContext(request), request.params.personId, request.params.memberId),
  });

  const grantTags = ['Consent grants'];

  app.put('/v1/persons/:personId/team/:memberId/grant', {
    schema: {
      operationId: 'replaceGrant',
      summary: 'Replace a member\'s grant (controllers); each change is a new grant record',
      tags: grantTags,
      security,
      params: MemberParams,
      body: GrantUpdate,
      response: { 200: GrantRecord, ...problemResponses(400, 401, 403, 404, 409, 422, 429) },
    },
    handler: async (request) =>
      team.putGrant(requestContext(request), request.params.personId, request.params.memberId, request.body),
  });

  app.delete('/v1/persons/:personId/team/:memberId/grant', {
    schema: {
      operationId: 'revokeGrant',
      summary: 'Revoke a member\'s access (controllers): the member stays listed, with no access',
      tags: grantTags,
      security,
      params: MemberParams,
      response: { 200: GrantRecord, ...problemResponses(400, 401, 403, 404, 409, 429) },
    },
    handler: async (request) => team.revokeGrant(requestContext(request), request.params.personId, request.params.memberId),
  });

  app.get('/v1/persons/:personId/grants', {
    schema: {
      operationId: 'listGrants',
      summary: 'Current and past grants: who gave or revoked what, and when (controllers)',
      tags: grantTags,
      security,
      params: PersonIdParams,
      querystring: GrantsQuery,
      response: { 200: page(GrantRecord, 'GrantRecordPage'), ...problemResponses(400, 401, 403, 404, 429) },
    },
    handler: async (request) => team.listGrants(requestContext(request), request.params.personId, request.query),
  });

  const representativeTags = ['Representatives'];

  app.post('/v1/persons/:personId/representatives', {
    schema: {
      operationId: 'addRepresentative',
      summary: 'Give someone a mandate (controllers); answers a one-time invitation code',
      tags: representativeTags,
      security,
      params: PersonIdParams,
      body: RepresentativeCreate,
      response: { 201: RepresentativeInvitation, ...problemResponses(400, 401, 403, 404, 422, 429) },
    },
    handler: async (request, reply) => {
      const created = await team.addRepresentative(requestContext(request), request.params.personId, request.body);
      return reply
        .code(201)
        .header('location', `/v1/persons/${created.personId}/representatives/${created.id}`)
        .send(created);
    },
  });

  app.get('/v1/persons/:personId/representatives', {
    schema: {
      operationId: 'listRepresentatives',
      summary: 'The person\'s representatives (include=ended adds ended mandates)',
      tags: representativeTags,
      security,
      params: PersonIdParams,
      querystring: RepresentativesQuery,
      response: { 200: page(Representative, 'RepresentativePage'), ...problemResponses(400, 401, 403, 404, 429) },
    },
    handler: async (request) => team.listRepresentatives(requestContext(request), request.params.personId, request.query),
  });

  app.delete('/v1/persons/:personId/representatives/:representativeId', {
    schema: {
      operationId: 'endRepresentative',
      summary: 'End a mandate (a controller, or the representative stepping down)',
      tags: representativeTags,
      security,
      params: RepresentativeParams,
      response: { 200: Representative, ...problemResponses(400, 401, 403, 404, 409, 429) },
    },
    handler: async (request) =>
      team.endRepresentative(requestContext(request), request.params.personId, request.params.representativeId),
  });

  app.post('/v1/invitations/:inviteCode/accept', {
    // Slows down guessing: few attempts per caller per minute.
    config: { rateLimit: { max: 10, timeWindow: 60_000 } },
    schema: {
      operationId: 'acceptInvitation',
      summary: 'Accept a team or representative invitation with the invitee\'s own token',
      tags: ['Invitations'],
      security,
      params: InvitationParams,
      response: { 200: InvitationAccepted, ...problemResponses(400, 401, 403, 404, 409, 410, 429) },
    },
    handler: async (request) => team.acceptInvitation(requestContext(request), request.params.inviteCode),
  });
};
