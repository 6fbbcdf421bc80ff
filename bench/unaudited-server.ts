// The service exactly as src/server.ts builds it, except that reads write no audit entry: only
// the benchmark starts it, to measure what auditing reads costs (issue 6: at most 25%).
// Never deploy this: every read of a plan must be audited.
import type { Kysely } from 'kysely';
import { buildApp } from '../src/app.js';
import { loadConfigOrExit } from '../src/config.js';
import { createDatabase } from '../src/db/database.js';
import type { DB } from '../src/db/types.js';
import { createAccessContextCache } from '../src/modules/access/access.cache.js';
import type { ReadJournal } from '../src/modules/journal/read-journal.js';

const config = loadConfigOrExit();
const database = await createDatabase(config.database);
// Decides on cached relations as the service's read journal does, so that the two differ only in
// the audit entry (here nothing checks a cached decision: another reason never to deploy this).
const unaudited = (db: Kysely<DB>): ReadJournal => {
  const { reader } = createAccessContextCache(db);
  return { read: (_journal, work) => work(reader, () => {}), drain: async () => {} };
};
const app = await buildApp({ config, database, readJournal: unaudited(database.db) });
await app.listen({ port: config.port, host: config.host });
const stop = () => void app.close().then(() => process.exit(0));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
