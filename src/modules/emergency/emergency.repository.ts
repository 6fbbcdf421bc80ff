// SQL for emergency access (break the glass).
import type { Insertable, Kysely, Selectable } from 'kysely';
import type { DB, EmergencyAccesses } from '../../db/types.js';

export type EmergencyAccessRow = Selectable<EmergencyAccesses>;

export async function findPersonIdByIdentifier(
  db: Kysely<DB>,
  identifier: { system: string; value: string },
): Promise<string | undefined> {
  const row = await db
    .selectFrom('person_identifiers')
    .select('person_id')
    .where('identifier_system', '=', identifier.system)
    .where('identifier_value', '=', identifier.value)
    .executeTakeFirst();
  return row?.person_id;
}

export async function insertEmergencyAccess(db: Kysely<DB>, values: Insertable<EmergencyAccesses>): Promise<EmergencyAccessRow> {
  return db.insertInto('emergency_accesses').values(values).returningAll().executeTakeFirstOrThrow();
}
