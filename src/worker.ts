// Process entry of `npm run worker`: config → database → migrations → event dispatcher and webhook
// sender, without the HTTP API (run the service with DISPATCHER_ENABLED=false beside it); graceful shutdown on signals.
import pino from 'pino';
import { loadConfigOrExit } from './config.js';
import { createDatabase } from './db/database.js';
import { migrateToLatest } from './db/migrate.js';
import { loggerOptions } from './http/logging.js';
import { createWebhookWorker } from './modules/webhooks/webhooks.worker.js';
import { recordNotifications } from './modules/notifications/notifications.fanout.js';

const SHUTDOWN_GRACE_MS = 10_000;

async function main(): Promise<void> {
  const config = loadConfigOrExit();

  const log = pino(loggerOptions(config.logLevel));
  const database = await createDatabase(config.database);
  if (config.migrateOnStart) await migrateToLatest(database.db);
  const worker = createWebhookWorker({ database, clock: () => new Date(), allowPrivate: config.webhookAllowPrivate, logger: log, fanOuts: [recordNotifications] });
  await worker.start();
  log.info(`Kring worker dispatching events and sending webhooks using ${database.kind === 'pglite' ? 'embedded PostgreSQL (PGlite)' : 'PostgreSQL (DATABASE_URL)'}`);

  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    closing = true;
    log.info({ signal }, 'shutting down: finishing the batch in progress, then closing the database');
    const timer = setTimeout(() => {
      log.error('shutdown took too long: exiting');
      process.exit(1);
    }, SHUTDOWN_GRACE_MS);
    timer.unref();
    worker
      .stop()
      .then(() => database.close())
      .then(
        () => process.exit(0),
        (error: unknown) => {
          log.error({ err: error }, 'error while shutting down');
          process.exit(1);
        },
      );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

main().catch((error: unknown) => {
  console.error('Kring worker could not start:', error instanceof Error ? error.message : error);
  process.exit(1);
});
