// The shape of a resource's history: every version with who changed what and when.
import { z } from 'zod';
import { Timestamp } from '../../http/schemas.js';
import type { VersionRow } from './history.repository.js';

export const ChangedBy = z
  .object({
    name: z.string().nullable(),
    role: z.string().meta({ description: 'person, representative, steward, member or emergency.' }),
    memberId: z.uuid().nullable(),
  })
  .meta({ id: 'ChangedBy' });

export const historyPage = <T extends z.ZodType>(snapshot: T, id: string) =>
  z
    .object({
      items: z.array(
        z.object({
          version: z.number().int(),
          changedAt: Timestamp,
          changedBy: ChangedBy,
          changedFields: z.array(z.string()),
          snapshot,
        }),
      ),
      nextCursor: z.string().nullable(),
    })
    .meta({ id });

export function versionRowToHistoryItem<T>(row: VersionRow) {
  return {
    version: row.version,
    changedAt: row.changed_at.toISOString(),
    changedBy: { name: row.changed_by_name, role: row.changed_by_role, memberId: row.changed_by_member_id },
    changedFields: row.changed_fields,
    snapshot: row.snapshot as T,
  };
}

/** The names of the fields whose values differ between two snapshots. */
export function changedFields(before: Record<string, unknown>, after: Record<string, unknown>, fields: string[]): string[] {
  return fields.filter((f) => JSON.stringify(before[f] ?? null) !== JSON.stringify(after[f] ?? null));
}
