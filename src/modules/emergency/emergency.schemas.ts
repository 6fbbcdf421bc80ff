// Shapes of emergency access: the on-call doctor's justified, time-limited read access.
import { z } from 'zod';
import { Timestamp } from '../../http/schemas.js';
import { PersonIdentifier } from '../persons/persons.schemas.js';
import { ScopeSchema } from '../team/team.schemas.js';

export const EmergencyAccessCreate = z
  .object({
    insz: z.string().regex(/^\d{11}$/, 'an INSZ has 11 digits').optional(),
    identifier: PersonIdentifier.optional(),
    reason: z.string().trim().min(10, 'give a reason of at least 10 characters').max(2000),
  })
  .strict()
  .refine((v) => (v.insz === undefined) !== (v.identifier === undefined), {
    message: 'give either insz or identifier',
    path: ['insz'],
  })
  .meta({ id: 'EmergencyAccessCreate' });
export type EmergencyAccessCreate = z.infer<typeof EmergencyAccessCreate>;

export const EmergencyAccess = z
  .object({
    id: z.uuid(),
    personId: z.uuid(),
    scopes: z.array(ScopeSchema),
    openedAt: Timestamp,
    expiresAt: Timestamp,
  })
  .meta({ id: 'EmergencyAccess' });
export type EmergencyAccess = z.infer<typeof EmergencyAccess>;
