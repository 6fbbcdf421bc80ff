// Shapes of the care documents: advance care planning wishes and the signalling / safety plan.
import { z } from 'zod';
import { Timestamp, Uuid } from '../../http/schemas.js';
import { ChangedBy } from '../history/history.schemas.js';

const topic = z.string().trim().min(1).max(200);
const statement = z.string().trim().min(1).max(2_000);
const planLine = z.string().trim().min(1).max(1_000);

export const WishStatement = z
  .object({
    topic: topic.meta({ description: 'What the wish is about, e.g. "hospital admission", "resuscitation".' }),
    statement: statement.meta({ description: 'The wish in the person\'s own words.' }),
  })
  .strict()
  .meta({ id: 'WishStatement' });

export const WishesContent = z
  .object({ statements: z.array(WishStatement).max(100) })
  .strict()
  .meta({
    id: 'WishesContent',
    description: 'The whole set of wishes; every PUT replaces it and becomes a new version. Recorded, not binding.',
  });
export type WishesContent = z.infer<typeof WishesContent>;

const SafetyPlanContactInput = z
  .object({
    name: z.string().trim().min(1).max(200),
    role: z.string().trim().min(1).max(200).nullable().optional(),
    phone: z
      .string()
      .trim()
      .regex(/^\+?[0-9][0-9 ()./-]{2,29}$/, 'a phone number: digits, optionally +, spaces, ( ) . / -')
      .nullable()
      .optional(),
  })
  .strict();

export const SafetyPlanContent = z
  .object({
    warningSigns: z.array(planLine).max(50).meta({ description: 'Early warning signs.' }),
    whatHelps: z.array(planLine).max(50).meta({ description: 'What helps (coping, people, places).' }),
    contacts: z.array(SafetyPlanContactInput).max(20).meta({ description: 'Whom to call.' }),
  })
  .strict()
  .meta({ id: 'SafetyPlanContent', description: 'The whole plan; every PUT replaces it and becomes a new version.' });
export type SafetyPlanContent = z.infer<typeof SafetyPlanContent>;

export const SafetyPlanContact = z
  .object({ name: z.string(), role: z.string().nullable(), phone: z.string().nullable() })
  .meta({ id: 'SafetyPlanContact' });

/** Who wrote the current version, and when: the same for both documents. */
const versionFields = { version: z.number().int(), updatedAt: Timestamp, updatedBy: ChangedBy };

export const Wishes = z
  .object({
    personId: z.uuid(),
    statements: z.array(z.object({ topic: z.string(), statement: z.string() })),
    ...versionFields,
  })
  .meta({ id: 'Wishes' });
export type Wishes = z.infer<typeof Wishes>;

export const SafetyPlan = z
  .object({
    personId: z.uuid(),
    warningSigns: z.array(z.string()),
    whatHelps: z.array(z.string()),
    contacts: z.array(SafetyPlanContact),
    ...versionFields,
  })
  .meta({ id: 'SafetyPlan' });
export type SafetyPlan = z.infer<typeof SafetyPlan>;

export const DocumentVersionParams = z.object({ personId: Uuid, version: z.coerce.number().int().min(1).max(999_999_999) });
