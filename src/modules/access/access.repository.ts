// Loads the inputs of the access policy: the caller's relations to one person (one round trip),
// and the set of persons a caller is related to, as SQL so that lists filter inside the database.
import type { Kysely } from 'kysely';
import type { DB } from '../../db/types.js';
import type { AccessContext, Actor, Relation } from './access.types.js';

export async function loadAccessContext(db: Kysely<DB>, actor: Actor, personId: string): Promise<AccessContext> {
  const row = await db
    .selectFrom('persons')
    .select(['person_id', 'owner_sub', 'steward_sub', 'claimed_at', 'identifier_system', 'identifier_value'])
    .where('person_id', '=', personId)
    .executeTakeFirst();
  const relations: Relation[] = [];
  if (row) {
    if (isThePerson(actor, row)) relations.push({ kind: 'person' });
    if (row.claimed_at === null && row.steward_sub === actor.sub) relations.push({ kind: 'steward' });
  }
  return { personId, actor, relations };
}

function isThePerson(
  actor: Actor,
  row: { owner_sub: string | null; identifier_system: string; identifier_value: string },
): boolean {
  if (row.owner_sub !== null && row.owner_sub === actor.sub) return true;
  return actor.insz !== undefined && row.identifier_system === 'insz' && row.identifier_value === actor.insz;
}

/** A subquery of the person ids the caller has any active relation to. */
export function relatedPersonIds(db: Kysely<DB>, actor: Actor) {
  return db
    .selectFrom('persons')
    .select('persons.person_id')
    .where((eb) => {
      const related = [
        eb('persons.owner_sub', '=', actor.sub),
        eb.and([eb('persons.steward_sub', '=', actor.sub), eb('persons.claimed_at', 'is', null)]),
      ];
      if (actor.insz !== undefined) {
        related.push(
          eb.and([eb('persons.identifier_system', '=', 'insz'), eb('persons.identifier_value', '=', actor.insz)]),
        );
      }
      return eb.or(related);
    });
}

/** Access contexts for many persons at once (for lists), in one round trip. */
export async function loadAccessContexts(
  db: Kysely<DB>,
  actor: Actor,
  personIds: string[],
): Promise<Map<string, AccessContext>> {
  const contexts = new Map<string, AccessContext>(personIds.map((id) => [id, { personId: id, actor, relations: [] }]));
  if (personIds.length === 0) return contexts;
  const rows = await db
    .selectFrom('persons')
    .select(['person_id', 'owner_sub', 'steward_sub', 'claimed_at', 'identifier_system', 'identifier_value'])
    .where('person_id', 'in', personIds)
    .execute();
  for (const row of rows) {
    const relations = contexts.get(row.person_id)!.relations;
    if (isThePerson(actor, row)) relations.push({ kind: 'person' });
    if (row.claimed_at === null && row.steward_sub === actor.sub) relations.push({ kind: 'steward' });
  }
  return contexts;
}
