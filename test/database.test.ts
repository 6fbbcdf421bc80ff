// The database layer on PostgreSQL: statements are prepared once per connection, and a table
// changed under a prepared statement (a migration by another instance) does not break queries.
import t from 'tap';
import { sql } from 'kysely';
import { createDatabase } from '../src/db/database.js';
import { createTestDatabase, usingPostgres } from './helpers/database.js';

t.test('prepared statements', { skip: usingPostgres() ? false : 'PGlite runs in process: nothing to prepare' }, async (t) => {
  const test = await createTestDatabase();
  t.teardown(() => test.drop());
  await test.close();
  // One connection, so every statement below meets the same session.
  const { db, close } = await createDatabase({ kind: 'postgres', url: test.url!, poolSize: 1 });
  t.teardown(close);

  const mode = await sql<{ plan_cache_mode: string }>`show plan_cache_mode`.execute(db);
  t.equal(mode.rows[0]!.plan_cache_mode, 'force_generic_plan', 'one generic plan per prepared statement');

  await sql`create table probe (id int primary key, label text)`.execute(db);
  await sql`insert into probe values (1, 'een'), (2, 'twee')`.execute(db);
  const read = (id: number) => sql<Record<string, unknown>>`select * from probe where id = ${id}`.execute(db);
  t.same((await read(1)).rows, [{ id: 1, label: 'een' }]);
  t.same((await read(2)).rows, [{ id: 2, label: 'twee' }], 'the same statement, executed again');
  const prepared = await sql<{ statement: string }>`select statement from pg_prepared_statements`.execute(db);
  t.equal(prepared.rows.filter((r) => r.statement.includes('from probe')).length, 1, 'prepared once on the connection');

  await sql`alter table probe add column note text`.execute(db);
  t.same((await read(1)).rows, [{ id: 1, label: 'een', note: null }], 'a changed table is prepared again, not an error');
  t.same((await read(2)).rows, [{ id: 2, label: 'twee', note: null }]);

  const many = Array.from({ length: 150 }, (_, i) => i);
  const wide = await sql<{ n: number }>`select count(*)::int as n from probe where id in (${sql.join(many)})`.execute(db);
  t.equal(wide.rows[0]!.n, 2, 'statements with many parameters run unnamed');
  const after = await sql<{ n: number }>`select count(*)::int as n from pg_prepared_statements where statement like '%id in (%'`.execute(db);
  t.equal(after.rows[0]!.n, 0);
});
