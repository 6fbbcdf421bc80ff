// Builds the app on its own test database; everything is closed and dropped when the test ends.
import { Writable } from 'node:stream';
import pino from 'pino';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import type { Clock } from '../../src/lib/context.js';
import { createTestDatabase, type TestDatabase } from './database.js';
import { TEST_SECRET } from './tokens.js';

interface Teardownable {
  teardown(fn: () => unknown): void;
}

export interface TestApp {
  app: Awaited<ReturnType<typeof buildApp>>;
  database: TestDatabase;
  /** Every log line the app wrote, as text (for redaction tests). */
  logs: string[];
}

export async function buildTestApp(
  t: Teardownable,
  options: { env?: Record<string, string>; clock?: Clock; database?: TestDatabase } = {},
): Promise<TestApp> {
  const config = loadConfig({ NODE_ENV: 'test', JWT_SECRET: TEST_SECRET, LOG_LEVEL: 'info', ...options.env });
  const database = options.database ?? (await createTestDatabase());
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      logs.push(String(chunk));
      done();
    },
  });
  const logger = pino({ level: 'info', ...(await import('../../src/http/logging.js')).loggerOptions('info') }, sink);
  const app = await buildApp({ config, database, clock: options.clock, logger });
  t.teardown(async () => {
    await app.close();
    await database.drop();
  });
  return { app, database, logs };
}
