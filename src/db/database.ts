// Creates the Kysely instance on a pg pool (DATABASE_URL) or on embedded PGlite, behind one interface.
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { Kysely, PGliteDialect, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import type { DB } from './types.js';

export type Database = Kysely<DB>;

export type DatabaseSettings =
  | { kind: 'postgres'; url: string; poolSize: number }
  | { kind: 'pglite'; dataDir?: string };

export interface DatabaseHandle {
  db: Database;
  kind: 'postgres' | 'pglite';
  /** Subscribes to NOTIFY messages on a channel (from any instance); resolves to an unsubscribe. */
  listen(channel: string, onMessage: (payload: string) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

/** One dedicated connection carries every LISTEN of a pg-backed handle; it reconnects when lost. */
function createPgListener(url: string) {
  const handlers = new Map<string, Set<(payload: string) => void>>();
  let client: pg.Client | undefined;
  let connecting: Promise<pg.Client> | undefined;
  let closed = false;

  const connect = (): Promise<pg.Client> => {
    connecting ??= (async () => {
      const c = new pg.Client({ connectionString: url });
      c.on('notification', (message) => {
        for (const handler of handlers.get(message.channel) ?? []) handler(message.payload ?? '');
      });
      c.on('error', () => {
        // Reconnect and listen again; messages sent meanwhile are caught up by the consumers' polling.
        client = undefined;
        connecting = undefined;
        if (!closed) setTimeout(() => void connect().catch(() => {}), 1000).unref();
      });
      await c.connect();
      for (const channel of handlers.keys()) await c.query(`listen ${pg.escapeIdentifier(channel)}`);
      client = c;
      return c;
    })();
    return connecting;
  };

  return {
    async listen(channel: string, onMessage: (payload: string) => void) {
      const isNew = !handlers.has(channel);
      if (isNew) handlers.set(channel, new Set());
      handlers.get(channel)!.add(onMessage);
      const c = await connect();
      if (isNew) await c.query(`listen ${pg.escapeIdentifier(channel)}`);
      return async () => {
        handlers.get(channel)?.delete(onMessage);
      };
    },
    async close() {
      closed = true;
      await client?.end().catch(() => {});
    },
  };
}

// int8 counters fit in a JS number; dates stay 'YYYY-MM-DD' strings (never shifted by a time zone).
const INT8_OID = 20;
const DATE_OID = 1082;

// Named prepared statements: PostgreSQL parses and plans each distinct statement once per
// connection instead of on every execution (planning was the largest part of a short read's
// database time). Statements with many parameters (long IN lists) stay unnamed, so the number of
// statements a connection keeps is bounded by the application's own SQL.
const MAX_PREPARED_PARAMETERS = 100;
// "cached plan must not change result type": a migration changed a table under a prepared
// statement (another instance's deploy). The connection then prepares under fresh names.
const CACHED_PLAN_CHANGED = '0A000';
const PREPARING = Symbol('preparing statements');
type PreparingClient = pg.Client & { [PREPARING]?: { generation: number } };

function preparingStatements(client: PreparingClient): void {
  if (client[PREPARING]) return;
  const state = { generation: 0 };
  client[PREPARING] = state;
  const query = client.query.bind(client) as (config: unknown, values?: unknown) => Promise<unknown>;
  const named = (text: string, values: unknown[]) => query({ name: `${statementName(text)}_${state.generation}`, text, values });
  client.query = (async (text: unknown, values?: unknown) => {
    if (typeof text !== 'string' || !Array.isArray(values) || values.length === 0 || values.length > MAX_PREPARED_PARAMETERS) {
      return query(text, values);
    }
    try {
      return await named(text, values);
    } catch (error) {
      if ((error as { code?: unknown }).code !== CACHED_PLAN_CHANGED) throw error;
      state.generation += 1;
      return named(text, values);
    }
  }) as typeof client.query;
}

const statementNames = new Map<string, string>();
function statementName(text: string): string {
  let name = statementNames.get(text);
  if (name === undefined) {
    name = `k${createHash('sha1').update(text).digest('hex')}`;
    if (statementNames.size < 10_000) statementNames.set(text, name);
  }
  return name;
}

export async function createDatabase(settings: DatabaseSettings): Promise<DatabaseHandle> {
  if (settings.kind === 'postgres') {
    const pool = new pg.Pool({
      connectionString: settings.url,
      max: settings.poolSize,
      types: {
        getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
          if (oid === INT8_OID) return (value: string) => Number(value);
          if (oid === DATE_OID) return (value: string) => value;
          return pg.types.getTypeParser(oid, format as 'text');
        }) as typeof pg.types.getTypeParser,
      },
    });
    // An idle client losing its connection must not crash the process.
    pool.on('error', () => {});
    pool.on('connect', (client) => {
      // Every statement here is keyed by ids, so one generic plan per prepared statement serves
      // all executions; by default PostgreSQL would keep planning custom ones for array parameters.
      client.query('set plan_cache_mode = force_generic_plan').catch(() => {});
      preparingStatements(client);
    });
    const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool }) });
    const listener = createPgListener(settings.url);
    return {
      db,
      kind: 'postgres',
      listen: listener.listen,
      close: async () => {
        await listener.close();
        await db.destroy();
      },
    };
  }

  const { PGlite } = await import('@electric-sql/pglite');
  if (settings.dataDir) mkdirSync(settings.dataDir, { recursive: true });
  const pglite = await PGlite.create(settings.dataDir, {
    parsers: {
      [INT8_OID]: (value: string) => Number(value),
      [DATE_OID]: (value: string) => value,
    },
  });
  const db = new Kysely<DB>({ dialect: new PGliteDialect({ pglite }) });
  return {
    db,
    kind: 'pglite',
    listen: async (channel, onMessage) => {
      const unsubscribe = await pglite.listen(channel, onMessage);
      return async () => unsubscribe();
    },
    close: () => db.destroy(),
  };
}

export async function isDatabaseReachable(db: Database): Promise<boolean> {
  try {
    await sql`select 1`.execute(db);
    return true;
  } catch {
    return false;
  }
}
