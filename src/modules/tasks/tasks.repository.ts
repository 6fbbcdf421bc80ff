// SQL for tasks: one plan's tasks, and the open tasks assigned to a caller across plans.
import { sql, type Insertable, type Kysely, type Selectable, type Updateable } from 'kysely';
import type { DB, Tasks } from '../../db/types.js';
import { readingMemberships } from '../access/access.repository.js';
import type { Actor } from '../access/access.types.js';

export type TaskRow = Selectable<Tasks> & {
  /** The creator's member display name, else the name recorded with the first version. */
  created_by_name: string | null;
  /** The completer's member display name, else the name recorded with the completing version. */
  completed_by_name: string | null;
};
export type TaskChanges = Omit<Updateable<Tasks>, 'person_id' | 'task_id' | 'version'>;

export const OPEN_STATUSES = ['open', 'in_progress'];

// Names are read, not stored twice: a member's name from the team, anyone else's (the person, a
// representative) from the version that recorded their change.
export const taskColumns = (db: Kysely<DB>) =>
  db
    .selectFrom('tasks as t')
    .leftJoin('care_team_members as cm', (join) =>
      join.onRef('cm.person_id', '=', 't.person_id').onRef('cm.member_id', '=', 't.created_by_member_id'),
    )
    .leftJoin('care_team_members as dm', (join) =>
      join.onRef('dm.person_id', '=', 't.person_id').onRef('dm.member_id', '=', 't.completed_by_member_id'),
    )
    .selectAll('t')
    .select([
      sql<string | null>`coalesce(cm.display_name, (select v.changed_by_name from resource_versions v
        where v.person_id = t.person_id and v.resource_type = 'task' and v.resource_id = t.task_id and v.version = 1))`.as(
        'created_by_name',
      ),
      sql<string | null>`case when t.completed_by_sub is null then null else coalesce(dm.display_name, (
        select v.changed_by_name from resource_versions v
        where v.person_id = t.person_id and v.resource_type = 'task' and v.resource_id = t.task_id
          and v.changed_by_sub = t.completed_by_sub and v.changed_at = t.completed_at
        order by v.version desc limit 1)) end`.as('completed_by_name'),
    ]);

export async function insertTask(db: Kysely<DB>, values: Insertable<Tasks>): Promise<Selectable<Tasks>> {
  return db.insertInto('tasks').values(values).returningAll().executeTakeFirstOrThrow();
}

export async function findTask(db: Kysely<DB>, personId: string, id: string, forUpdate = false): Promise<TaskRow | undefined> {
  let query = taskColumns(db).where('t.person_id', '=', personId).where('t.task_id', '=', id);
  // Only the task row is locked: the joined member rows are read, not changed.
  if (forUpdate) query = query.forUpdate('t');
  return query.executeTakeFirst();
}

/** A bound on the due: a due date counts from the start of its day (UTC). */
const dueMoment = sql<Date>`coalesce(t.due_at, t.due_date::timestamp at time zone 'UTC')`;

export type TasksQuery = { assigneeMemberIds?: string[]; status?: string | string[]; dueBefore?: Date; afterId?: string; limit: number };

export async function listTasks(db: Kysely<DB>, personId: string, options: TasksQuery): Promise<TaskRow[]> {
  if (options.assigneeMemberIds?.length === 0) return [];
  return tasksQuery(db, personId, options).execute();
}

/** The query of listTasks, unexecuted (the overview nests it); an empty assignee list matches nothing. */
export function tasksQuery(db: Kysely<DB>, personId: string, options: TasksQuery) {
  let query = taskColumns(db).where('t.person_id', '=', personId);
  if (options.assigneeMemberIds) {
    query = options.assigneeMemberIds.length === 0 ? query.where(sql<boolean>`false`) : query.where('t.assignee_member_id', 'in', options.assigneeMemberIds);
  }
  if (Array.isArray(options.status)) query = query.where('t.status', 'in', options.status);
  else if (options.status) query = query.where('t.status', '=', options.status);
  if (options.dueBefore) query = query.where(dueMoment, '<', options.dueBefore);
  if (options.afterId) query = query.where('t.task_id', '>', options.afterId);
  return query.orderBy('t.task_id').limit(options.limit);
}

export async function updateTask(
  db: Kysely<DB>,
  personId: string,
  id: string,
  expectedVersion: number,
  changes: TaskChanges,
): Promise<Selectable<Tasks> | undefined> {
  return db
    .updateTable('tasks')
    .set((eb) => ({ ...changes, version: eb('version', '+', 1) }))
    .where('person_id', '=', personId)
    .where('task_id', '=', id)
    .where('version', '=', expectedVersion)
    .returningAll()
    .executeTakeFirst();
}

export async function careGoalExists(db: Kysely<DB>, personId: string, careGoalId: string): Promise<boolean> {
  const row = await db
    .selectFrom('care_goals')
    .select('care_goal_id')
    .where('person_id', '=', personId)
    .where('care_goal_id', '=', careGoalId)
    .executeTakeFirst();
  return row !== undefined;
}

// The caller's memberships that may read tasks: the policy's rule in SQL, from the access module.
const taskReadingMemberships = (db: Kysely<DB>, actor: Actor, now: Date) => readingMemberships(db, actor, now, 'tasks');

/** The persons in whose plans the caller, as a member able to read tasks, has open tasks. */
export async function personsWithMyOpenTasks(db: Kysely<DB>, actor: Actor, now: Date): Promise<string[]> {
  const rows = await taskReadingMemberships(db, actor, now)
    .select('m.person_id')
    .distinct()
    .where(({ exists, selectFrom }) =>
      exists(
        selectFrom('tasks as t')
          .select('t.task_id')
          .whereRef('t.person_id', '=', 'm.person_id')
          .whereRef('t.assignee_member_id', '=', 'm.member_id')
          .where('t.status', 'in', OPEN_STATUSES),
      ),
    )
    .orderBy('m.person_id')
    .execute();
  return rows.map((r) => r.person_id);
}

/** A page of the caller's open tasks in the given plans, in creation order (task ids are time-ordered). */
export async function listMyOpenTasks(
  db: Kysely<DB>,
  actor: Actor,
  now: Date,
  options: { personIds: string[]; after?: { id: string; personId: string }; limit: number },
): Promise<TaskRow[]> {
  if (options.personIds.length === 0) return [];
  const mine = taskReadingMemberships(db, actor, now)
    .select(['m.person_id', 'm.member_id'])
    .where('m.person_id', 'in', options.personIds)
    .$asTuple('person_id', 'member_id');
  let query = taskColumns(db)
    .where('t.person_id', 'in', options.personIds)
    .where('t.status', 'in', OPEN_STATUSES)
    .where((eb) => eb(eb.refTuple('t.person_id', 't.assignee_member_id'), 'in', mine));
  if (options.after) {
    const { id, personId } = options.after;
    query = query.where((eb) => eb(eb.refTuple('t.task_id', 't.person_id'), '>', eb.tuple(id, personId)));
  }
  return query.orderBy('t.task_id').orderBy('t.person_id').limit(options.limit).execute();
}
