// SQL for the live stream: numbering committed events in commit order (the sequencer), and reading
// them in that order, for the whole instance or for one caller's replay.
import { sql, type Kysely } from 'kysely';
import type { DB } from '../../db/types.js';
import { relatedPersonIds } from '../access/access.repository.js';
import type { Actor } from '../access/access.types.js';
import type { EventRow } from '../events/events.repository.js';

export type StreamEventRow = EventRow & { stream_position: number };

/**
 * Gives the next stream positions to events whose transaction committed since the last run, at
 * most `limit` of them, in outbox order (which is each person's seq order). Answers how many it
 * numbered: fewer than `limit` means the stream is up to date with what had committed when it ran.
 */
export async function sequenceCommittedEvents(db: Kysely<DB>, limit: number): Promise<number> {
  return db.transaction().execute(async (trx) => {
    // First statement: wait for the previous run to commit. The next statement then takes its
    // snapshot after it, seeing that run's numbers and everything committed before it.
    await trx.selectFrom('stream_sequencer').select('last_position').forUpdate().execute();
    // One statement, one snapshot: the events it finds are exactly those visible now and not in the
    // stored snapshot; that snapshot moves to now only when every one of them was numbered.
    const { rows } = await sql<{ numbered: string }>`
      with head as (select last_position, seen from stream_sequencer),
      -- Not visible in the stored snapshot: written by a transaction that began after it (xid at or
      -- above its xmax) or was in progress then (in its xip list). Both are index lookups, however
      -- old the oldest running transaction is.
      candidates as (
        select o.person_id, o.seq, o.position from outbox_events o, head
        where o.writer_xid >= pg_snapshot_xmax(head.seen)
        union all
        select o.person_id, o.seq, o.position from outbox_events o
        where o.writer_xid in (select pg_snapshot_xip(seen) from head)
      ),
      fresh as (
        select c.person_id, c.seq, c.position from candidates c
        where not exists (select 1 from event_stream s where s.person_id = c.person_id and s.seq = c.seq)
        order by c.position
        limit ${limit}
      ),
      numbered as (
        select f.person_id, f.seq, head.last_position + row_number() over (order by f.position) as stream_position
        from fresh f, head
      ),
      inserted as (
        insert into event_stream (person_id, seq, stream_position)
        select person_id, seq, stream_position from numbered
      ),
      moved as (
        update stream_sequencer set
          last_position = coalesce((select max(stream_position) from numbered), last_position),
          seen = case when (select count(*) from fresh) < ${limit} then pg_current_snapshot() else seen end
      )
      select count(*) as numbered from fresh`.execute(trx);
    return Number(rows[0]?.numbered ?? 0);
  });
}

/** The highest stream position given so far (a fresh stream starts there). */
export async function lastStreamPosition(db: Kysely<DB>): Promise<number> {
  const row = await db.selectFrom('stream_sequencer').select('last_position').executeTakeFirst();
  return Number(row?.last_position ?? 0);
}

function streamEvents(db: Kysely<DB>) {
  return db
    .selectFrom('event_stream as s')
    .innerJoin('outbox_events as o', (join) => join.onRef('o.person_id', '=', 's.person_id').onRef('o.seq', '=', 's.seq'))
    .selectAll('o')
    .select('s.stream_position');
}

/** Every event after a stream position, in stream order. */
export async function streamEventsAfter(db: Kysely<DB>, afterPosition: number, limit: number): Promise<StreamEventRow[]> {
  const rows = await streamEvents(db).where('s.stream_position', '>', afterPosition).orderBy('s.stream_position').limit(limit).execute();
  return rows.map((r) => ({ ...r, stream_position: Number(r.stream_position) }));
}

/** The events after a stream position of the persons the caller may be related to (the policy narrows them further). */
export async function relatedStreamEventsAfter(db: Kysely<DB>, actor: Actor, afterPosition: number, now: Date, limit: number): Promise<StreamEventRow[]> {
  const rows = await streamEvents(db)
    .where('s.person_id', 'in', relatedPersonIds(db, actor, now))
    .where('s.stream_position', '>', afterPosition)
    .orderBy('s.stream_position')
    .limit(limit)
    .execute();
  return rows.map((r) => ({ ...r, stream_position: Number(r.stream_position) }));
}
