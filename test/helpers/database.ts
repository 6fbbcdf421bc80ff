// One database per test file: on PostgreSQL (DATABASE_URL) a copy of a migrated template
// database; without it an in-memory PGlite, migrated.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { createDatabase, type DatabaseHandle } from '../../src/db/database.js';
import { MIGRATIONS_DIR, migrateToLatest } from '../../src/db/migrate.js';

export const usingPostgres = (): boolean => Boolean(process.env.DATABASE_URL);

function migrationsFingerprint(): string {
  const hash = createHash('sha256');
  for (const file of readdirSync(MIGRATIONS_DIR).sort()) hash.update(file).update(readFileSync(join(MIGRATIONS_DIR, file)));
  return hash.digest('hex').slice(0, 16);
}

const withDatabase = (url: string, database: string): string => {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
};

async function ensureTemplate(admin: pg.Client, adminUrl: string): Promise<string> {
  const template = `kring_template_${migrationsFingerprint()}`;
  // Test files run in parallel: one builds the template, the others wait for it.
  await admin.query('select pg_advisory_lock(hashtext($1))', [template]);
  try {
    const exists = await admin.query('select 1 from pg_database where datname = $1', [template]);
    if (exists.rowCount === 0) {
      const building = `${template}_building_${process.pid}`;
      await admin.query(`drop database if exists "${building}"`);
      await admin.query(`create database "${building}"`);
      const handle = await createDatabase({ kind: 'postgres', url: withDatabase(adminUrl, building), poolSize: 1 });
      try {
        await migrateToLatest(handle.db);
      } finally {
        await handle.close();
      }
      await admin.query(`alter database "${building}" rename to "${template}"`);
    }
  } finally {
    await admin.query('select pg_advisory_unlock(hashtext($1))', [template]);
  }
  return template;
}

export interface TestDatabase extends DatabaseHandle {
  /** For tests that need a second, independent connection pool (e.g. two dispatchers). */
  url?: string;
  drop(): Promise<void>;
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const adminUrl = process.env.DATABASE_URL;
  if (!adminUrl) {
    const handle = await createDatabase({ kind: 'pglite' });
    await migrateToLatest(handle.db);
    return { ...handle, drop: async () => {} };
  }
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    const template = await ensureTemplate(admin, adminUrl);
    const name = `kring_test_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
    await admin.query(`create database "${name}" template "${template}"`);
    const url = withDatabase(adminUrl, name);
    const handle = await createDatabase({ kind: 'postgres', url, poolSize: 5 });
    return {
      ...handle,
      url,
      drop: async () => {
        const client = new pg.Client({ connectionString: adminUrl });
        await client.connect();
        try {
          await client.query(`drop database if exists "${name}" with (force)`);
        } finally {
          await client.end();
        }
      },
    };
  } finally {
    await admin.end();
  }
}
