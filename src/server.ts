// Process entry: config → database → migrations → buildApp → listen; graceful shutdown on signals.
import { buildApp } from './app.js';
import { loadConfigOrExit } from './config.js';
import { createDatabase } from './db/database.js';
import { migrateToLatest } from './db/migrate.js';

const SHUTDOWN_GRACE_MS = 10_000;

async function main(): Promise<void> {
  const config = loadConfigOrExit();

  const database = await createDatabase(config.database);
  if (config.migrateOnStart) await migrateToLatest(database.db);
  const app = await buildApp({ config, database });

  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) {
      app.log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    closing = true;
    app.log.info({ signal }, 'shutting down: finishing requests in flight, then closing the database');
    const timer = setTimeout(() => {
      app.log.error('shutdown took too long: exiting');
      process.exit(1);
    }, SHUTDOWN_GRACE_MS);
    timer.unref();
    app.close().then(
      () => process.exit(0),
      (error: unknown) => {
        app.log.error({ err: error }, 'error while shutting down');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));

  const address = await app.listen({ port: config.port, host: config.host });
  const where = database.kind === 'pglite' ? `embedded PostgreSQL (PGlite) in ${config.database.kind === 'pglite' ? config.database.dataDir : ''}` : 'PostgreSQL (DATABASE_URL)';
  app.log.info(`Kring listens on ${address} using ${where}`);
  app.log.info(`API documentation: ${address}/docs (OpenAPI: ${address}/openapi.json)`);
  if (config.jwt.kind === 'secret' && config.jwt.generated) {
    app.log.info(
      `Development JWT secret kept in ${config.jwt.secretFile}. Get a token with: npm run token -- --sub u1 --insz 85073003328 --name "An Peeters"`,
    );
  }
}

main().catch((error: unknown) => {
  console.error('Kring could not start:', error instanceof Error ? error.message : error);
  process.exit(1);
});
