// HTTP route of the live stream (Server-Sent Events); the connection is handed to the stream service.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { requestContext } from '../../http/request-context.js';
import { problemResponses } from '../../http/schemas.js';
import { PROBLEM_BASE, PROBLEM_CONTENT_TYPE } from '../../http/problem.js';
import { decodeStreamCursor, RETRY_MS, type StreamService } from './stream.service.js';

/** Bytes a slow client may leave unread before its stream is ended (it resumes with Last-Event-ID). */
const MAX_BUFFERED_BYTES = 1024 * 1024;

const StreamHeaders = z.object({
  'last-event-id': z.string().max(200).optional().meta({ description: 'The id of the last event received: resume after it.' }),
});
const StreamQuery = z.object({
  lastEventId: z
    .string()
    .max(200)
    .optional()
    .meta({ description: 'Like the Last-Event-ID header, for clients that cannot set it on the first connection; the header wins.' }),
});

export const streamRoutes: FastifyPluginAsyncZod<{ stream: StreamService }> = async (app, { stream }) => {
  app.get('/v1/events/stream', {
    schema: {
      operationId: 'streamEvents',
      summary: 'Live stream of the caller\'s relevant events across their plans (Server-Sent Events)',
      description:
        'text/event-stream. Each event: `id:` (an opaque resume cursor), `event:` (the event type) and `data:` (the thin ' +
        'event as JSON, as in the change feed). Only events the caller may receive at the moment they are sent: when access ' +
        'to a plan ends, the next event of that plan is no longer sent. A comment line is sent every 15 seconds as a ' +
        'heartbeat; `retry:` tells clients how long to wait before reconnecting. Reconnect with `Last-Event-ID` to replay ' +
        'what was missed (events of the caller\'s plans after that cursor, filtered by access now). The stream ends when ' +
        'the token expires.',
      tags: ['Push events'],
      security: [{ bearerAuth: [] }],
      headers: StreamHeaders,
      querystring: StreamQuery,
      response: {
        200: {
          description: 'An endless text/event-stream of `id`, `event` and `data` lines (data: an Event as JSON).',
          content: { 'text/event-stream': { schema: z.string() } },
        },
        ...problemResponses(400, 401, 429, 503),
      },
    },
    handler: async (request, reply) => {
      const { actor } = requestContext(request);
      // Validated before the stream starts, so a bad cursor is a 400 problem, not a broken stream.
      const after = decodeStreamCursor(request.headers['last-event-id'] ?? request.query.lastEventId);
      reply.hijack();
      const res = reply.raw;
      // Hijacked: the headers set so far (helmet, rate limit) are written here, not by fastify.
      const set = Object.entries(reply.getHeaders()).filter((entry): entry is [string, string | number | string[]] => entry[1] !== undefined);
      const headers = {
        ...Object.fromEntries(set),
        'x-request-id': request.id,
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        connection: 'keep-alive',
        // Proxies (nginx) must pass each event on at once, not buffer the response.
        'x-accel-buffering': 'no',
      };
      // The response starts with the stream's first frame (its starting id): whatever the client
      // writes once it sees the response is after that point and reaches it.
      const startResponse = () => {
        if (!res.headersSent) res.writeHead(200, headers);
      };
      const sink = {
        write: (chunk: string) => {
          startResponse();
          res.write(chunk);
          return res.writableLength <= MAX_BUFFERED_BYTES;
        },
        end: () => {
          startResponse();
          res.end();
        },
      };
      let close: (() => void) | undefined;
      let expiry: NodeJS.Timeout | undefined;
      res.on('close', () => {
        clearTimeout(expiry);
        close?.();
      });
      try {
        close = await stream.open(actor, sink, after);
      } catch (error) {
        request.log.error({ err: error }, 'live stream could not start');
        if (!res.headersSent) {
          res.writeHead(503, { 'content-type': PROBLEM_CONTENT_TYPE, 'x-request-id': request.id, 'retry-after': String(RETRY_MS / 1000) });
          res.end(JSON.stringify({ type: `${PROBLEM_BASE}not-ready`, title: 'Service Unavailable', status: 503, detail: 'The live stream could not start; try again.' }));
        } else res.end();
        return;
      }
      if (res.destroyed) close();
      // A stream lives no longer than the token that opened it.
      const exp = (request.user as { exp?: unknown } | undefined)?.exp;
      if (typeof exp === 'number') {
        expiry = setTimeout(() => close?.(), Math.max(0, exp * 1000 - Date.now()));
        expiry.unref();
      }
    },
  });

  // Before the server waits for open connections to finish: end the streams so shutdown never hangs.
  app.addHook('preClose', async () => {
    await stream.close();
  });
};
