// GET overview: person, active team, life goals with their care goals, open tasks and the latest
// notes, each filtered by the caller's scopes, in a fixed number of queries whatever the plan's size:
// the access query, then one statement nesting the same queries the /v1 lists run, as JSON.
import type { Kysely } from 'kysely';
import type { DB } from '../../db/types.js';
import type { Clock, RequestContext } from '../../lib/context.js';
import { forbidden, notFound } from '../../lib/errors.js';
import { auditActorFor, controls, memberIdsOf, noteFilter, strongestRelation } from '../access/access.policy.js';
import { loadAccessContext } from '../access/access.repository.js';
import { permits } from '../access/access.service.js';
import type { Category } from '../access/access.types.js';
import { careGoalRowToCareGoal, lifeGoalRowToLifeGoal } from '../goals/goals.service.js';
import type { ReadJournal } from '../journal/read-journal.js';
import { noteRowToNote } from '../notes/notes.service.js';
import { personRowToPerson } from '../persons/persons.repository.js';
import { taskRowToTask } from '../tasks/tasks.service.js';
import { memberRowToTeamMember } from '../team/team.service.js';
import { loadOverviewParts } from './overview.repository.js';
import type { Overview } from './overview.schemas.js';

const LIMITS = { team: 200, lifeGoals: 200, careGoals: 1000, openTasks: 200, latestNotes: 20 };

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
        const found = await loadOverviewParts(reader, personId, {
          person: can('profile'),
          team: can('team') ? LIMITS.team + 1 : null,
          goals: can('goals') ? { lifeGoals: LIMITS.lifeGoals + 1, careGoals: LIMITS.careGoals } : null,
          openTasks: can('tasks') ? LIMITS.openTasks + 1 : null,
          latestNotes: notes?.kind === 'visible' ? { filter: notes, limit: LIMITS.latestNotes } : null,
        });
        const { person: personRow, team: memberRows, lifeGoals: lifeGoalRows, careGoals: careGoalRows, openTasks: taskRows, latestNotes: noteRows } = found;
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
