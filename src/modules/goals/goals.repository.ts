// SQL for life goals, care goals and their links.
import { sql, type Insertable, type Kysely, type Selectable } from 'kysely';
import type { CareGoals, DB, LifeGoals } from '../../db/types.js';

export type LifeGoalRow = Selectable<LifeGoals>;
export type CareGoalRow = Selectable<CareGoals> & { life_goal_ids: string[] };

export async function insertLifeGoal(db: Kysely<DB>, values: Insertable<LifeGoals>): Promise<LifeGoalRow> {
  return db.insertInto('life_goals').values(values).returningAll().executeTakeFirstOrThrow();
}

export async function findLifeGoal(db: Kysely<DB>, personId: string, id: string, forUpdate = false) {
  let query = db.selectFrom('life_goals').selectAll().where('person_id', '=', personId).where('life_goal_id', '=', id);
  if (forUpdate) query = query.forUpdate();
  return query.executeTakeFirst();
}

export type LifeGoalsQuery = { status?: string; afterId?: string; limit: number };

/** The query of listLifeGoals, unexecuted (the overview nests it). */
export function lifeGoalsQuery(db: Kysely<DB>, personId: string, options: LifeGoalsQuery) {
  let query = db.selectFrom('life_goals').selectAll().where('person_id', '=', personId);
  if (options.status) query = query.where('status', '=', options.status);
  if (options.afterId) query = query.where('life_goal_id', '>', options.afterId);
  return query.orderBy('life_goal_id').limit(options.limit);
}

export async function listLifeGoals(db: Kysely<DB>, personId: string, options: LifeGoalsQuery): Promise<LifeGoalRow[]> {
  return lifeGoalsQuery(db, personId, options).execute();
}

export async function updateLifeGoal(
  db: Kysely<DB>,
  personId: string,
  id: string,
  expectedVersion: number,
  changes: Partial<Pick<LifeGoalRow, 'title' | 'description' | 'status' | 'updated_at'>>,
): Promise<LifeGoalRow | undefined> {
  return db
    .updateTable('life_goals')
    .set((eb) => ({ ...changes, version: eb('version', '+', 1) }))
    .where('person_id', '=', personId)
    .where('life_goal_id', '=', id)
    .where('version', '=', expectedVersion)
    .returningAll()
    .executeTakeFirst();
}

/** Which of the given life goal ids exist for this person. */
export async function existingLifeGoalIds(db: Kysely<DB>, personId: string, ids: string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const rows = await db
    .selectFrom('life_goals')
    .select('life_goal_id')
    .where('person_id', '=', personId)
    .where('life_goal_id', 'in', ids)
    .execute();
  return new Set(rows.map((r) => r.life_goal_id));
}

export const careGoalColumns = (db: Kysely<DB>) =>
  db
    .selectFrom('care_goals as c')
    .selectAll('c')
    .select(
      sql<string[]>`coalesce((select array_agg(l.life_goal_id order by l.life_goal_id) from care_goal_life_goals l
        where l.person_id = c.person_id and l.care_goal_id = c.care_goal_id), '{}')`.as('life_goal_ids'),
    );

export async function insertCareGoal(
  db: Kysely<DB>,
  values: Insertable<CareGoals>,
  lifeGoalIds: string[],
): Promise<CareGoalRow> {
  const row = await db.insertInto('care_goals').values(values).returningAll().executeTakeFirstOrThrow();
  await replaceLinks(db, row.person_id, row.care_goal_id, lifeGoalIds);
  return { ...row, life_goal_ids: [...lifeGoalIds].sort() };
}

async function replaceLinks(db: Kysely<DB>, personId: string, careGoalId: string, lifeGoalIds: string[]) {
  await db.deleteFrom('care_goal_life_goals').where('person_id', '=', personId).where('care_goal_id', '=', careGoalId).execute();
  await db
    .insertInto('care_goal_life_goals')
    .values([...new Set(lifeGoalIds)].map((id) => ({ person_id: personId, care_goal_id: careGoalId, life_goal_id: id })))
    .execute();
}

