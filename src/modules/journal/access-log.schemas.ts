// Shapes of the person's access log: who looked at or changed what, readable by the person.
import { z } from 'zod';
import { PageQuery, Timestamp } from '../../http/schemas.js';

export const AccessLogEntry = z
  .object({
    seq: z.number().int(),
    occurredAt: Timestamp,
    actor: z.object({
      name: z.string().nullable(),
      role: z.enum(['person', 'steward', 'representative', 'member', 'former_member', 'emergency', 'invitee']),
      memberId: z.uuid().nullable(),
      memberDisplayName: z.string().nullable(),
      discipline: z.string().nullable(),
      onBehalf: z.boolean().meta({ description: 'True when acting on the person\'s behalf (steward, representative).' }),
    }),
    action: z.enum(['read', 'list', 'create', 'update', 'delete', 'claim', 'emergency_access']),
    resourceType: z.string(),
    resourceId: z.uuid().nullable(),
    reason: z.string().nullable().meta({ description: 'The written reason, for emergency access.' }),
  })
  .meta({ id: 'AccessLogEntry' });
export type AccessLogEntry = z.infer<typeof AccessLogEntry>;

export const AccessLogQuery = PageQuery;

export const AccessLogVerification = z
  .object({
    valid: z.boolean(),
    entries: z.number().int(),
    firstInvalidSeq: z.number().int().nullable(),
  })
  .meta({ id: 'AccessLogVerification' });
