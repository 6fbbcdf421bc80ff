// SQL for the notification inbox: recording fan-out rows, finding who to tell, and reading a recipient's page.
import { sql, type Insertable, type Kysely, type Selectable } from 'kysely';
import type { DB, Notifications } from '../../db/types.js';
import type { EventRow } from '../events/events.repository.js';

export type NotificationRow = Selectable<Notifications>;

/** Inserts the rows; a (recipient, event) pair already recorded is left as it was (fan-out is at-least-once). */
export async function insertNotifications(db: Kysely<DB>, rows: Insertable<Notifications>[]): Promise<void> {
  if (rows.length === 0) return;
  await db
    .insertInto('notifications')
    .values(rows)
    .onConflict((oc) => oc.columns(['recipient_sub', 'event_id']).doNothing())
    .execute();
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The logins that caused an event: the actors of the audit entries that recorded a write of the
 * same resource (or of the member it is about) for the same person at the same moment. Events
 * carry no actor (they are thin and go to many receivers); the audit entry written beside them does.
 */
export async function eventActorSubs(
  db: Kysely<DB>,
  event: Pick<EventRow, 'person_id' | 'occurred_at'>,
  about: { resourceType?: string; resourceId?: string; memberId?: string },
): Promise<string[]> {
  const { resourceType, resourceId, memberId } = about;
  const resource = resourceType !== undefined && resourceId !== undefined && UUID.test(resourceId);
  const member = memberId !== undefined && UUID.test(memberId);
  if (!resource && !member) return [];
  const rows = await db
    .selectFrom('audit_entries')
    .select('actor_sub')
    .distinct()
    .where('person_id', '=', event.person_id)
    .where('occurred_at', '=', event.occurred_at)
    .where('action', 'not in', ['read', 'list'])
    .where((eb) =>
      eb.or([
        ...(resource ? [eb.and([eb('resource_type', '=', resourceType!), eb('resource_id', '=', resourceId!)])] : []),
        ...(member ? [eb.and([eb('resource_type', '=', 'member'), eb('resource_id', '=', memberId!)])] : []),
      ]),
    )
    .execute();
  return rows.map((r) => r.actor_sub);
}

export interface MemberLogin {
  member_id: string;
  kind: string;
  organisation_id: string | null;
  user_sub: string | null;
  status: string;
  joined_at: Date | null;
}

/** The logins of the given members (any status: an ended member still hears that it ended). */
export async function memberLogins(db: Kysely<DB>, personId: string, memberIds: string[]): Promise<MemberLogin[]> {
  if (memberIds.length === 0) return [];
  return db
    .selectFrom('care_team_members')
    .select(['member_id', 'kind', 'organisation_id', 'user_sub', 'status', 'joined_at'])
    .where('person_id', '=', personId)
    .where('member_id', 'in', memberIds)
    .execute();
}

/** The logins of every active member of a plan. */
export async function activeMemberLogins(db: Kysely<DB>, personId: string): Promise<MemberLogin[]> {
  return db
    .selectFrom('care_team_members')
    .select(['member_id', 'kind', 'organisation_id', 'user_sub', 'status', 'joined_at'])
    .where('person_id', '=', personId)
    .where('status', '=', 'active')
    .where('user_sub', 'is not', null)
    .execute();
}

/** The person's own login (or the steward's until the plan is claimed) and the active representatives' logins. */
export async function planControllerLogins(
  db: Kysely<DB>,
  personId: string,
): Promise<{
  personSub: string | null;
  stewardSub: string | null;
  representatives: Array<{ user_sub: string; level: string; accepted_at: Date | null }>;
}> {
  const person = await db
    .selectFrom('persons')
    .select(['owner_sub', 'steward_sub', 'claimed_at'])
    .where('person_id', '=', personId)
    .executeTakeFirst();
  const representatives = await db
    .selectFrom('representatives')
    .select(['user_sub', 'level', 'accepted_at'])
    .where('person_id', '=', personId)
    .where('status', '=', 'active')
    .where('user_sub', 'is not', null)
    .execute();
  return {
    personSub: person?.owner_sub ?? null,
    stewardSub: person && person.claimed_at === null ? person.steward_sub : null,
    representatives: representatives.map((r) => ({ user_sub: r.user_sub!, level: r.level, accepted_at: r.accepted_at })),
  };
}

/** Who created a task, with the organisation they acted through (if they acted as an organisation member). */
export async function taskCreator(
  db: Kysely<DB>,
  personId: string,
  taskId: string,
): Promise<{ sub: string; org: string | null } | undefined> {
  const row = await db
    .selectFrom('tasks as t')
    .leftJoin('care_team_members as m', (join) =>
      join.onRef('m.person_id', '=', 't.person_id').onRef('m.member_id', '=', 't.created_by_member_id'),
    )
    .select(['t.created_by_sub', 'm.kind', 'm.organisation_id'])
    .where('t.person_id', '=', personId)
    .where('t.task_id', '=', taskId)
    .executeTakeFirst();
  if (!row) return undefined;
  return { sub: row.created_by_sub, org: row.kind === 'organisation' ? row.organisation_id : null };
}

/** A recipient's notifications, newest first (v7 ids sort by creation), after a cursor id. */
export async function listNotifications(
  db: Kysely<DB>,
  recipientSub: string,
  options: { unread: boolean; beforeId?: string; limit: number },
): Promise<NotificationRow[]> {
  let query = db.selectFrom('notifications').selectAll().where('recipient_sub', '=', recipientSub);
  if (options.unread) query = query.where('read_at', 'is', null);
  if (options.beforeId) query = query.where('notification_id', '<', options.beforeId);
  return query.orderBy('notification_id', 'desc').limit(options.limit).execute();
}

export async function findNotification(db: Kysely<DB>, recipientSub: string, id: string): Promise<NotificationRow | undefined> {
  return db
    .selectFrom('notifications')
    .selectAll()
    .where('recipient_sub', '=', recipientSub)
    .where('notification_id', '=', id)
    .executeTakeFirst();
}

/** Marks one notification read; the first read time is kept (marking again changes nothing). */
export async function markRead(db: Kysely<DB>, recipientSub: string, id: string, now: Date): Promise<NotificationRow | undefined> {
  return db
    .updateTable('notifications')
    .set((eb) => ({ read_at: eb.fn.coalesce('read_at', sql<Date>`${now}::timestamptz`) }))
    .where('recipient_sub', '=', recipientSub)
    .where('notification_id', '=', id)
    .returningAll()
    .executeTakeFirst();
}

export async function markAllRead(db: Kysely<DB>, recipientSub: string, now: Date): Promise<number> {
  const result = await db
    .updateTable('notifications')
    .set({ read_at: now })
    .where('recipient_sub', '=', recipientSub)
    .where('read_at', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

/** The events behind a page of notifications, in one query. */
export async function findEventsByIds(db: Kysely<DB>, refs: Array<{ personId: string; eventId: string }>): Promise<EventRow[]> {
  if (refs.length === 0) return [];
  return db
    .selectFrom('outbox_events')
    .selectAll()
    // Event ids are unique UUIDs: the two lists select exactly the pairs, through the (person_id, event_id) index.
    .where('person_id', 'in', [...new Set(refs.map((r) => r.personId))])
    .where('event_id', 'in', refs.map((r) => r.eventId))
    .execute();
}
