import t from 'tap';
import { sql } from 'kysely';
import { splitSqlStatements, migrateToLatest, hasPendingMigrations } from '../src/db/migrate.js';
import { createTestDatabase } from './helpers/database.js';
import { createDatabase } from '../src/db/database.js';

t.test('splits SQL scripts on semicolons outside quotes, dollar quotes and comments', async (t) => {
  const script = `
    -- a comment; with a semicolon
    create table a (x text default 'a;b');
    /* block; comment */
    create function f() returns trigger language plpgsql as $$ begin raise exception 'x;y'; end $$;
    select "odd;name" from a;`;
  const statements = splitSqlStatements(script);
  t.equal(statements.length, 3);
  t.match(statements[1], /\$\$ begin raise exception 'x;y'; end \$\$/);
});

t.test('migrations apply from an empty database and twice at once', async (t) => {
  const fresh = await createDatabase({ kind: 'pglite' });
  t.teardown(() => fresh.close());
  t.ok(await hasPendingMigrations(fresh.db), 'an empty database has pending migrations');
  // Two instances starting at once: the migrator's lock makes the second find nothing to do.
  const [a, b] = await Promise.all([migrateToLatest(fresh.db), migrateToLatest(fresh.db)]);
  const applied = [...(a.results ?? []), ...(b.results ?? [])].filter((r) => r.status === 'Success');
  t.equal(applied.length, (await import('node:fs')).readdirSync(new URL('../migrations/', import.meta.url)).length);
  t.notOk(await hasPendingMigrations(fresh.db));
});

t.test('audit entries are append-only in the database itself', async (t) => {
  const database = await createTestDatabase();
  t.teardown(async () => {
    await database.close();
    await database.drop();
  });
  await t.rejects(sql`update audit_entries set action = 'x'`.execute(database.db).then(async () => {
    // no rows yet: insert one through raw SQL to prove the trigger fires on a real row
    await sql`insert into persons (person_id, identifier_system, identifier_value, given_name, family_name, owner_sub, created_by_sub)
              values ('00000000-0000-7000-8000-000000000001', 'other', 'x', 'A', 'B', 's', 's')`.execute(database.db);
    await sql`insert into audit_entries (person_id, seq, occurred_at, actor_sub, actor_role, action, resource_type, prev_hash, hash)
              values ('00000000-0000-7000-8000-000000000001', 1, now(), 's', 'person', 'read', 'person', '', 'h')`.execute(database.db);
    await sql`update audit_entries set action = 'create'`.execute(database.db);
  }), /append-only/);
  await t.rejects(sql`delete from audit_entries`.execute(database.db), /append-only/);
});
