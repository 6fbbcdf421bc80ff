// GET overview: person, active team, life goals with their care goals, open tasks and the latest
// notes, each filtered by the caller's scopes, in a fixed number of queries whatever the plan's size:
// the access query, then one statement nesting the same queries the /v1 lists run, as JSON.
import type { AliasedExpression, Kysely } from 'kysely';
import { jsonArrayFrom } from 'kysely/helpers/postgres';
import type { DB } from '../../db/types.js';
import type { Clock, RequestContext } from '../../lib/context.js';
import { forbidden, notFound } from '../../lib/errors.js';
import { auditActorFor, controls, memberIdsOf, noteFilter, strongestRelation } from '../access/access.policy.js';
import { loadAccessContext } from '../access/access.repository.js';
import { permits } from '../access/access.service.js';
import type { Category } from '../access/access.types.js';
import { careGoalsQuery, lifeGoalsQuery, type CareGoalRow, type LifeGoalRow } from '../goals/goals.repository.js';
import { careGoalRowToCareGoal, lifeGoalRowToLifeGoal } from '../goals/goals.service.js';
import { notesQuery, type NoteRow } from '../notes/notes.repository.js';
import { noteRowToNote } from '../notes/notes.service.js';
import { personRowToPerson, type PersonRow } from '../persons/persons.repository.js';
import { OPEN_STATUSES, tasksQuery, type TaskRow } from '../tasks/tasks.repository.js';
import { taskRowToTask } from '../tasks/tasks.service.js';
import { membersQuery, type MemberRow } from '../team/team.repository.js';
import { memberRowToTeamMember } from '../team/team.service.js';
import type { Overview } from './overview.schemas.js';
import type { ReadJournal } from '../journal/read-journal.js';

const LIMITS = { team: 200, lifeGoals: 200, careGoals: 1000, openTasks: 200, latestNotes: 20 };

// JSON carries timestamps as text: the columns the row mappers read as dates, per part.
const TIMESTAMPS = {
  person: ['claimed_at', 'created_at', 'updated_at'],
  team: ['grant_valid_until', 'grant_revoked_at', 'invited_at', 'joined_at', 'ended_at', 'updated_at'],
  lifeGoals: ['created_at', 'updated_at'],
  careGoals: ['created_at', 'updated_at'],
  openTasks: ['due_at', 'completed_at', 'created_at', 'updated_at'],
  latestNotes: ['retracted_at', 'created_at', 'updated_at'],
} as const;
type Part = keyof typeof TIMESTAMPS;

function revive<T>(rows: Array<Record<string, unknown>> | undefined, part: Part): T[] | undefined {
  if (!rows) return undefined;
  for (const row of rows) for (const column of TIMESTAMPS[part]) if (typeof row[column] === 'string') row[column] = new Date(row[column]);
  return rows as T[];
}

export function createOverviewService({ db, clock, reads }: { db: Kysely<DB>; clock: Clock; reads: ReadJournal }) {
  return {
    async overview(ctx: RequestContext, personId: string): Promise<Overview> {
      const now = clock();
      return reads.read({ requestId: ctx.requestId, now }, async (reader, audit) => {
        const context = await loadAccessContext(reader, ctx.actor, personId, now);
        const relation = strongestRelation(context);
        if (!relation) throw notFound('No such person.');
        const can = (category: Category) => permits(context, { kind: 'read', category });
        const notes = noteFilter(context);
        // Reading only one's own notes (a revoked or ended member) does not open the overview.
        if (!(['profile', 'team', 'goals', 'tasks'] as const).some(can) && notes?.kind !== 'visible') {
          throw forbidden('Your access to this plan does not include any part of its overview.');
        }
        const parts: Array<AliasedExpression<unknown, Part>> = [];
        if (can('profile')) parts.push(jsonArrayFrom(reader.selectFrom('persons').selectAll().where('person_id', '=', personId)).as('person'));
        if (can('team')) parts.push(jsonArrayFrom(membersQuery(reader, personId, { includeEnded: false, limit: LIMITS.team + 1 })).as('team'));
        if (can('goals')) {
          parts.push(jsonArrayFrom(lifeGoalsQuery(reader, personId, { limit: LIMITS.lifeGoals + 1 })).as('lifeGoals'));
          parts.push(jsonArrayFrom(careGoalsQuery(reader, personId, { limit: LIMITS.careGoals })).as('careGoals'));
        }
        if (can('tasks')) parts.push(jsonArrayFrom(tasksQuery(reader, personId, { status: OPEN_STATUSES, limit: LIMITS.openTasks + 1 })).as('openTasks'));
        if (notes?.kind === 'visible') parts.push(jsonArrayFrom(notesQuery(reader, personId, notes, { limit: LIMITS.latestNotes })).as('latestNotes'));
        const found = (await reader.selectNoFrom(parts).executeTakeFirstOrThrow()) as Partial<Record<Part, Array<Record<string, unknown>>>>;
        const personRow = revive<PersonRow>(found.person, 'person')?.[0];
        const memberRows = revive<MemberRow>(found.team, 'team');
        const lifeGoalRows = revive<LifeGoalRow>(found.lifeGoals, 'lifeGoals');
        const careGoalRows = revive<CareGoalRow>(found.careGoals, 'careGoals');
        const taskRows = revive<TaskRow>(found.openTasks, 'openTasks');
        const noteRows = revive<NoteRow>(found.latestNotes, 'latestNotes');
        const truncated: Overview['truncated'] = [];
        const cut = <T>(rows: T[], limit: number, part: Overview['truncated'][number]) => {
          if (rows.length <= limit) return rows;
          truncated.push(part);
          return rows.slice(0, limit);
        };

        let team: Overview['team'] = null;
        if (memberRows) {
          const ownIds = memberIdsOf(context);
          const showAllGrants = controls(context);
          team = cut(memberRows, LIMITS.team, 'team').map((r) => memberRowToTeamMember(r, showAllGrants || ownIds.includes(r.member_id), now));
        }
        let lifeGoals: Overview['lifeGoals'] = null;
        if (lifeGoalRows && careGoalRows) {
          const careGoals = careGoalRows.map(careGoalRowToCareGoal);
          lifeGoals = cut(lifeGoalRows, LIMITS.lifeGoals, 'lifeGoals').map((row) => ({
            ...lifeGoalRowToLifeGoal(row),
            careGoals: careGoals.filter((c) => c.lifeGoalIds.includes(row.life_goal_id)),
          }));
        }
        const openTasks: Overview['openTasks'] = taskRows ? cut(taskRows, LIMITS.openTasks, 'openTasks').map(taskRowToTask) : null;
        const latestNotes = noteRows ? noteRows.map(noteRowToNote) : null;

        audit(context, [{ personId, actor: auditActorFor(context, relation), action: 'read', resourceType: 'overview', resourceId: personId }]);
        return {
          personId,
          person: personRow ? personRowToPerson(personRow) : null,
          team,
          lifeGoals,
          openTasks,
          latestNotes,
          truncated,
        };
      });
    },
  };
}

export type OverviewService = ReturnType<typeof createOverviewService>;
