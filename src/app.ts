// buildApp: the composition root. Wires configuration, database and modules by hand; never reads process.env.
import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Config } from './config.js';
import type { DatabaseHandle } from './db/database.js';
import { authPlugin } from './http/auth.js';
import { healthRoutes } from './http/health.routes.js';
import { idempotencyPlugin } from './http/idempotency.js';
import { loggerOptions } from './http/logging.js';
import { openApiPlugin } from './http/openapi.js';
import { registerProblemHandlers } from './http/problem.js';
import type { Clock } from './lib/context.js';
import { tooManyRequests } from './lib/errors.js';
import { newId } from './lib/ids.js';
import { goalsRoutes } from './modules/goals/goals.routes.js';
import { eventsRoutes } from './modules/events/events.routes.js';
import { createChangesService } from './modules/events/changes.service.js';
import { notificationsRoutes } from './modules/notifications/notifications.routes.js';
import { createNotificationsService } from './modules/notifications/notifications.service.js';
import { streamRoutes } from './modules/stream/stream.routes.js';
import { createStreamService } from './modules/stream/stream.service.js';
import { notesRoutes } from './modules/notes/notes.routes.js';
import { recordNotifications } from './modules/notifications/notifications.fanout.js';
import { overviewRoutes } from './modules/overview/overview.routes.js';
import { createReadJournal, type ReadJournal } from './modules/journal/read-journal.js';
import { createOverviewService } from './modules/overview/overview.service.js';
import { createNotesService } from './modules/notes/notes.service.js';
import { createGoalsService } from './modules/goals/goals.service.js';
import { tasksRoutes } from './modules/tasks/tasks.routes.js';
import { createTasksService } from './modules/tasks/tasks.service.js';
import { careDocumentsRoutes } from './modules/care-documents/care-documents.routes.js';
import { createCareDocumentsService } from './modules/care-documents/care-documents.service.js';
import { meetingsRoutes } from './modules/meetings/meetings.routes.js';
import { createMeetingsService } from './modules/meetings/meetings.service.js';
import { emergencyRoutes } from './modules/emergency/emergency.routes.js';
import { fhirRoutes } from './modules/fhir/fhir.routes.js';
import { createFhirService } from './modules/fhir/fhir.service.js';
import { createEmergencyService } from './modules/emergency/emergency.service.js';
import { accessLogRoutes } from './modules/journal/access-log.routes.js';
import { createAccessLogService } from './modules/journal/access-log.service.js';
import { personsRoutes } from './modules/persons/persons.routes.js';
import { createPersonsService } from './modules/persons/persons.service.js';
import { teamRoutes } from './modules/team/team.routes.js';
import { createTeamService } from './modules/team/team.service.js';
import { webhooksRoutes } from './modules/webhooks/webhooks.routes.js';
import { createWebhooksService } from './modules/webhooks/webhooks.service.js';
import { createWebhookWorker } from './modules/webhooks/webhooks.worker.js';

export interface AppDeps {
  config: Config;
  /** The database, its LISTEN channel, and how to close both; closed with the app. */
  database: Pick<DatabaseHandle, 'db' | 'listen' | 'close'>;
  clock?: Clock;
  /** A ready pino logger (tests pass one writing to memory); otherwise built from config. */
  logger?: FastifyBaseLogger;
  /** How reads append their audit entries; the benchmark swaps it to measure what auditing costs. */
  readJournal?: ReadJournal;
}

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const { config, database } = deps;
  const { db } = database;
  const clock = deps.clock ?? (() => new Date());

  const base = Fastify({
    ...(deps.logger ? { loggerInstance: deps.logger } : { logger: loggerOptions(config.logLevel) }),
    bodyLimit: config.bodyLimitBytes,
    genReqId: () => newId(),
    requestIdHeader: false,
    trustProxy: false,
    return503OnClosing: true,
    routerOptions: { ignoreTrailingSlash: true },
  });
  const app = base.withTypeProvider<ZodTypeProvider>();

  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  registerProblemHandlers(base);
  app.addHook('onSend', async (request, reply, payload) => {
    reply.header('x-request-id', request.id);
    return payload;
  });

  await app.register(helmet, { global: true, contentSecurityPolicy: { directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } } });
  await app.register(openApiPlugin);
  await app.register(authPlugin, { jwt: config.jwt });
  await app.register(rateLimit, {
    global: true,
    hook: 'preHandler',
    max: config.rateLimitPerMinute,
    timeWindow: 60_000,
    // Per token subject: one caller cannot starve others behind the same address.
    keyGenerator: (request) => (request.actor ? `sub:${request.actor.sub}` : `ip:${request.ip}`),
    errorResponseBuilder: (_request, context) =>
      tooManyRequests(`Too many requests; try again in ${Math.ceil(context.ttl / 1000)} seconds.`, Math.ceil(context.ttl / 1000)),
  });
  await app.register(idempotencyPlugin, { db });

  // Reads append their audit entries in shared transactions (see read-journal.ts).
  const reads = deps.readJournal ?? createReadJournal(db);
  const persons = createPersonsService({ db, clock, reads });
  const team = createTeamService({ db, clock, reads, invitationValidDays: config.invitationValidDays });
  const emergency = createEmergencyService({ db, clock, emergencyAccessHours: config.emergencyAccessHours });
  const accessLog = createAccessLogService({ db, clock });
  const goals = createGoalsService({ db, clock, reads });
  const tasks = createTasksService({ db, clock, reads });
  const careDocuments = createCareDocumentsService({ db, clock, reads });
  const meetings = createMeetingsService({ db, clock, reads });
  const notes = createNotesService({ db, clock, reads, noteBodyMaxBytes: config.noteBodyMaxBytes });
  const overview = createOverviewService({ db, clock, reads });
  const changes = createChangesService({ db, clock });
  const webhooks = createWebhooksService({ db, clock, allowPrivate: config.webhookAllowPrivate });
  const notifications = createNotificationsService({ db, clock });
  const stream = createStreamService({ db, listen: database.listen, clock, heartbeatMs: config.streamHeartbeatMs, log: app.log });
  const fhir = createFhirService({ db, clock, reads, persons, goals, tasks, notes, careDocuments, meetings });

  await app.register(healthRoutes, { db });
  await app.register(personsRoutes, { persons });
  await app.register(teamRoutes, { team });
  await app.register(emergencyRoutes, { emergency });
  await app.register(accessLogRoutes, { accessLog });
  await app.register(goalsRoutes, { goals });
  await app.register(tasksRoutes, { tasks });
  await app.register(careDocumentsRoutes, { careDocuments });
  await app.register(meetingsRoutes, { meetings });
  await app.register(notesRoutes, { notes });
  await app.register(overviewRoutes, { overview });
  await app.register(eventsRoutes, { changes });
  await app.register(webhooksRoutes, { webhooks });
  await app.register(notificationsRoutes, { notifications });
  await app.register(streamRoutes, { stream });
  await app.register(fhirRoutes, { fhir, prefix: '/fhir/R4' });

  // The dispatcher and the webhook sender run inside the service unless `npm run worker` runs them apart.
  if (config.dispatcherEnabled) {
    const worker = createWebhookWorker({ database, clock, allowPrivate: config.webhookAllowPrivate, logger: app.log, fanOuts: [recordNotifications] });
    app.addHook('onReady', async () => worker.start());
    // preClose runs before every onClose hook: the worker stops before the database closes.
    app.addHook('preClose', async () => worker.stop());
  }

  app.addHook('onClose', async () => {
    await reads.drain();
    await database.close();
  });
  return base;
}
