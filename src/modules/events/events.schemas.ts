// The thin event every channel carries: ids, types, states and versions; no clinical free text.
import { z } from 'zod';
import { Timestamp, Uuid } from '../../http/schemas.js';
import { EVENT_TYPES } from '../journal/journal.types.js';

export const EventType = z.enum(EVENT_TYPES).meta({ id: 'EventType' });

export const KringEvent = z
  .object({
    id: z.uuid(),
    type: EventType,
    occurredAt: Timestamp,
    personId: z.uuid(),
    seq: z.number().int().meta({ description: 'The event\'s position in this person\'s change feed.' }),
    data: z
      .object({ resourceType: z.string(), resourceId: z.string(), version: z.number().int().optional() })
      .catchall(z.unknown()),
  })
  .meta({ id: 'Event' });
export type KringEvent = z.infer<typeof KringEvent>;

export const ChangesParams = z.object({ personId: Uuid });
export const ChangesQuery = z.object({
  after: z.string().max(200).optional().meta({ description: 'The nextCursor of the previous answer; absent: from the beginning.' }),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});

export const ChangesPage = z
  .object({
    items: z.array(KringEvent),
    nextCursor: z.string().meta({ description: 'Never null: pass it as `after` to get what happened since.' }),
  })
  .meta({ id: 'ChangesPage' });
