// Shapes of life goals (in the person's own words) and care goals (what care and support aim at).
import { z } from 'zod';
import { IsoDate, PageQuery, Timestamp, Uuid } from '../../http/schemas.js';

export const LifeGoalStatus = z.enum(['active', 'achieved', 'let_go']).meta({ id: 'LifeGoalStatus' });
export const CareGoalStatus = z
  .enum(['proposed', 'active', 'achieved', 'not_achieved', 'cancelled'])
  .meta({ id: 'CareGoalStatus' });

const title = z.string().trim().min(1).max(500);
const description = z.string().trim().min(1).max(10_000);

export const LifeGoalCreate = z
  .object({ title, description: description.optional(), status: LifeGoalStatus.optional() })
  .strict()
  .meta({ id: 'LifeGoalCreate' });
export type LifeGoalCreate = z.infer<typeof LifeGoalCreate>;

export const LifeGoalUpdate = z
  .object({ title: title.optional(), description: description.nullable().optional(), status: LifeGoalStatus.optional() })
  .strict()
  .meta({ id: 'LifeGoalUpdate' });
export type LifeGoalUpdate = z.infer<typeof LifeGoalUpdate>;

export const ExpressedBy = z
  .object({
    kind: z.enum(['person', 'representative', 'member']).meta({
      description: 'The person, a representative on their behalf, or a team member writing it down with the person.',
    }),
    name: z.string().nullable(),
    memberId: z.uuid().nullable(),
    representativeId: z.uuid().nullable(),
  })
  .meta({ id: 'ExpressedBy' });

export const LifeGoal = z
  .object({
    id: z.uuid(),
    lifeGoalId: z.uuid(),
    personId: z.uuid(),
    title: z.string(),
    description: z.string().nullable(),
    status: LifeGoalStatus,
    expressedBy: ExpressedBy,
    version: z.number().int(),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  })
  .meta({ id: 'LifeGoal' });
export type LifeGoal = z.infer<typeof LifeGoal>;

export const LifeGoalTraceability = z
  .object({
    careGoals: z.array(z.object({ id: z.uuid(), status: CareGoalStatus })),
    careGoalsByStatus: z.record(z.string(), z.number().int()),
    tasks: z
      .object({ open: z.number().int(), done: z.number().int() })
      .nullable()
      .meta({ description: 'Counts of the linked care goals\' tasks; null without tasks:read.' }),
  })
  .meta({ id: 'LifeGoalTraceability' });

export const LifeGoalWithTraceability = LifeGoal.extend({ traceability: LifeGoalTraceability }).meta({
  id: 'LifeGoalWithTraceability',
});

export const CareGoalCreate = z
  .object({
    title,
    description: description.optional(),
    lifeGoalIds: z.array(Uuid).min(1).max(50),
    status: CareGoalStatus.optional(),
    ownerMemberId: Uuid.optional(),
    reviewDate: IsoDate.optional(),
  })
  .strict()
  .meta({ id: 'CareGoalCreate' });
export type CareGoalCreate = z.infer<typeof CareGoalCreate>;

export const CareGoalUpdate = z
  .object({
    title: title.optional(),
    description: description.nullable().optional(),
    lifeGoalIds: z.array(Uuid).min(1).max(50).optional(),
    status: CareGoalStatus.optional(),
    ownerMemberId: Uuid.nullable().optional(),
    reviewDate: IsoDate.nullable().optional(),
  })
  .strict()
  .meta({ id: 'CareGoalUpdate' });
export type CareGoalUpdate = z.infer<typeof CareGoalUpdate>;

export const CareGoal = z
  .object({
    id: z.uuid(),
    careGoalId: z.uuid(),
    personId: z.uuid(),
    title: z.string(),
    description: z.string().nullable(),
    status: CareGoalStatus,
    lifeGoalIds: z.array(z.uuid()),
    ownerMemberId: z.uuid().nullable(),
    reviewDate: IsoDate.nullable(),
    version: z.number().int(),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  })
  .meta({ id: 'CareGoal' });
export type CareGoal = z.infer<typeof CareGoal>;

export const LifeGoalParams = z.object({ personId: Uuid, lifeGoalId: Uuid });
export const CareGoalParams = z.object({ personId: Uuid, careGoalId: Uuid });
export const LifeGoalsQuery = PageQuery.extend({ status: LifeGoalStatus.optional() });
export const CareGoalsQuery = PageQuery.extend({ status: CareGoalStatus.optional(), lifeGoalId: Uuid.optional() });
