// SQL for the live stream: the announced events, catching up by outbox position, and replay for one caller.
import type { Kysely } from 'kysely';
import type { DB } from '../../db/types.js';
import { relatedPersonIds } from '../access/access.repository.js';
import type { Actor } from '../access/access.types.js';
import type { EventRow } from '../events/events.repository.js';

export async function maxPosition(db: Kysely<DB>): Promise<number> {
  const row = await db
    .selectFrom('outbox_events')
    .select((eb) => eb.fn.max('position').as('position'))
    .executeTakeFirst();
  return Number(row?.position ?? 0);
}

/** The events announced as [personId, seq] pairs, in outbox order. */
export async function eventsByRefs(db: Kysely<DB>, refs: Array<[string, number]>): Promise<EventRow[]> {
  if (refs.length === 0) return [];
  return db
    .selectFrom('outbox_events')
    .selectAll()
    .where((eb) => eb(eb.refTuple('person_id', 'seq'), 'in', refs.map(([personId, seq]) => eb.tuple(personId, seq))))
    .orderBy('position')
    .execute();
}

/** Every event after a position (to look when an announcement was too long or may have been lost). */
export async function eventsAfter(db: Kysely<DB>, afterPosition: number, limit: number): Promise<EventRow[]> {
  return db
    .selectFrom('outbox_events')
    .selectAll()
    .where('position', '>', afterPosition)
    .orderBy('position')
    .limit(limit)
    .execute();
}

/** The events after a position of the persons the caller may be related to (the policy narrows them further). */
export async function relatedEventsAfter(db: Kysely<DB>, actor: Actor, afterPosition: number, now: Date, limit: number): Promise<EventRow[]> {
  return db
    .selectFrom('outbox_events')
    .selectAll()
    .where('person_id', 'in', relatedPersonIds(db, actor, now))
    .where('position', '>', afterPosition)
    .orderBy('position')
    .limit(limit)
    .execute();
}
