// Liveness and readiness: ready means the database answers and every migration is applied.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import { isDatabaseReachable } from '../db/database.js';
import { hasPendingMigrations } from '../db/migrate.js';
import type { DB } from '../db/types.js';
import { AppError } from '../lib/errors.js';
import { problemResponses } from './schemas.js';

const Health = z.object({ status: z.enum(['ok', 'ready']) }).meta({ id: 'Health' });

export const healthRoutes: FastifyPluginAsyncZod<{ db: Kysely<DB> }> = async (app, { db }) => {
  // Once all migrations were seen applied they stay applied (migrations only move forward).
  let migrated = false;

  app.get('/health/live', {
    config: { public: true, rateLimit: false },
    schema: { operationId: 'live', tags: ['Operations'], response: { 200: Health } },
    handler: async () => ({ status: 'ok' as const }),
  });

  app.get('/health/ready', {
    config: { public: true, rateLimit: false },
    schema: { operationId: 'ready', tags: ['Operations'], response: { 200: Health, ...problemResponses(503) } },
    handler: async () => {
      if (!(await isDatabaseReachable(db))) {
        throw new AppError(503, 'not-ready', 'Service Unavailable', 'The database is not reachable.');
      }
      if (!migrated) {
        migrated = !(await hasPendingMigrations(db).catch(() => true));
        if (!migrated) throw new AppError(503, 'not-ready', 'Service Unavailable', 'Migrations are pending.');
      }
      return { status: 'ready' as const };
    },
  });
};
