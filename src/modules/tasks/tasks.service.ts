// Tasks: work assigned to one team member; every change is a new version, the assignee moves the status with tasks:read.
import type { Kysely, Selectable } from 'kysely';
import { z } from 'zod';
import type { DB, Tasks } from '../../db/types.js';
import { inTransaction } from '../../db/transaction.js';
import type { Clock, RequestContext } from '../../lib/context.js';
import { decodeCursor, toPage } from '../../lib/cursor.js';
import { forbidden, notFound, preconditionFailed, unprocessable } from '../../lib/errors.js';
import { newId } from '../../lib/ids.js';
import { checkIfMatch } from '../../lib/versioning.js';
import { loadAccessContexts } from '../access/access.repository.js';
import { auditActorFor, decide, mayChangeTaskStatus, memberIdsOf, relationCanRead } from '../access/access.policy.js';
import { enforce, requireAccess } from '../access/access.service.js';
import type { AuditActor } from '../access/access.types.js';
import { listVersions, recordVersion } from '../history/history.repository.js';
import { changedFields, versionRowToHistoryItem } from '../history/history.schemas.js';
import { appendJournal } from '../journal/journal.repository.js';
import type { EventRecord } from '../journal/journal.types.js';
import { findMembers } from '../team/team.repository.js';
import { memberRowToRelation } from '../team/team.service.js';
import * as repo from './tasks.repository.js';
import type { Task, TaskCreate, TasksQuery, TaskUpdate } from './tasks.schemas.js';
import type { ReadJournal } from '../journal/read-journal.js';

const IdCursor = z.object({ id: z.uuid() });
const MyTasksCursor = z.object({ id: z.uuid(), p: z.uuid() });
const VersionCursor = z.object({ v: z.number().int() });
const TASK_FIELDS = ['title', 'description', 'careGoalId', 'assigneeMemberId', 'due', 'status'] as const;
const READ_TASKS = { kind: 'read', category: 'tasks' } as const;
const WRITE_TASKS = { kind: 'write', category: 'tasks' } as const;

/** A due is a date when it has the date's shape; anything else that passed validation is a moment. */
const isDate = (due: string) => due.length === 10;

function dueColumns(due: string | null): { due_date: string | null; due_at: Date | null } {
  if (due === null) return { due_date: null, due_at: null };
  return isDate(due) ? { due_date: due, due_at: null } : { due_date: null, due_at: new Date(due) };
}

/** The due as answered: a date as given, a moment in UTC. */
const normaliseDue = (due: string): string => (isDate(due) ? due : new Date(due).toISOString());

/** The start of a date's day in UTC, or the moment itself. */
const dueBound = (due: string): Date => new Date(isDate(due) ? `${due}T00:00:00Z` : due);

