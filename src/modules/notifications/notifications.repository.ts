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

const text = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

/**
 * The logins that caused each event (by event id): the actors of the audit entries that recorded
 * a write of the same resource (or of the member it is about) for the same person at the same
 * moment, for many events in one query. Events carry no actor (they are thin and go to many
 * receivers); the audit entry written beside them does.
 */
export async function eventActorSubs(
  db: Kysely<DB>,
  items: Array<{ event: EventRow; data: Record<string, unknown> }>,
): Promise<Map<string, Set<string>>> {
  const refs = items.flatMap(({ event, data }) => {
    const resourceType = text(data.resourceType);
    const resourceId = text(data.resourceId);
    const memberId = text(data.memberId);
    const resource = resourceType !== undefined && resourceId !== undefined && UUID.test(resourceId);
    const member = memberId !== undefined && UUID.test(memberId);
    if (!resource && !member) return [];
    return [{ event, resourceType: resource ? resourceType! : null, resourceId: resource ? resourceId! : null, memberId: member ? memberId! : null }];
  });
  const causedBy = new Map<string, Set<string>>();
  if (refs.length === 0) return causedBy;
  const { rows } = await sql<{ event_id: string; actor_sub: string }>`
    select distinct v.event_id, a.actor_sub
    from unnest(${refs.map((r) => r.event.event_id)}::uuid[], ${refs.map((r) => r.event.person_id)}::uuid[],
      ${refs.map((r) => r.event.occurred_at.toISOString())}::timestamptz[], ${refs.map((r) => r.resourceType)}::text[],
      ${refs.map((r) => r.resourceId)}::uuid[], ${refs.map((r) => r.memberId)}::uuid[])
      as v(event_id, person_id, occurred_at, resource_type, resource_id, member_id)
    join audit_entries a on a.person_id = v.person_id and a.occurred_at = v.occurred_at
    where a.action not in ('read', 'list')
      and ((v.resource_id is not null and a.resource_type = v.resource_type and a.resource_id = v.resource_id)
        or (v.member_id is not null and a.resource_type = 'member' and a.resource_id = v.member_id))`.execute(db);
  for (const row of rows) causedBy.set(row.event_id, (causedBy.get(row.event_id) ?? new Set()).add(row.actor_sub));
  return causedBy;
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
