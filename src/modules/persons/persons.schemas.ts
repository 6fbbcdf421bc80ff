// Request and response shapes of persons (the person with care and support needs).
import { z } from 'zod';
import { IsoDate, Timestamp } from '../../http/schemas.js';

export const Language = z.enum(['nl', 'fr', 'de', 'en']).meta({ id: 'Language' });

export const PersonIdentifier = z
  .object({
    system: z.enum(['insz', 'passport', 'other']).meta({
      description: 'insz: Belgian national register or BIS number (11 digits); passport or other for people without one.',
    }),
    value: z.string().trim().min(1).max(64),
  })
  .meta({ id: 'PersonIdentifier' });

const personFields = {
  givenName: z.string().trim().min(1).max(200),
  familyName: z.string().trim().min(1).max(200),
  birthDate: IsoDate,
  gender: z.string().trim().min(1).max(100).meta({ description: 'As the person states it.' }),
  language: Language,
  interpreterNeeded: z.boolean(),
  allowEmergencyAccess: z
    .boolean()
    .meta({ description: 'Whether an on-call doctor outside the team may open emergency access (default true).' }),
};

export const PersonCreate = z
  .object({
    identifier: PersonIdentifier,
    givenName: personFields.givenName,
    familyName: personFields.familyName,
    birthDate: personFields.birthDate.optional(),
    gender: personFields.gender.optional(),
    language: personFields.language.optional(),
    interpreterNeeded: personFields.interpreterNeeded.optional(),
    allowEmergencyAccess: personFields.allowEmergencyAccess.optional(),
  })
  .strict()
  .meta({ id: 'PersonCreate' });
export type PersonCreate = z.infer<typeof PersonCreate>;

export const PersonUpdate = z
  .object({
    givenName: personFields.givenName.optional(),
    familyName: personFields.familyName.optional(),
    birthDate: personFields.birthDate.nullable().optional(),
    gender: personFields.gender.nullable().optional(),
    language: personFields.language.nullable().optional(),
    interpreterNeeded: personFields.interpreterNeeded.optional(),
    allowEmergencyAccess: personFields.allowEmergencyAccess.optional(),
  })
  .strict()
  .meta({ id: 'PersonUpdate' });
export type PersonUpdate = z.infer<typeof PersonUpdate>;

export const Person = z
  .object({
    id: z.uuid(),
    personId: z.uuid(),
    identifier: PersonIdentifier,
    givenName: z.string(),
    familyName: z.string(),
    birthDate: IsoDate.nullable(),
    gender: z.string().nullable(),
    language: Language.nullable(),
    interpreterNeeded: z.boolean(),
    allowEmergencyAccess: z.boolean(),
    claimed: z.boolean().meta({ description: 'False while a professional steers the plan on the person\'s behalf.' }),
    steward: z
      .object({ name: z.string().nullable() })
      .nullable()
      .meta({ description: 'The professional steering the plan until the person claims it.' }),
    version: z.number().int().min(1),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  })
  .meta({ id: 'Person' });
export type Person = z.infer<typeof Person>;
