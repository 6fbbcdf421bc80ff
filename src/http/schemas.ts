// Schemas shared by every route: problem details, pagination, ids, versions.
import { z } from 'zod';

export const Problem = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    instance: z.string().optional(),
    errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  })
  .meta({ id: 'Problem', description: 'RFC 9457 problem details (application/problem+json).' });

export const Uuid = z.uuid();

export const PersonIdParams = z.object({ personId: Uuid });

/** The optimistic-concurrency header of versioned resources (required or optional per route). */
export const IfMatchHeaders = z.object({ 'if-match': z.string().optional() });

export const PageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(512).optional(),
});

export const page = <T extends z.ZodType>(item: T, id: string) =>
  z.object({ items: z.array(item), nextCursor: z.string().nullable() }).meta({ id });

/** The error answers every authenticated person route may give. */
/** Error answers, documented with the media type they are sent with. */
export const problemResponses = (...statuses: number[]) =>
  Object.fromEntries(
    statuses.map((status) => [
      status,
      { description: 'Problem details', content: { 'application/problem+json': { schema: Problem } } },
    ]),
  );

export const IsoDate = z.iso.date().meta({ description: 'A date, YYYY-MM-DD.' });
export const Timestamp = z.iso.datetime({ offset: true }).meta({ description: 'RFC 3339 timestamp (UTC).' });
