// SQL the FHIR facade needs beyond the modules' own lists: which plan an id belongs to, and searches by last change, over the same tables and column sets.
import { sql, type Kysely } from 'kysely';
import type { DB } from '../../db/types.js';
import type { NoteFilter } from '../access/access.policy.js';
import { readablePersonIds } from '../access/access.repository.js';
import type { Actor } from '../access/access.types.js';
import { careGoalColumns, type CareGoalRow, type LifeGoalRow } from '../goals/goals.repository.js';
import { visibleTo, withCurrentBody, type NoteRow } from '../notes/notes.repository.js';
import type { PersonRow } from '../persons/persons.repository.js';
import { taskColumns, type TaskRow } from '../tasks/tasks.repository.js';

/** One bound of `_lastUpdated` (FHIR prefixes gt/ge/lt/le as comparison operators). */
export interface UpdatedBound {
  op: '>' | '>=' | '<' | '<=';
  at: Date;
}

/** A search page: the person's items changed within the bounds, in id (creation) order after `afterId`. */
export interface SearchWindow {
  updated: UpdatedBound[];
  afterId?: string;
  limit: number;
}

/** The person a task, note, life goal or care goal belongs to; undefined for an unknown id. */
export async function ownerOf(db: Kysely<DB>, kind: 'task' | 'note' | 'life_goal' | 'care_goal', id: string): Promise<string | undefined> {
  const row =
    kind === 'task'
      ? await db.selectFrom('tasks').select('person_id').where('task_id', '=', id).executeTakeFirst()
      : kind === 'note'
        ? await db.selectFrom('notes').select('person_id').where('note_id', '=', id).executeTakeFirst()
        : kind === 'life_goal'
          ? await db.selectFrom('life_goals').select('person_id').where('life_goal_id', '=', id).executeTakeFirst()
          : await db.selectFrom('care_goals').select('person_id').where('care_goal_id', '=', id).executeTakeFirst();
  return row?.person_id;
}

/** A Goal id is a life goal's or a care goal's (both are time-ordered UUIDs, never shared). */
export async function goalOwner(db: Kysely<DB>, id: string): Promise<{ personId: string; kind: 'life_goal' | 'care_goal' } | undefined> {
  const row = await db
    .selectFrom('life_goals')
    .select(['person_id', sql<'life_goal' | 'care_goal'>`'life_goal'`.as('kind')])
    .where('life_goal_id', '=', id)
    .unionAll(db.selectFrom('care_goals').select(['person_id', sql<'life_goal' | 'care_goal'>`'care_goal'`.as('kind')]).where('care_goal_id', '=', id))
    .executeTakeFirst();
  return row ? { personId: row.person_id, kind: row.kind } : undefined;
}

export async function searchLifeGoals(db: Kysely<DB>, personId: string, window: SearchWindow): Promise<LifeGoalRow[]> {
  let query = db.selectFrom('life_goals').selectAll().where('person_id', '=', personId);
  for (const b of window.updated) query = query.where('updated_at', b.op, b.at);
  if (window.afterId) query = query.where('life_goal_id', '>', window.afterId);
  return query.orderBy('life_goal_id').limit(window.limit).execute();
}

export async function searchCareGoals(db: Kysely<DB>, personId: string, window: SearchWindow): Promise<CareGoalRow[]> {
  let query = careGoalColumns(db).where('c.person_id', '=', personId);
  for (const b of window.updated) query = query.where('c.updated_at', b.op, b.at);
  if (window.afterId) query = query.where('c.care_goal_id', '>', window.afterId);
  return query.orderBy('c.care_goal_id').limit(window.limit).execute() as Promise<CareGoalRow[]>;
}

export async function searchTasks(db: Kysely<DB>, personId: string, window: SearchWindow): Promise<TaskRow[]> {
  let query = taskColumns(db).where('t.person_id', '=', personId);
  for (const b of window.updated) query = query.where('t.updated_at', b.op, b.at);
  if (window.afterId) query = query.where('t.task_id', '>', window.afterId);
  return query.orderBy('t.task_id').limit(window.limit).execute();
}

/** Notes the filter lets the caller read (the access policy decided it), oldest first so a sync can page forward. */
export async function searchNotes(db: Kysely<DB>, personId: string, filter: NoteFilter, window: SearchWindow): Promise<NoteRow[]> {
  let query = withCurrentBody(db).where('n.person_id', '=', personId).where(visibleTo(filter));
  for (const b of window.updated) query = query.where('n.updated_at', b.op, b.at);
  if (window.afterId) query = query.where('n.note_id', '>', window.afterId);
  return query.orderBy('n.note_id').limit(window.limit).execute();
}

/** Persons whose profile the caller may read, filtered inside SQL like GET /v1/persons, narrowed by id or identifier. */
export async function searchPersons(
  db: Kysely<DB>,
  actor: Actor,
  now: Date,
  filters: { ids?: string[]; identifier?: { system: string; value: string } },
  window: SearchWindow,
): Promise<PersonRow[]> {
  let query = db.selectFrom('persons').selectAll().where('person_id', 'in', readablePersonIds(db, actor, now, 'profile'));
  if (filters.ids) query = query.where('person_id', 'in', filters.ids);
  if (filters.identifier) {
    query = query.where('identifier_system', '=', filters.identifier.system).where('identifier_value', '=', filters.identifier.value);
  }
  for (const b of window.updated) query = query.where('updated_at', b.op, b.at);
  if (window.afterId) query = query.where('person_id', '>', window.afterId);
  return query.orderBy('person_id').limit(window.limit).execute();
}
