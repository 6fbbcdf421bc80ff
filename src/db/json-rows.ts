// Rows read back from a statement that nests queries as JSON arrays (jsonArrayFrom): JSON carries
// timestamps as text, so the columns the row mappers read as dates are revived here, per kind of
// row. A column missing from its list reaches a mapper as a string; the equivalence tests
// (test/overview.test.ts, test/fhir.everything-parts.test.ts) compare each part with its own query.
// Dates ('YYYY-MM-DD'), numbers, arrays and jsonb come through JSON as the pg driver gives them.
export const TIMESTAMP_COLUMNS = {
  person: ['claimed_at', 'created_at', 'updated_at'],
  team: ['grant_valid_until', 'grant_revoked_at', 'invited_at', 'joined_at', 'ended_at', 'updated_at'],
  lifeGoals: ['created_at', 'updated_at'],
  careGoals: ['created_at', 'updated_at'],
  tasks: ['due_at', 'completed_at', 'created_at', 'updated_at'],
  notes: ['retracted_at', 'created_at', 'updated_at'],
  meetings: ['starts_at', 'ends_at', 'created_at', 'updated_at'],
  grants: ['valid_until', 'changed_at', 'member_ended_at'],
  representatives: ['valid_until', 'created_at', 'accepted_at', 'ended_at'],
  careDocuments: ['updated_at'],
  versions: ['changed_at'],
  noteVersions: ['created_at'],
} as const;
export type RowKind = keyof typeof TIMESTAMP_COLUMNS;

/** Revives a nested part's timestamps in place; undefined (a part not loaded) stays undefined. */
export function reviveRows<T>(rows: Array<Record<string, unknown>> | undefined, kind: RowKind): T[] | undefined {
  if (!rows) return undefined;
  for (const row of rows) for (const column of TIMESTAMP_COLUMNS[kind]) if (typeof row[column] === 'string') row[column] = new Date(row[column]);
  return rows as T[];
}