export function taskRowToTask(row: repo.TaskRow): Task {
  return {
    id: row.task_id,
    taskId: row.task_id,
    personId: row.person_id,
    title: row.title,
    description: row.description,
    careGoalId: row.care_goal_id,
    assigneeMemberId: row.assignee_member_id,
    due: row.due_date ?? row.due_at?.toISOString() ?? null,
    status: row.status as Task['status'],
    completedAt: row.completed_at?.toISOString() ?? null,
    completedBy:
      row.completed_by_sub === null ? null : { name: row.completed_by_name, memberId: row.completed_by_member_id },
    createdBy: { name: row.created_by_name, memberId: row.created_by_member_id },
    version: row.version,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

/** Thin event data: ids and states, never the title or description. */
function eventData(task: Task, changed?: string[]) {
  return {
    resourceType: 'task',
    resourceId: task.id,
    version: task.version,
    status: task.status,
    assigneeMemberId: task.assigneeMemberId,
    careGoalId: task.careGoalId ?? undefined,
    changed,
  };
}

export function createTasksService({ db, clock, reads }: { db: Kysely<DB>; clock: Clock; reads: ReadJournal }) {
  const journal = (ctx: RequestContext, now: Date) => ({ requestId: ctx.requestId, now });

  /** The assignee must be an active member of this plan whose grant lets them read tasks now. */
  async function checkAssignee(trx: Kysely<DB>, personId: string, memberId: string, now: Date) {
    const [row] = await findMembers(trx, personId, [memberId]);
    if (!row || row.status !== 'active' || !relationCanRead(memberRowToRelation(row), 'tasks', now)) {
      throw unprocessable('The assignee must be an active team member who can read tasks.', [
        { path: 'assigneeMemberId', message: 'not an active member with tasks access' },
      ]);
    }
  }

  // The same answer for another person's care goal as for none at all: ids of other plans are never confirmed.
  async function checkCareGoal(trx: Kysely<DB>, personId: string, careGoalId: string | null | undefined) {
    if (!careGoalId) return;
    if (!(await repo.careGoalExists(trx, personId, careGoalId))) {
      throw unprocessable('A task serves a care goal of the same person.', [
        { path: 'careGoalId', message: 'no such care goal for this person' },
      ]);
    }
  }

  /** How an actor is named on a task: their member display name, else their token's name. */
  async function actorName(trx: Kysely<DB>, personId: string, actor: AuditActor): Promise<string | null> {
    if (actor.memberId) {
      const [member] = await findMembers(trx, personId, [actor.memberId]);
      if (member) return member.display_name;
    }
    return actor.name ?? null;
  }

  const completion = (actor: AuditActor, now: Date) => ({
    completed_by_sub: actor.sub,
    completed_by_member_id: actor.memberId ?? null,
    completed_at: now,
  });
  const noCompletion = { completed_by_sub: null, completed_by_member_id: null, completed_at: null };

  return {
    async createTask(ctx: RequestContext, personId: string, input: TaskCreate): Promise<Task> {
      const now = clock();
      return inTransaction(db, async (trx) => {
        const granted = await requireAccess(trx, ctx.actor, personId, WRITE_TASKS, now);
        await checkAssignee(trx, personId, input.assigneeMemberId, now);
        await checkCareGoal(trx, personId, input.careGoalId);
        const actor = granted.auditActor;
        const status = input.status ?? 'open';
        const row = await repo.insertTask(trx, {
          person_id: personId,
          task_id: newId(),
          title: input.title,
          description: input.description ?? null,
          care_goal_id: input.careGoalId ?? null,
          assignee_member_id: input.assigneeMemberId,
          ...dueColumns(input.due ?? null),
          status,
          ...(status === 'done' ? completion(actor, now) : noCompletion),
          created_by_sub: actor.sub,
          created_by_member_id: actor.memberId ?? null,
          created_at: now,
          updated_at: now,
        });
        const name = await actorName(trx, personId, actor);
        const task = taskRowToTask({ ...row, created_by_name: name, completed_by_name: status === 'done' ? name : null });
        await recordVersion(trx, { personId, resourceType: 'task', resourceId: task.id, version: 1, snapshot: task, changedFields: [...TASK_FIELDS], actor, at: now });
        const events: EventRecord[] = [
          { personId, type: 'task.created', data: eventData(task) },
          { personId, type: 'task.assigned', data: eventData(task) },
        ];
        if (status === 'done') events.push({ personId, type: 'task.completed', data: eventData(task) });
        await appendJournal(trx, journal(ctx, now), [{ personId, actor, action: 'create', resourceType: 'task', resourceId: task.id }], events);
        return task;
      });
    },

    async listTasks(ctx: RequestContext, personId: string, query: TasksQuery) {
      const after = decodeCursor(query.cursor, IdCursor);
      const now = clock();
      return reads.read(journal(ctx, now), async (reader, audit) => {
        const granted = await requireAccess(reader, ctx.actor, personId, READ_TASKS, now);
        const assigneeMemberIds =
          query.assignee === undefined ? undefined : query.assignee === 'me' ? memberIdsOf(granted.context) : [query.assignee];
        const rows = await repo.listTasks(reader, personId, {
          assigneeMemberIds,
          status: query.status,
          dueBefore: query.dueBefore === undefined ? undefined : dueBound(query.dueBefore),
          afterId: after?.id,
          limit: query.limit + 1,
        });
        audit(granted.context, [{ personId, actor: granted.auditActor, action: 'list', resourceType: 'task' }]);
        return toPage(rows, query.limit, (r) => ({ id: r.task_id }), taskRowToTask);
      });
    },

    async getTask(ctx: RequestContext, personId: string, id: string): Promise<Task> {
      const now = clock();
      return reads.read(journal(ctx, now), async (reader, audit) => {
        const granted = await requireAccess(reader, ctx.actor, personId, READ_TASKS, now);
        const row = await repo.findTask(reader, personId, id);
        if (!row) throw notFound('No such task.');
        audit(granted.context, [{ personId, actor: granted.auditActor, action: 'read', resourceType: 'task', resourceId: id }]);
        return taskRowToTask(row);
      });
    },

    async updateTask(ctx: RequestContext, personId: string, id: string, input: TaskUpdate, ifMatch: number | '*' | undefined): Promise<Task> {
      const now = clock();
      return inTransaction(db, async (trx) => {
        // Reading tasks is the least any change needs: without it the caller learns nothing (404/403).
        const reader = await requireAccess(trx, ctx.actor, personId, READ_TASKS, now);
        const current = await repo.findTask(trx, personId, id, true);
        if (!current) throw notFound('No such task.');
        checkIfMatch(ifMatch, current.version, false);
        const before = taskRowToTask(current);

        // Fields sent with their current value change nothing and need no permission.
        const requested: Partial<Record<(typeof TASK_FIELDS)[number], unknown>> = {};
        for (const field of TASK_FIELDS) if (input[field] !== undefined) requested[field] = input[field];
        if (typeof input.due === 'string') requested.due = normaliseDue(input.due);
        const changing = changedFields(before, { ...before, ...requested }, [...TASK_FIELDS]);
        if (changing.length === 0) {
          await appendJournal(trx, journal(ctx, now), [{ personId, actor: reader.auditActor, action: 'read', resourceType: 'task', resourceId: id }]);
          return before;
        }

        const granted = changing.some((f) => f !== 'status') ? enforce(reader.context, WRITE_TASKS) : reader;
        if (changing.includes('status')) {
          if (!mayChangeTaskStatus(reader.context, { assigneeMemberId: current.assignee_member_id, createdBySub: current.created_by_sub })) {
            throw forbidden('Only the assignee, the creator, a coordinator or a controller changes the status of this task.');
          }
        }
        if (changing.includes('assigneeMemberId')) await checkAssignee(trx, personId, input.assigneeMemberId!, now);
        if (changing.includes('careGoalId')) await checkCareGoal(trx, personId, input.careGoalId);

        const actor = granted.auditActor;
        const becameDone = changing.includes('status') && input.status === 'done';
        const leftDone = changing.includes('status') && current.status === 'done';
        const row = await repo.updateTask(trx, personId, id, current.version, {
          ...(changing.includes('title') ? { title: input.title } : {}),
          ...(changing.includes('description') ? { description: input.description ?? null } : {}),
          ...(changing.includes('careGoalId') ? { care_goal_id: input.careGoalId ?? null } : {}),
          ...(changing.includes('assigneeMemberId') ? { assignee_member_id: input.assigneeMemberId } : {}),
          ...(changing.includes('due') ? dueColumns(input.due ?? null) : {}),
          ...(changing.includes('status') ? { status: input.status } : {}),
          ...(becameDone ? completion(actor, now) : leftDone ? noCompletion : {}),
          updated_at: now,
        });
        if (!row) throw preconditionFailed();
        const completedByName = becameDone ? await actorName(trx, personId, actor) : leftDone ? null : current.completed_by_name;
        const task = taskRowToTask(withNames(row, current.created_by_name, completedByName));
        const fields = changedFields(before, task, [...TASK_FIELDS]);
        await recordVersion(trx, { personId, resourceType: 'task', resourceId: id, version: task.version, snapshot: task, changedFields: fields, actor, at: now });

        const events: EventRecord[] = [];
        if (fields.includes('assigneeMemberId')) events.push({ personId, type: 'task.assigned', data: eventData(task, fields) });
        if (becameDone) events.push({ personId, type: 'task.completed', data: eventData(task, fields) });
        const others = fields.filter((f) => f !== 'assigneeMemberId' && !(f === 'status' && becameDone));
        if (others.length > 0) events.push({ personId, type: 'task.updated', data: eventData(task, fields) });
        await appendJournal(trx, journal(ctx, now), [{ personId, actor, action: 'update', resourceType: 'task', resourceId: id }], events);
        return task;
      });
    },

    async history(ctx: RequestContext, personId: string, id: string, query: { limit: number; cursor?: string }) {
      const after = decodeCursor(query.cursor, VersionCursor);
      const now = clock();
      return reads.read(journal(ctx, now), async (reader, audit) => {
        const granted = await requireAccess(reader, ctx.actor, personId, READ_TASKS, now);
        const rows = await listVersions(reader, personId, 'task', id, { afterVersion: after?.v, limit: query.limit + 1 });
        if (rows.length === 0 && after === undefined) throw notFound('No such task.');
        audit(granted.context, [{ personId, actor: granted.auditActor, action: 'read', resourceType: 'task_history', resourceId: id }]);
        return toPage(rows, query.limit, (r) => ({ v: r.version }), (r) => versionRowToHistoryItem<Task>(r));
      });
    },

    /** The caller's open tasks across every plan where they are a member who may read tasks now. */
    async myOpenTasks(ctx: RequestContext, query: { limit: number; cursor?: string }) {
      const after = decodeCursor(query.cursor, MyTasksCursor);
      const now = clock();
      return inTransaction(db, async (trx) => {
        const candidates = await repo.personsWithMyOpenTasks(trx, ctx.actor, now);
        const contexts = await loadAccessContexts(trx, ctx.actor, candidates, now);
        const auditActors = new Map<string, AuditActor>();
        for (const [personId, context] of contexts) {
          const decision = decide(context, READ_TASKS);
          if (decision.allowed) auditActors.set(personId, auditActorFor(context, decision.relation));
        }
        const rows = await repo.listMyOpenTasks(trx, ctx.actor, now, {
          personIds: [...auditActors.keys()],
          after: after && { id: after.id, personId: after.p },
          limit: query.limit + 1,
        });
        const page = toPage(rows, query.limit, (r) => ({ id: r.task_id, p: r.person_id }), taskRowToTask);
        const shown = [...new Set(page.items.map((task) => task.personId))];
        await appendJournal(
          trx,
          journal(ctx, now),
          shown.map((personId) => ({ personId, actor: auditActors.get(personId)!, action: 'list' as const, resourceType: 'task' })),
        );
        return page;
      });
    },
  };
}

function withNames(row: Selectable<Tasks>, createdByName: string | null, completedByName: string | null): repo.TaskRow {
  return { ...row, created_by_name: createdByName, completed_by_name: completedByName };
}

export type TasksService = ReturnType<typeof createTasksService>;
