// SQL for the overview: one statement nesting the queries the /v1 lists run, each as a JSON array.
import type { AliasedExpression, Kysely } from 'kysely';
import { jsonArrayFrom } from 'kysely/helpers/postgres';
import { reviveRows } from '../../db/json-rows.js';
import type { DB } from '../../db/types.js';
import type { NoteFilter } from '../access/access.policy.js';
import { careGoalsQuery, lifeGoalsQuery, type CareGoalRow, type LifeGoalRow } from '../goals/goals.repository.js';
import { notesQuery, type NoteRow } from '../notes/notes.repository.js';
import { personQuery, type PersonRow } from '../persons/persons.repository.js';
import { OPEN_STATUSES, tasksQuery, type TaskRow } from '../tasks/tasks.repository.js';
import { membersQuery, type MemberRow } from '../team/team.repository.js';

type Part = 'person' | 'team' | 'lifeGoals' | 'careGoals' | 'openTasks' | 'latestNotes';

/** Which parts to load (the caller's access decided them) and how many rows of each at most. */
export interface OverviewParts {
  person: boolean;
  team: number | null;
  goals: { lifeGoals: number; careGoals: number } | null;
  openTasks: number | null;
  latestNotes: { filter: NoteFilter; limit: number } | null;
}

/** The wanted parts of a person's plan in one statement; a part not wanted is undefined. */
export async function loadOverviewParts(db: Kysely<DB>, personId: string, wanted: OverviewParts) {
  const parts: Array<AliasedExpression<unknown, Part>> = [];
  if (wanted.person) parts.push(jsonArrayFrom(personQuery(db, personId)).as('person'));
  if (wanted.team !== null) parts.push(jsonArrayFrom(membersQuery(db, personId, { includeEnded: false, limit: wanted.team })).as('team'));
  if (wanted.goals) {
    parts.push(jsonArrayFrom(lifeGoalsQuery(db, personId, { limit: wanted.goals.lifeGoals })).as('lifeGoals'));
    parts.push(jsonArrayFrom(careGoalsQuery(db, personId, { limit: wanted.goals.careGoals })).as('careGoals'));
  }
  if (wanted.openTasks !== null) parts.push(jsonArrayFrom(tasksQuery(db, personId, { status: OPEN_STATUSES, limit: wanted.openTasks })).as('openTasks'));
  if (wanted.latestNotes) {
    parts.push(jsonArrayFrom(notesQuery(db, personId, wanted.latestNotes.filter, { limit: wanted.latestNotes.limit })).as('latestNotes'));
  }
  const found = (await db.selectNoFrom(parts).executeTakeFirstOrThrow()) as Partial<Record<Part, Array<Record<string, unknown>>>>;
  return {
    person: reviveRows<PersonRow>(found.person, 'person')?.[0],
    team: reviveRows<MemberRow>(found.team, 'team'),
    lifeGoals: reviveRows<LifeGoalRow>(found.lifeGoals, 'lifeGoals'),
    careGoals: reviveRows<CareGoalRow>(found.careGoals, 'careGoals'),
    openTasks: reviveRows<TaskRow>(found.openTasks, 'tasks'),
    latestNotes: reviveRows<NoteRow>(found.latestNotes, 'notes'),
  };
}
