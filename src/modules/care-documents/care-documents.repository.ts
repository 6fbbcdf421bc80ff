// SQL for the care documents: one current row per person and kind; every version is in resource_versions.
import type { Kysely, Selectable } from 'kysely';
import type { CareDocuments, DB } from '../../db/types.js';

export type CareDocumentKind = 'wishes' | 'safety_plan';

export type CareDocumentRow = Selectable<CareDocuments> & {
  changed_by_name: string | null;
  changed_by_role: string;
  changed_by_member_id: string | null;
};

/** The query of findCareDocument, unexecuted (the FHIR plan nests it). */
export function careDocumentQuery(db: Kysely<DB>, personId: string, kind: CareDocumentKind) {
  return db
    .selectFrom('care_documents as d')
    .innerJoin('resource_versions as v', (join) =>
      join
        .onRef('v.person_id', '=', 'd.person_id')
        .onRef('v.resource_type', '=', 'd.kind')
        .onRef('v.resource_id', '=', 'd.person_id')
        .onRef('v.version', '=', 'd.version'),
    )
    .selectAll('d')
    .select(['v.changed_by_name', 'v.changed_by_role', 'v.changed_by_member_id'])
    .where('d.person_id', '=', personId)
    .where('d.kind', '=', kind);
}

/** The current version, with who wrote it (from its version row, written in the same transaction). */
export async function findCareDocument(
  db: Kysely<DB>,
  personId: string,
  kind: CareDocumentKind,
): Promise<CareDocumentRow | undefined> {
  return careDocumentQuery(db, personId, kind).executeTakeFirst();
}

/** Locks the current row (if any) so that concurrent writers serialise on it. */
export async function lockCareDocument(db: Kysely<DB>, personId: string, kind: CareDocumentKind) {
  return db
    .selectFrom('care_documents')
    .select(['version', 'content'])
    .where('person_id', '=', personId)
    .where('kind', '=', kind)
    .forUpdate()
    .executeTakeFirst();
}

/**
 * Writes version 1. Answers false when a concurrent first write won the race (the primary key
 * decides), so the caller can answer as if it had come second.
 */
export async function insertCareDocument(
  db: Kysely<DB>,
  values: { personId: string; kind: CareDocumentKind; content: object; updatedBySub: string; updatedAt: Date },
): Promise<boolean> {
  const row = await db
    .insertInto('care_documents')
    .values({
      person_id: values.personId,
      kind: values.kind,
      version: 1,
      content: JSON.stringify(values.content),
      updated_by_sub: values.updatedBySub,
      updated_at: values.updatedAt,
    })
    .onConflict((oc) => oc.columns(['person_id', 'kind']).doNothing())
    .returning('version')
    .executeTakeFirst();
  return row !== undefined;
}

/** Writes the next version; undefined when the expected version is no longer current. */
export async function updateCareDocument(
  db: Kysely<DB>,
  personId: string,
  kind: CareDocumentKind,
  expectedVersion: number,
  values: { content: object; updatedBySub: string; updatedAt: Date },
): Promise<number | undefined> {
  const row = await db
    .updateTable('care_documents')
    .set((eb) => ({
      version: eb('version', '+', 1),
      content: JSON.stringify(values.content),
      updated_by_sub: values.updatedBySub,
      updated_at: values.updatedAt,
    }))
    .where('person_id', '=', personId)
    .where('kind', '=', kind)
    .where('version', '=', expectedVersion)
    .returning('version')
    .executeTakeFirst();
  return row?.version;
}
