// Stored first answers of POST requests that carried an Idempotency-Key, per caller.
import { sql, type Kysely } from 'kysely';
import type { DB } from '../../db/types.js';

/** A pending reservation older than this is taken to be abandoned (its process died). */
const ABANDONED_AFTER_SECONDS = 60;
const KEPT_FOR_HOURS = 24;

export type Reservation =
  | { kind: 'reserved' }
  | { kind: 'existing'; requestHash: string; completed: boolean; statusCode: number | null; body: string | null; contentType: string | null; location: string | null };

export async function reserveKey(db: Kysely<DB>, actorSub: string, key: string, requestHash: string): Promise<Reservation> {
  const inserted = await db
    .insertInto('idempotency_keys')
    .values({ actor_sub: actorSub, key, request_hash: requestHash })
    .onConflict((oc) =>
      oc.columns(['actor_sub', 'key']).doUpdateSet({ request_hash: requestHash, created_at: sql`now()` }).where((eb) =>
        eb.or([
          eb.and([
            eb('idempotency_keys.completed_at', 'is', null),
            eb('idempotency_keys.created_at', '<', sql<Date>`now() - make_interval(secs => ${ABANDONED_AFTER_SECONDS})`),
          ]),
          eb('idempotency_keys.created_at', '<', sql<Date>`now() - make_interval(hours => ${KEPT_FOR_HOURS})`),
        ]),
      ),
    )
    .returning('key')
    .executeTakeFirst();
  if (inserted) return { kind: 'reserved' };
  const row = await db
    .selectFrom('idempotency_keys')
    .selectAll()
    .where('actor_sub', '=', actorSub)
    .where('key', '=', key)
    .executeTakeFirstOrThrow();
  return {
    kind: 'existing',
    requestHash: row.request_hash,
    completed: row.completed_at !== null,
    statusCode: row.status_code,
    body: row.response_body,
    contentType: row.response_type,
    location: row.response_location,
  };
}

export async function completeKey(
  db: Kysely<DB>,
  actorSub: string,
  key: string,
  response: { statusCode: number; body: string; contentType: string | null; location: string | null },
): Promise<void> {
  await db
    .updateTable('idempotency_keys')
    .set({
      status_code: response.statusCode,
      response_body: response.body,
      response_type: response.contentType,
      response_location: response.location,
      completed_at: sql`now()`,
    })
    .where('actor_sub', '=', actorSub)
    .where('key', '=', key)
    .execute();
}

export async function releaseKey(db: Kysely<DB>, actorSub: string, key: string): Promise<void> {
  await db.deleteFrom('idempotency_keys').where('actor_sub', '=', actorSub).where('key', '=', key).where('completed_at', 'is', null).execute();
}
