// HTTP routes of versioned notes.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { requestContext } from '../../http/request-context.js';
import { IfMatchHeaders, PageQuery, PersonIdParams, page, problemResponses } from '../../http/schemas.js';
import { etagFor, parseIfMatch } from '../../lib/versioning.js';
import { Note, NoteCreate, NoteParams, NoteRevision, NoteVersion, NoteVersionParams, NotesQuery } from './notes.schemas.js';
import type { NotesService } from './notes.service.js';

const security = [{ bearerAuth: [] }];

export const notesRoutes: FastifyPluginAsyncZod<{ notes: NotesService }> = async (app, { notes }) => {
  const tags = ['Notes'];

  app.post('/v1/persons/:personId/notes', {
    schema: {
      operationId: 'createNote',
      summary: 'Write a note (dated, attributed, with a phase and a visibility)',
      tags,
      security,
      params: PersonIdParams,
      body: NoteCreate,
      response: { 201: Note, ...problemResponses(400, 401, 403, 404, 422, 429) },
    },
    handler: async (request, reply) => {
      const note = await notes.create(requestContext(request), request.params.personId, request.body);
      return reply
        .code(201)
        .header('location', `/v1/persons/${note.personId}/notes/${note.id}`)
        .header('etag', etagFor(note.version))
        .send(note);
    },
  });

  app.get('/v1/persons/:personId/notes', {
    schema: {
      operationId: 'listNotes',
      summary: 'The notes the caller may read, newest first',
      tags,
      security,
      params: PersonIdParams,
      querystring: NotesQuery,
      response: { 200: page(Note, 'NotePage'), ...problemResponses(400, 401, 403, 404, 429) },
    },
    handler: async (request) => notes.list(requestContext(request), request.params.personId, request.query),
  });

  app.get('/v1/persons/:personId/notes/:noteId', {
    schema: {
      operationId: 'getNote',
      summary: 'A note at its latest version',
      tags,
      security,
      params: NoteParams,
      response: { 200: Note, ...problemResponses(400, 401, 403, 404, 429) },
    },
    handler: async (request, reply) => {
      const note = await notes.get(requestContext(request), request.params.personId, request.params.noteId);
      return reply.header('etag', etagFor(note.version)).send(note);
    },
  });

  app.put('/v1/persons/:personId/notes/:noteId', {
    schema: {
      operationId: 'reviseNote',
      summary: 'Revise a note: a new version (the author only; If-Match required)',
      tags,
      security,
      params: NoteParams,
      headers: IfMatchHeaders,
      body: NoteRevision,
      response: { 200: Note, ...problemResponses(400, 401, 403, 404, 409, 412, 422, 428, 429) },
    },
    handler: async (request, reply) => {
      const note = await notes.revise(
        requestContext(request),
        request.params.personId,
        request.params.noteId,
        request.body,
        parseIfMatch(request.headers['if-match']),
      );
      return reply.header('etag', etagFor(note.version)).send(note);
    },
  });

  app.delete('/v1/persons/:personId/notes/:noteId', {
    schema: {
      operationId: 'retractNote',
      summary: 'Retract a note: a tombstone version (the author only; If-Match required); no version is lost',
      tags,
      security,
      params: NoteParams,
      headers: IfMatchHeaders,
      response: { 200: Note, ...problemResponses(400, 401, 403, 404, 409, 412, 428, 429) },
    },
    handler: async (request, reply) => {
      const note = await notes.retract(
        requestContext(request),
        request.params.personId,
        request.params.noteId,
        parseIfMatch(request.headers['if-match']),
      );
      return reply.header('etag', etagFor(note.version)).send(note);
    },
  });

  app.get('/v1/persons/:personId/notes/:noteId/versions', {
    schema: {
      operationId: 'listNoteVersions',
      summary: 'Every version of a note',
      tags,
      security,
      params: NoteParams,
      querystring: PageQuery,
      response: { 200: page(NoteVersion, 'NoteVersionPage'), ...problemResponses(400, 401, 403, 404, 429) },
    },
    handler: async (request) => notes.versions(requestContext(request), request.params.personId, request.params.noteId, request.query),
  });

  app.get('/v1/persons/:personId/notes/:noteId/versions/:version', {
    schema: {
      operationId: 'getNoteVersion',
      summary: 'One version of a note',
      tags,
      security,
      params: NoteVersionParams,
      response: { 200: NoteVersion, ...problemResponses(400, 401, 403, 404, 429) },
    },
    handler: async (request) =>
      notes.version(requestContext(request), request.params.personId, request.params.noteId, request.params.version),
  });
};
