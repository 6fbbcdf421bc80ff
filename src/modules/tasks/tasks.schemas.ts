// Shapes of tasks: concrete work for one team member, optionally serving a care goal.
import { z } from 'zod';
import { IsoDate, PageQuery, Timestamp, Uuid } from '../../http/schemas.js';

export const TaskStatus = z
  .enum(['open', 'in_progress', 'done', 'cancelled'])
  .meta({ id: 'TaskStatus', description: '"Open" tasks are those with status open or in_progress.' });

// PostgreSQL text cannot hold NUL characters: refuse them as bad input rather than fail on insert.
const noNul = (value: string) => !value.includes('\u0000');
const title = z.string().trim().min(1).max(500).refine(noNul, { message: 'must not contain NUL characters' });
const description = z.string().trim().min(1).max(10_000).refine(noNul, { message: 'must not contain NUL characters' });

// Years outside 1000-9999 (in UTC) are refused here: PostgreSQL has no year 0, and a moment past
// 9999 has no RFC 3339 form, so either would otherwise surface as a database error, not a 400.
function plausibleYear(value: string): boolean {
  const year = new Date(value.length === 10 ? `${value}T00:00:00Z` : value).getUTCFullYear();
  return year >= 1000 && year <= 9999;
}

export const TaskDue = z
  .union([IsoDate, Timestamp])
  .refine(plausibleYear, { message: 'must lie between the years 1000 and 9999' })
  .meta({
    id: 'TaskDue',
    description: 'A due date (YYYY-MM-DD) or a due moment (RFC 3339 timestamp); answered in the form it was given (moments in UTC).',
  });

export const TaskCreate = z
  .object({
    title,
    description: description.optional(),
    careGoalId: Uuid.optional(),
    assigneeMemberId: Uuid,
    due: TaskDue.optional(),
    status: TaskStatus.optional(),
  })
  .strict()
  .meta({ id: 'TaskCreate' });
export type TaskCreate = z.infer<typeof TaskCreate>;

export const TaskUpdate = z
  .object({
    title: title.optional(),
    description: description.nullable().optional(),
    careGoalId: Uuid.nullable().optional(),
    assigneeMemberId: Uuid.optional(),
    due: TaskDue.nullable().optional(),
    status: TaskStatus.optional(),
  })
  .strict()
  .meta({
    id: 'TaskUpdate',
    description:
      'Changing only the status is allowed to the assignee (tasks:read suffices), the creator, a coordinator and controllers; ' +
      'any other change needs tasks:write. If-Match is honoured when sent.',
  });
export type TaskUpdate = z.infer<typeof TaskUpdate>;

export const TaskActor = z
  .object({ name: z.string().nullable(), memberId: z.uuid().nullable() })
  .meta({ id: 'TaskActor', description: 'Who did it: their name, and their member id when they acted as a team member.' });

export const Task = z
  .object({
    id: z.uuid(),
    taskId: z.uuid(),
    personId: z.uuid(),
    title: z.string(),
    description: z.string().nullable(),
    careGoalId: z.uuid().nullable(),
    assigneeMemberId: z.uuid(),
    due: z.string().nullable().meta({ description: 'YYYY-MM-DD or an RFC 3339 timestamp, as given; null without a due.' }),
    status: TaskStatus,
    completedAt: Timestamp.nullable(),
    completedBy: TaskActor.nullable(),
    createdBy: TaskActor,
    version: z.number().int(),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  })
  .meta({ id: 'Task' });
export type Task = z.infer<typeof Task>;

export const TaskParams = z.object({ personId: Uuid, taskId: Uuid });

export const TasksQuery = PageQuery.extend({
  assignee: z
    .union([z.literal('me'), Uuid])
    .optional()
    .meta({ description: '"me" (the caller\'s own member ids in this plan) or a member id.' }),
  status: TaskStatus.optional(),
  dueBefore: TaskDue.optional().meta({
    description: 'Only tasks due before this date or moment (a due date counts from the start of its day, UTC).',
  }),
});
export type TasksQuery = z.infer<typeof TasksQuery>;
