// Every version of a versioned resource, as the API showed it, with who changed what and when.
import type { Kysely } from 'kysely';
import type { DB } from '../../db/types.js';
import type { AuditActor } from '../access/access.types.js';

export type VersionedResourceType = 'life_goal' | 'care_goal' | 'task' | 'wishes' | 'safety_plan' | 'meeting';

export async function recordVersion(
  db: Kysely<DB>,
  entry: {
    personId: string;
    resourceType: VersionedResourceType;
    resourceId: string;
    version: number;
    snapshot: object;
    changedFields: string[];
    actor: AuditActor;
    at: Date;
  },
): Promise<void> {
  await db
    .insertInto('resource_versions')
    .values({
      person_id: entry.personId,
      resource_type: entry.resourceType,
      resource_id: entry.resourceId,
      version: entry.version,
      snapshot: JSON.stringify(entry.snapshot),
      changed_fields: entry.changedFields,
      changed_by_sub: entry.actor.sub,
      changed_by_name: entry.actor.name ?? null,
      changed_by_role: entry.actor.role,
      changed_by_member_id: entry.actor.memberId ?? null,
      changed_at: entry.at,
    })
    .execute();
}

export async function listVersions(
  db: Kysely<DB>,
  personId: string,
  resourceType: VersionedResourceType,
  resourceId: string,
  options: { afterVersion?: number; limit: number },
) {
  let query = db
    .selectFrom('resource_versions')
    .selectAll()
    .where('person_id', '=', personId)
    .where('resource_type', '=', resourceType)
    .where('resource_id', '=', resourceId);
  if (options.afterVersion !== undefined) query = query.where('version', '>', options.afterVersion);
  return query.orderBy('version').limit(options.limit).execute();
}

export async function findVersion(
  db: Kysely<DB>,
  personId: string,
  resourceType: VersionedResourceType,
  resourceId: string,
  version: number,
) {
  return db
    .selectFrom('resource_versions')
    .selectAll()
    .where('person_id', '=', personId)
    .where('resource_type', '=', resourceType)
    .where('resource_id', '=', resourceId)
    .where('version', '=', version)
    .executeTakeFirst();
}

export type VersionRow = Awaited<ReturnType<typeof listVersions>>[number];
