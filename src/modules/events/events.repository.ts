// SQL for reading recorded events (the outbox) per person and across persons.
import type { Kysely, Selectable } from 'kysely';
import type { DB, OutboxEvents } from '../../db/types.js';
import type { KringEvent } from './events.schemas.js';

export type EventRow = Selectable<OutboxEvents>;

/** A person's events after a sequence number, in commit order (the sequence is assigned under a lock). */
export async function listPersonEvents(db: Kysely<DB>, personId: string, afterSeq: number, limit: number): Promise<EventRow[]> {
  return db
    .selectFrom('outbox_events')
    .selectAll()
    .where('person_id', '=', personId)
    .where('seq', '>', afterSeq)
    .orderBy('seq')
    .limit(limit)
    .execute();
}

export function eventRowToEvent(row: EventRow): KringEvent {
  return {
    id: row.event_id,
    type: row.type as KringEvent['type'],
    occurredAt: row.occurred_at.toISOString(),
    personId: row.person_id,
    seq: row.seq,
    data: row.data as KringEvent['data'],
  };
}