export async function findCareGoal(db: Kysely<DB>, personId: string, id: string, forUpdate = false) {
  let query = careGoalColumns(db).where('c.person_id', '=', personId).where('c.care_goal_id', '=', id);
  if (forUpdate) query = query.forUpdate();
  return query.executeTakeFirst() as Promise<CareGoalRow | undefined>;
}

export type CareGoalsQuery = { status?: string; lifeGoalId?: string; afterId?: string; limit: number };

export async function listCareGoals(db: Kysely<DB>, personId: string, options: CareGoalsQuery): Promise<CareGoalRow[]> {
  return careGoalsQuery(db, personId, options).execute() as Promise<CareGoalRow[]>;
}

/** The query of listCareGoals, unexecuted (the overview nests it). */
export function careGoalsQuery(db: Kysely<DB>, personId: string, options: CareGoalsQuery) {
  let query = careGoalColumns(db).where('c.person_id', '=', personId);
  if (options.status) query = query.where('c.status', '=', options.status);
  if (options.lifeGoalId) {
    const lifeGoalId = options.lifeGoalId;
    query = query.where(({ exists, selectFrom }) =>
      exists(
        selectFrom('care_goal_life_goals as l')
          .select('l.care_goal_id')
          .whereRef('l.person_id', '=', 'c.person_id')
          .whereRef('l.care_goal_id', '=', 'c.care_goal_id')
          .where('l.life_goal_id', '=', lifeGoalId),
      ),
    );
  }
  if (options.afterId) query = query.where('c.care_goal_id', '>', options.afterId);
  return query.orderBy('c.care_goal_id').limit(options.limit);
}

export async function updateCareGoal(
  db: Kysely<DB>,
  personId: string,
  id: string,
  expectedVersion: number,
  changes: Partial<Pick<CareGoalRow, 'title' | 'description' | 'status' | 'owner_member_id' | 'review_date' | 'updated_at'>>,
  lifeGoalIds?: string[],
): Promise<CareGoalRow | undefined> {
  const row = await db
    .updateTable('care_goals')
    .set((eb) => ({ ...changes, version: eb('version', '+', 1) }))
    .where('person_id', '=', personId)
    .where('care_goal_id', '=', id)
    .where('version', '=', expectedVersion)
    .returning('care_goal_id')
    .executeTakeFirst();
  if (!row) return undefined;
  if (lifeGoalIds) await replaceLinks(db, personId, id, lifeGoalIds);
  return findCareGoal(db, personId, id);
}

/** Care goals serving one life goal, with counts of their open and done tasks. */
export async function traceLifeGoal(db: Kysely<DB>, personId: string, lifeGoalId: string) {
  const careGoals = await db
    .selectFrom('care_goal_life_goals as l')
    .innerJoin('care_goals as c', (join) =>
      join.onRef('c.person_id', '=', 'l.person_id').onRef('c.care_goal_id', '=', 'l.care_goal_id'),
    )
    .select(['c.care_goal_id', 'c.status'])
    .select((eb) => [
      eb
        .selectFrom('tasks as t')
        .select(sql<number>`count(*) filter (where t.status in ('open', 'in_progress'))::int`.as('n'))
        .whereRef('t.person_id', '=', 'c.person_id')
        .whereRef('t.care_goal_id', '=', 'c.care_goal_id')
        .as('open_tasks'),
      eb
        .selectFrom('tasks as t')
        .select(sql<number>`count(*) filter (where t.status = 'done')::int`.as('n'))
        .whereRef('t.person_id', '=', 'c.person_id')
        .whereRef('t.care_goal_id', '=', 'c.care_goal_id')
        .as('done_tasks'),
    ])
    .where('l.person_id', '=', personId)
    .where('l.life_goal_id', '=', lifeGoalId)
    .orderBy('c.care_goal_id')
    .execute();
  return careGoals;
}
