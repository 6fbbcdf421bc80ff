// Writes openapi/openapi.json from the route schemas (`npm run openapi`); a test fails on drift.
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kysely, PGliteDialect } from 'kysely';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import type { DB } from '../src/db/types.js';

export const OPENAPI_FILE = fileURLToPath(new URL('../openapi/openapi.json', import.meta.url));

/** The OpenAPI document as the code describes it; no database is opened to produce it. */
export async function generateOpenApi(): Promise<string> {
  const config = loadConfig({ NODE_ENV: 'test', JWT_SECRET: 'openapi-generation-needs-no-real-secret', LOG_LEVEL: 'silent' });
  // Kysely connects lazily: building the app and its document never touches this database.
  const db = new Kysely<DB>({
    dialect: new PGliteDialect({ pglite: () => Promise.reject(new Error('no database while generating OpenAPI')) }),
  });
  const app = await buildApp({
    config,
    database: { db, listen: async () => async () => {}, close: () => db.destroy() },
  });
  await app.ready();
  const document = JSON.stringify(app.swagger(), null, 2) + '\n';
  await app.close().catch(() => {});
  return document;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await mkdir(dirname(OPENAPI_FILE), { recursive: true });
  await writeFile(OPENAPI_FILE, await generateOpenApi());
  console.log(`wrote ${OPENAPI_FILE}`);
}
