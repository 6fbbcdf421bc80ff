// SQL for meetings.
import type { Insertable, Kysely, Selectable, Updateable } from 'kysely';
import type { DB, Meetings } from '../../db/types.js';

export type MeetingRow = Selectable<Meetings>;

export async function insertMeeting(db: Kysely<DB>, values: Insertable<Meetings>): Promise<MeetingRow> {
  return db.insertInto('meetings').values(values).returningAll().executeTakeFirstOrThrow();
}

export async function findMeeting(db: Kysely<DB>, personId: string, id: string, forUpdate = false) {
  let query = db.selectFrom('meetings').selectAll().where('person_id', '=', personId).where('meeting_id', '=', id);
  if (forUpdate) query = query.forUpdate();
  return query.executeTakeFirst();
}

/** A page in start order; `after` is the last (starts_at, meeting_id) of the previous page. */
export async function listMeetings(
  db: Kysely<DB>,
  personId: string,
  options: { from?: Date; to?: Date; status?: string; after?: { startsAt: Date; id: string }; limit: number },
): Promise<MeetingRow[]> {
  let query = db.selectFrom('meetings').selectAll().where('person_id', '=', personId);
  if (options.from) query = query.where('ends_at', '>', options.from);
  if (options.to) query = query.where('starts_at', '<', options.to);
  if (options.status) query = query.where('status', '=', options.status);
  const after = options.after;
  if (after) {
    query = query.where((eb) => eb(eb.refTuple('starts_at', 'meeting_id'), '>', eb.tuple(after.startsAt, after.id)));
  }
  return query.orderBy('starts_at').orderBy('meeting_id').limit(options.limit).execute();
}

export async function updateMeeting(
  db: Kysely<DB>,
  personId: string,
  id: string,
  expectedVersion: number,
  changes: Omit<Updateable<Meetings>, 'person_id' | 'meeting_id' | 'version' | 'created_by_sub' | 'created_at'>,
): Promise<MeetingRow | undefined> {
  return db
    .updateTable('meetings')
    .set((eb) => ({ ...changes, version: eb('version', '+', 1) }))
    .where('person_id', '=', personId)
    .where('meeting_id', '=', id)
    .where('version', '=', expectedVersion)
    .returningAll()
    .executeTakeFirst();
}
