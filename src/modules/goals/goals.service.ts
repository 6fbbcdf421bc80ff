// Life goals (what the person still wants to achieve, in their own words) and care goals (what
// the care and support aim at, each serving one or more life goals). Nothing is overwritten in
// place: every change is a new version, listed by the history endpoints.
import type { Kysely } from 'kysely';
import { z } from 'zod';
import type { DB } from '../../db/types.js';
import { inTransaction } from '../../db/transaction.js';
import type { Clock, RequestContext } from '../../lib/context.js';
import { decodeCursor, toPage } from '../../lib/cursor.js';
import { notFound, preconditionFailed, unprocessable } from '../../lib/errors.js';
import { newId } from '../../lib/ids.js';
import { checkIfMatch } from '../../lib/versioning.js';
import { memberIdsOf, relationCanRead } from '../access/access.policy.js';
import { permits, requireAccess, type Granted } from '../access/access.service.js';
import { appendJournal } from '../journal/journal.repository.js';
import { listVersions, recordVersion } from '../history/history.repository.js';
import { changedFields, versionRowToHistoryItem } from '../history/history.schemas.js';
import { findMembers } from '../team/team.repository.js';
import { memberRowToRelation } from '../team/team.service.js';
import * as repo from './goals.repository.js';
import type { CareGoal, CareGoalCreate, CareGoalUpdate, LifeGoal, LifeGoalCreate, LifeGoalUpdate } from './goals.schemas.js';
import type { ReadJournal } from '../journal/read-journal.js';

const IdCursor = z.object({ id: z.uuid() });
const VersionCursor = z.object({ v: z.number().int() });
const LIFE_GOAL_FIELDS = ['title', 'description', 'status'];
const CARE_GOAL_FIELDS = ['title', 'description', 'status', 'lifeGoalIds', 'ownerMemberId', 'reviewDate'];

