// Process entry for applying migrations apart from the service (a deploy step, or instances that
// run with MIGRATE_ON_START=false): the same migrator and lock as the service's start.
import { loadConfigOrExit } from './config.js';
import { createDatabase } from './db/database.js';
import { migrateToLatest } from './db/migrate.js';

const config = loadConfigOrExit();
const database = await createDatabase(config.database);
try {
  const { results = [] } = await migrateToLatest(database.db);
  const applied = results.filter((r) => r.status === 'Success').map((r) => r.migrationName);
  console.log(applied.length === 0 ? 'No pending migrations.' : `Applied: ${applied.join(', ')}`);
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  process.exitCode = 1;
} finally {
  await database.close();
}
