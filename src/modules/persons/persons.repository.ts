// SQL for persons and their identifier lookup; executor first so the service owns the transaction.
import type { Insertable, Kysely, Selectable, Updateable } from 'kysely';
import type { DB, Persons } from '../../db/types.js';
import type { Actor } from '../access/access.types.js';
import { readablePersonIds } from '../access/access.repository.js';
import type { Person } from './persons.schemas.js';

export type PersonRow = Selectable<Persons>;

/** Reserves the identifier for a new person; false when another plan already holds it. */
export async function claimIdentifier(
  db: Kysely<DB>,
  identifier: { system: string; value: string },
  personId: string,
): Promise<boolean> {
  const inserted = await db
    .insertInto('person_identifiers')
    .values({ identifier_system: identifier.system, identifier_value: identifier.value, person_id: personId })
    .onConflict((oc) => oc.columns(['identifier_system', 'identifier_value']).doNothing())
    .returning('person_id')
    .executeTakeFirst();
  return inserted !== undefined;
}

export async function insertPerson(db: Kysely<DB>, values: Insertable<Persons>): Promise<PersonRow> {
  return db.insertInto('persons').values(values).returningAll().executeTakeFirstOrThrow();
}

/** The query of findPerson, unexecuted (the FHIR plan nests it). */
export function personQuery(db: Kysely<DB>, personId: string) {
  return db.selectFrom('persons').selectAll().where('person_id', '=', personId);
}

export async function findPerson(db: Kysely<DB>, personId: string): Promise<PersonRow | undefined> {
  return personQuery(db, personId).executeTakeFirst();
}

/** Updates when the version still matches; undefined when another change came first. */
export async function updatePerson(
  db: Kysely<DB>,
  personId: string,
  expectedVersion: number,
  changes: Updateable<Persons>,
): Promise<PersonRow | undefined> {
  return db
    .updateTable('persons')
    .set((eb) => ({ ...changes, version: eb('version', '+', 1) }))
    .where('person_id', '=', personId)
    .where('version', '=', expectedVersion)
    .returningAll()
    .executeTakeFirst();
}

/** The persons whose profile the caller may read, in id (creation) order, filtered inside SQL. */
export async function listRelatedPersons(
  db: Kysely<DB>,
  actor: Actor,
  now: Date,
  options: { afterId?: string; limit: number },
): Promise<PersonRow[]> {
  let query = db
    .selectFrom('persons')
    .selectAll()
    .where('person_id', 'in', readablePersonIds(db, actor, now, 'profile'));
  if (options.afterId !== undefined) query = query.where('person_id', '>', options.afterId);
  return query.orderBy('person_id').limit(options.limit).execute();
}

export function personRowToPerson(row: PersonRow): Person {
  return {
    id: row.person_id,
    personId: row.person_id,
    identifier: { system: row.identifier_system as Person['identifier']['system'], value: row.identifier_value },
    givenName: row.given_name,
    familyName: row.family_name,
    birthDate: row.birth_date,
    gender: row.gender,
    language: row.language as Person['language'],
    interpreterNeeded: row.interpreter_needed,
    allowEmergencyAccess: row.allow_emergency_access,
    claimed: row.claimed_at !== null,
    steward: row.steward_sub !== null && row.claimed_at === null ? { name: row.steward_name } : null,
    version: row.version,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}
