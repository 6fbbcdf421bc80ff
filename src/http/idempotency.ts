// Idempotency-Key on POST: a retry with the same key and body gets the first answer (same status
// and body); the same key with another body is 422; a retry while the first still runs is 409.
import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Kysely } from 'kysely';
import type { DB } from '../db/types.js';
import { badRequest, conflict, unprocessable } from '../lib/errors.js';
import { completeKey, releaseKey, reserveKey } from '../modules/idempotency/idempotency.repository.js';

declare module 'fastify' {
  interface FastifyRequest {
    idempotencyKey?: string;
  }
}

const HEADER = 'idempotency-key';

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value as object)
        .sort()
        .map((k) => [k, canonical((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

const requestHash = (method: string, url: string, body: unknown): string =>
  createHash('sha256').update(`${method} ${url}\n`).update(JSON.stringify(canonical(body ?? null))).digest('hex');

export const idempotencyPlugin = fp(
  async (app: FastifyInstance, opts: { db: Kysely<DB> }) => {
    app.addHook('preHandler', async (request, reply) => {
      if (request.method !== 'POST' || !request.actor) return;
      const key = request.headers[HEADER];
      if (key === undefined) return;
      if (typeof key !== 'string' || !/^[\x21-\x7e]{1,255}$/.test(key)) {
        throw badRequest('Idempotency-Key must be 1 to 255 visible ASCII characters.', [
          { path: 'Idempotency-Key', message: 'invalid' },
        ]);
      }
      const hash = requestHash(request.method, request.url, request.body);
      const reservation = await reserveKey(opts.db, request.actor.sub, key, hash);
      if (reservation.kind === 'reserved') {
        request.idempotencyKey = key;
        return;
      }
      if (reservation.requestHash !== hash) {
        throw unprocessable('This Idempotency-Key was used with another request.', [
          { path: 'Idempotency-Key', message: 'already used with a different body' },
        ]);
      }
      if (!reservation.completed) throw conflict('A request with this Idempotency-Key is still being processed.');
      reply.code(reservation.statusCode ?? 200).header('idempotent-replayed', 'true');
      if (reservation.contentType) reply.header('content-type', reservation.contentType);
      if (reservation.location) reply.header('location', reservation.location);
      return reply.send(reservation.body ?? '');
    });

    app.addHook('onSend', async (request, reply, payload) => {
      const key = request.idempotencyKey;
      if (key === undefined || !request.actor) return payload;
      request.idempotencyKey = undefined;
      // Server failures are not remembered: the client may retry them with the same key.
      if (reply.statusCode >= 500 || typeof payload !== 'string') {
        await releaseKey(opts.db, request.actor.sub, key);
        return payload;
      }
      await completeKey(opts.db, request.actor.sub, key, {
        statusCode: reply.statusCode,
        body: payload,
        contentType: (reply.getHeader('content-type') as string | undefined) ?? null,
        location: (reply.getHeader('location') as string | undefined) ?? null,
      });
      return payload;
    });
  },
  { name: 'kring-idempotency', dependencies: ['kring-auth'] },
);