export function lifeGoalRowToLifeGoal(row: repo.LifeGoalRow): LifeGoal {
  return {
    id: row.life_goal_id,
    lifeGoalId: row.life_goal_id,
    personId: row.person_id,
    title: row.title,
    description: row.description,
    status: row.status as LifeGoal['status'],
    expressedBy: {
      kind: row.expressed_by_kind as LifeGoal['expressedBy']['kind'],
      name: row.expressed_by_name,
      memberId: row.expressed_by_member_id,
      representativeId: row.expressed_by_representative_id,
    },
    version: row.version,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

export function careGoalRowToCareGoal(row: repo.CareGoalRow): CareGoal {
  return {
    id: row.care_goal_id,
    careGoalId: row.care_goal_id,
    personId: row.person_id,
    title: row.title,
    description: row.description,
    status: row.status as CareGoal['status'],
    lifeGoalIds: row.life_goal_ids,
    ownerMemberId: row.owner_member_id,
    reviewDate: row.review_date,
    version: row.version,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

/** Who expressed a life goal, from the relation through which the caller writes it. */
function expressedBy(granted: Granted) {
  const { relation, context } = granted;
  const name = context.actor.name ?? null;
  if (relation.kind === 'person') return { kind: 'person' as const, name, memberId: null, representativeId: null };
  if (relation.kind === 'representative') {
    return { kind: 'representative' as const, name, memberId: null, representativeId: relation.representativeId };
  }
  return { kind: 'member' as const, name, memberId: memberIdsOf(context)[0] ?? null, representativeId: null };
}

export function createGoalsService({ db, clock, reads }: { db: Kysely<DB>; clock: Clock; reads: ReadJournal }) {
  const journal = (ctx: RequestContext, now: Date) => ({ requestId: ctx.requestId, now });

  async function checkLifeGoalIds(trx: Kysely<DB>, personId: string, ids: string[]) {
    const existing = await repo.existingLifeGoalIds(trx, personId, ids);
    const missing = ids.map((id, i) => ({ id, i })).filter(({ id }) => !existing.has(id));
    if (missing.length > 0) {
      throw unprocessable(
        'A care goal serves life goals of the same person.',
        missing.map(({ i }) => ({ path: `lifeGoalIds.${i}`, message: 'no such life goal for this person' })),
      );
    }
  }

  async function checkOwner(trx: Kysely<DB>, personId: string, memberId: string | null | undefined, now: Date) {
    if (!memberId) return;
    const [row] = await findMembers(trx, personId, [memberId]);
    if (!row || row.status !== 'active' || !relationCanRead(memberRowToRelation(row), 'goals', now)) {
      throw unprocessable('The owner must be an active team member who can read goals.', [
        { path: 'ownerMemberId', message: 'not an active member with goals access' },
      ]);
    }
  }

  return {
    async createLifeGoal(ctx: RequestContext, personId: string, input: LifeGoalCreate): Promise<LifeGoal> {
      const now = clock();
      return inTransaction(db, async (trx) => {
        const granted = await requireAccess(trx, ctx.actor, personId, { kind: 'write', category: 'goals' }, now);
        const by = expressedBy(granted);
        const row = await repo.insertLifeGoal(trx, {
          person_id: personId,
          life_goal_id: newId(),
          title: input.title,
          description: input.description ?? null,
          status: input.status ?? 'active',
          expressed_by_kind: by.kind,
          expressed_by_name: by.name,
          expressed_by_member_id: by.memberId,
          expressed_by_representative_id: by.representativeId,
          created_by_sub: ctx.actor.sub,
          created_at: now,
          updated_at: now,
        });
        const goal = lifeGoalRowToLifeGoal(row);
        await recordVersion(trx, { personId, resourceType: 'life_goal', resourceId: goal.id, version: 1, snapshot: goal, changedFields: LIFE_GOAL_FIELDS, actor: granted.auditActor, at: now });
        await appendJournal(
          trx,
          journal(ctx, now),
          [{ personId, actor: granted.auditActor, action: 'create', resourceType: 'life_goal', resourceId: goal.id }],
          [{ personId, type: 'life_goal.created', data: { resourceType: 'life_goal', resourceId: goal.id, version: 1, status: goal.status } }],
        );
        return goal;
      });
    },

    async listLifeGoals(ctx: RequestContext, personId: string, query: { limit: number; cursor?: string; status?: string }) {
      const after = decodeCursor(query.cursor, IdCursor);
      const now = clock();
      return reads.read(journal(ctx, now), async (reader, audit) => {
        const granted = await requireAccess(reader, ctx.actor, personId, { kind: 'read', category: 'goals' }, now);
        const rows = await repo.listLifeGoals(reader, personId, { status: query.status, afterId: after?.id, limit: query.limit + 1 });
        audit(granted.context, [{ personId, actor: granted.auditActor, action: 'list', resourceType: 'life_goal' }]);
        return toPage(rows, query.limit, (r) => ({ id: r.life_goal_id }), lifeGoalRowToLifeGoal);
      });
    },

    async getLifeGoal(ctx: RequestContext, personId: string, id: string) {
      const now = clock();
      return reads.read(journal(ctx, now), async (reader, audit) => {
        const granted = await requireAccess(reader, ctx.actor, personId, { kind: 'read', category: 'goals' }, now);
        const row = await repo.findLifeGoal(reader, personId, id);
        if (!row) throw notFound('No such life goal.');
        const trace = await repo.traceLifeGoal(reader, personId, id);
        const seesTasks = permits(granted.context, { kind: 'read', category: 'tasks' });
        const byStatus: Record<string, number> = {};
        for (const c of trace) byStatus[c.status] = (byStatus[c.status] ?? 0) + 1;
        audit(granted.context, [{ personId, actor: granted.auditActor, action: 'read', resourceType: 'life_goal', resourceId: id }]);
        return {
          ...lifeGoalRowToLifeGoal(row),
          traceability: {
            careGoals: trace.map((c) => ({ id: c.care_goal_id, status: c.status as CareGoal['status'] })),
            careGoalsByStatus: byStatus,
            tasks: seesTasks
              ? {
                  open: trace.reduce((n, c) => n + Number(c.open_tasks ?? 0), 0),
                  done: trace.reduce((n, c) => n + Number(c.done_tasks ?? 0), 0),
                }
              : null,
          },
        };
      });
    },

    async updateLifeGoal(ctx: RequestContext, personId: string, id: string, input: LifeGoalUpdate, ifMatch: number | '*' | undefined) {
      const now = clock();
      return inTransaction(db, async (trx) => {
        const granted = await requireAccess(trx, ctx.actor, personId, { kind: 'write', category: 'goals' }, now);
        const current = await repo.findLifeGoal(trx, personId, id, true);
        if (!current) throw notFound('No such life goal.');
        checkIfMatch(ifMatch, current.version, true);
        const row = await repo.updateLifeGoal(trx, personId, id, current.version, {
          ...(input.title !== undefined ? { title: input.title } : {}),
          ...(input.description !== undefined ? { description: input.description } : {}),
          ...(input.status !== undefined ? { status: input.status } : {}),
          updated_at: now,
        });
        if (!row) throw preconditionFailed();
        const before = lifeGoalRowToLifeGoal(current);
        const goal = lifeGoalRowToLifeGoal(row);
        const fields = changedFields(before, goal, LIFE_GOAL_FIELDS);
        await recordVersion(trx, { personId, resourceType: 'life_goal', resourceId: id, version: goal.version, snapshot: goal, changedFields: fields, actor: granted.auditActor, at: now });
        await appendJournal(
          trx,
          journal(ctx, now),
          [{ personId, actor: granted.auditActor, action: 'update', resourceType: 'life_goal', resourceId: id }],
          [{ personId, type: 'life_goal.updated', data: { resourceType: 'life_goal', resourceId: id, version: goal.version, status: goal.status, changed: fields } }],
        );
        return goal;
      });
    },

    async history<T extends LifeGoal | CareGoal>(
      ctx: RequestContext,
      personId: string,
      resourceType: 'life_goal' | 'care_goal',
      id: string,
      query: { limit: number; cursor?: string },
    ) {
      const after = decodeCursor(query.cursor, VersionCursor);
      const now = clock();
      return reads.read(journal(ctx, now), async (reader, audit) => {
        const granted = await requireAccess(reader, ctx.actor, personId, { kind: 'read', category: 'goals' }, now);
        const rows = await listVersions(reader, personId, resourceType, id, { afterVersion: after?.v, limit: query.limit + 1 });
        if (rows.length === 0 && after === undefined) throw notFound(`No such ${resourceType.replace('_', ' ')}.`);
        audit(granted.context, [{ personId, actor: granted.auditActor, action: 'read', resourceType: `${resourceType}_history`, resourceId: id }]);
        return toPage(rows, query.limit, (r) => ({ v: r.version }), (r) => versionRowToHistoryItem<T>(r));
      });
    },

    async createCareGoal(ctx: RequestContext, personId: string, input: CareGoalCreate): Promise<CareGoal> {
      const now = clock();
      return inTransaction(db, async (trx) => {
        const granted = await requireAccess(trx, ctx.actor, personId, { kind: 'write', category: 'goals' }, now);
        await checkLifeGoalIds(trx, personId, input.lifeGoalIds);
        await checkOwner(trx, personId, input.ownerMemberId, now);
        const row = await repo.insertCareGoal(
          trx,
          {
            person_id: personId,
            care_goal_id: newId(),
            title: input.title,
            description: input.description ?? null,
            status: input.status ?? 'proposed',
            owner_member_id: input.ownerMemberId ?? null,
            review_date: input.reviewDate ?? null,
            created_by_sub: ctx.actor.sub,
            created_at: now,
            updated_at: now,
          },
          input.lifeGoalIds,
        );
        const goal = careGoalRowToCareGoal(row);
        await recordVersion(trx, { personId, resourceType: 'care_goal', resourceId: goal.id, version: 1, snapshot: goal, changedFields: CARE_GOAL_FIELDS, actor: granted.auditActor, at: now });
        await appendJournal(
          trx,
          journal(ctx, now),
          [{ personId, actor: granted.auditActor, action: 'create', resourceType: 'care_goal', resourceId: goal.id }],
          [{ personId, type: 'care_goal.created', data: { resourceType: 'care_goal', resourceId: goal.id, version: 1, status: goal.status, lifeGoalIds: goal.lifeGoalIds } }],
        );
        return goal;
      });
    },

    async listCareGoals(ctx: RequestContext, personId: string, query: { limit: number; cursor?: string; status?: string; lifeGoalId?: string }) {
      const after = decodeCursor(query.cursor, IdCursor);
      const now = clock();
      return reads.read(journal(ctx, now), async (reader, audit) => {
        const granted = await requireAccess(reader, ctx.actor, personId, { kind: 'read', category: 'goals' }, now);
        const rows = await repo.listCareGoals(reader, personId, { status: query.status, lifeGoalId: query.lifeGoalId, afterId: after?.id, limit: query.limit + 1 });
        audit(granted.context, [{ personId, actor: granted.auditActor, action: 'list', resourceType: 'care_goal' }]);
        return toPage(rows, query.limit, (r) => ({ id: r.care_goal_id }), careGoalRowToCareGoal);
      });
    },

    async getCareGoal(ctx: RequestContext, personId: string, id: string): Promise<CareGoal> {
      const now = clock();
      return reads.read(journal(ctx, now), async (reader, audit) => {
        const granted = await requireAccess(reader, ctx.actor, personId, { kind: 'read', category: 'goals' }, now);
        const row = await repo.findCareGoal(reader, personId, id);
        if (!row) throw notFound('No such care goal.');
        audit(granted.context, [{ personId, actor: granted.auditActor, action: 'read', resourceType: 'care_goal', resourceId: id }]);
        return careGoalRowToCareGoal(row);
      });
    },

    async updateCareGoal(ctx: RequestContext, personId: string, id: string, input: CareGoalUpdate, ifMatch: number | '*' | undefined) {
      const now = clock();
      return inTransaction(db, async (trx) => {
        const granted = await requireAccess(trx, ctx.actor, personId, { kind: 'write', category: 'goals' }, now);
        const current = await repo.findCareGoal(trx, personId, id, true);
        if (!current) throw notFound('No such care goal.');
        checkIfMatch(ifMatch, current.version, true);
        if (input.lifeGoalIds) await checkLifeGoalIds(trx, personId, input.lifeGoalIds);
        await checkOwner(trx, personId, input.ownerMemberId, now);
        const row = await repo.updateCareGoal(
          trx,
          personId,
          id,
          current.version,
          {
            ...(input.title !== undefined ? { title: input.title } : {}),
            ...(input.description !== undefined ? { description: input.description } : {}),
            ...(input.status !== undefined ? { status: input.status } : {}),
            ...(input.ownerMemberId !== undefined ? { owner_member_id: input.ownerMemberId } : {}),
            ...(input.reviewDate !== undefined ? { review_date: input.reviewDate } : {}),
            updated_at: now,
          },
          input.lifeGoalIds,
        );
        if (!row) throw preconditionFailed();
        const before = careGoalRowToCareGoal(current);
        const goal = careGoalRowToCareGoal(row);
        const fields = changedFields(before, goal, CARE_GOAL_FIELDS);
        await recordVersion(trx, { personId, resourceType: 'care_goal', resourceId: id, version: goal.version, snapshot: goal, changedFields: fields, actor: granted.auditActor, at: now });
        await appendJournal(
          trx,
          journal(ctx, now),
          [{ personId, actor: granted.auditActor, action: 'update', resourceType: 'care_goal', resourceId: id }],
          [{ personId, type: 'care_goal.updated', data: { resourceType: 'care_goal', resourceId: id, version: goal.version, status: goal.status, lifeGoalIds: goal.lifeGoalIds, changed: fields } }],
        );
        return goal;
      });
    },
  };
}

export type GoalsService = ReturnType<typeof createGoalsService>;
