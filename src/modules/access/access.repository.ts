// Loads the inputs of the access policy: the caller's relations to one person in one round trip,
// and the persons a caller is related to, as SQL so that lists filter inside the database.
// A revoked, expired or ended grant counts from the very next request: relations are read fresh,
// except by the read journal's first attempt, which checks them when it commits (access.cache.ts).
import { sql, type ExpressionBuilder, type Kysely } from 'kysely';
import type { DB } from '../../db/types.js';
import { holdJournalHead } from '../journal/journal.repository.js';
import { throughCache } from './access.cache.js';
import type { AccessContext, Actor, Category, MemberFunction, MemberKind, Relation, Scope } from './access.types.js';

interface RelationRow {
  person_id: string;
  owner_sub: string | null;
  steward_sub: string | null;
  claimed_at: Date | string | null;
  identifier_system: string;
  identifier_value: string;
  members: Array<{
    member_id: string;
    kind: MemberKind;
    function: MemberFunction;
    user_sub: string | null;
    scopes: Scope[];
    grant_valid_until: string | null;
    grant_revoked_at: string | null;
    ended_at: string | null;
  }>;
  representatives: Array<{ representative_id: string; level: 'full' | 'limited'; valid_until: string | null; ended_at: string | null }>;
  emergencies: Array<{ emergency_access_id: string; scopes: Scope[]; expires_at: string }>;
  access_version: number | null;
  audit_seq: number | null;
  audit_hash: string | null;
  event_seq: number | null;
}

const toDate = (value: string | null): Date | null => (value === null ? null : new Date(value));

function relationsOf(actor: Actor, row: RelationRow): Relation[] {
  const relations: Relation[] = [];
  const isThePerson =
    (row.owner_sub !== null && row.owner_sub === actor.sub) ||
    (actor.insz !== undefined && row.identifier_system === 'insz' && row.identifier_value === actor.insz);
  if (isThePerson) relations.push({ kind: 'person' });
  if (row.claimed_at === null && row.steward_sub === actor.sub) relations.push({ kind: 'steward' });
  for (const r of row.representatives) {
    relations.push({
      kind: 'representative',
      representativeId: r.representative_id,
      level: r.level,
      validUntil: toDate(r.valid_until),
      endedAt: toDate(r.ended_at),
    });
  }
  for (const m of row.members) {
    relations.push({
      kind: 'member',
      memberId: m.member_id,
      memberKind: m.kind,
      function: m.function,
      viaOrganisation: m.kind === 'organisation',
      scopes: m.scopes,
      grantValidUntil: toDate(m.grant_valid_until),
      grantRevokedAt: toDate(m.grant_revoked_at),
      endedAt: toDate(m.ended_at),
    });
  }
  for (const e of row.emergencies) {
    relations.push({ kind: 'emergency', emergencyAccessId: e.emergency_access_id, scopes: e.scopes, expiresAt: new Date(e.expires_at) });
  }
  return relations;
}

// Inside a transaction the member and representative rows are share-locked: a revoke (which
// updates them) waits for the transaction, which waits for a revoke in flight and then sees its
// result. The person's journal head is locked there too, as the transaction's audit entries will
// move it (appendJournal then needs no lookup of its own). Reads outside a transaction take no
// lock; they carry the access version instead, which the read journal checks when it writes their
// audit entry (see read-journal.ts).
const relationQuery = (actor: Actor, personIds: string[], lock: boolean) => {
  // Locking, the head comes first (member and representative rows are filtered through it), so a
  // write and a revoke of the same plan queue on the head instead of deadlocking on member rows.
  const afterHead = lock ? sql`and person_id in (select person_id from s)` : sql``;
  return sql<RelationRow>`
  with s as ${lock ? sql`materialized` : sql``} (
    select person_id, access_version, audit_seq, audit_hash, event_seq
    from person_sequences
    where person_id = any(${personIds}::uuid[])
    ${lock ? sql`order by person_id for update` : sql``}
  ), m as (
    select person_id, member_id, kind, function, user_sub, scopes, grant_valid_until, grant_revoked_at, ended_at
    from care_team_members
    where person_id = any(${personIds}::uuid[]) and status <> 'invited'
      and ((kind <> 'organisation' and user_sub = ${actor.sub})
        or (kind = 'organisation' and organisation_id = ${actor.org ?? null}::text))
      ${afterHead}
    ${lock ? sql`for share` : sql``}
  ), r as (
    select person_id, representative_id, level, valid_until, ended_at
    from representatives
    where person_id = any(${personIds}::uuid[]) and status <> 'invited' and user_sub = ${actor.sub}
      ${afterHead}
    ${lock ? sql`for share` : sql``}
  ), e as (
    select person_id, emergency_access_id, scopes, expires_at
    from emergency_accesses
    where person_id = any(${personIds}::uuid[]) and actor_sub = ${actor.sub}
  )
  select p.person_id, p.owner_sub, p.steward_sub, p.claimed_at, p.identifier_system, p.identifier_value,
    coalesce((select json_agg(m) from m where m.person_id = p.person_id), '[]'::json) as members,
    coalesce((select json_agg(r) from r where r.person_id = p.person_id), '[]'::json) as representatives,
    coalesce((select json_agg(e) from e where e.person_id = p.person_id), '[]'::json) as emergencies,
    s.access_version, s.audit_seq, s.audit_hash, s.event_seq
  from persons p
  left join s on s.person_id = p.person_id
  where p.person_id = any(${personIds}::uuid[])
`;
};

/** The caller's relations to one person; no relations when the person does not exist. */
export function loadAccessContext(db: Kysely<DB>, actor: Actor, personId: string, now: Date): Promise<AccessContext> {
  return throughCache(db, actor, personId, now, () => readAccessContext(db, actor, personId, now));
}

async function readAccessContext(db: Kysely<DB>, actor: Actor, personId: string, now: Date): Promise<AccessContext> {
  const { rows } = await relationQuery(actor, [personId], db.isTransaction).execute(db);
  const row = rows[0];
  if (db.isTransaction && row && row.audit_seq !== null && row.audit_hash !== null && row.event_seq !== null) {
    holdJournalHead(db, { person_id: row.person_id, audit_seq: row.audit_seq, audit_hash: row.audit_hash, event_seq: row.event_seq });
  }
  return {
    personId,
    actor,
    now,
    relations: row ? relationsOf(actor, row) : [],
    accessVersion: row?.access_version ?? undefined,
    journalHead:
      row && row.audit_seq !== null && row.audit_hash !== null && row.event_seq !== null
        ? { seq: row.audit_seq, hash: row.audit_hash, eventSeq: row.event_seq }
        : undefined,
  };
}

/** Access contexts for many persons at once (for lists), in one round trip. */
export async function loadAccessContexts(
  db: Kysely<DB>,
  actor: Actor,
  personIds: string[],
  now: Date,
): Promise<Map<string, AccessContext>> {
  const contexts = new Map<string, AccessContext>(personIds.map((id) => [id, { personId: id, actor, now, relations: [] }]));
  if (personIds.length === 0) return contexts;
  const { rows } = await relationQuery(actor, personIds, false).execute(db);
  for (const row of rows) {
    const context = contexts.get(row.person_id)!;
    context.relations = relationsOf(actor, row);
    context.accessVersion = row.access_version ?? undefined;
  }
  return contexts;
}

/** Member rows through which the caller acts: their own login, or their organisation's membership. */
function callersMembership(actor: Actor) {
  return (eb: ExpressionBuilder<DB, 'care_team_members'>) =>
    actor.org === undefined
      ? eb.and([eb('kind', '<>', 'organisation'), eb('user_sub', '=', actor.sub)])
      : eb.or([
          eb.and([eb('kind', '<>', 'organisation'), eb('user_sub', '=', actor.sub)]),
          eb.and([eb('kind', '=', 'organisation'), eb('organisation_id', '=', actor.org)]),
        ]);
}

/** Plans the caller controls as the person (by login or INSZ) or as the steward of an unclaimed plan. */
function controlledPersonIds(db: Kysely<DB>, actor: Actor) {
  return db
    .selectFrom('persons')
    .select('persons.person_id')
    .where((eb) => {
      const related = [
        eb('persons.owner_sub', '=', actor.sub),
        eb.and([eb('persons.steward_sub', '=', actor.sub), eb('persons.claimed_at', 'is', null)]),
      ];
      if (actor.insz !== undefined) {
        related.push(eb.and([eb('persons.identifier_system', '=', 'insz'), eb('persons.identifier_value', '=', actor.insz)]));
      }
      return eb.or(related);
    });
}

/**
 * The caller's memberships (as `m`) whose grant lets them read `category` right now: active, not
 * ended, not revoked, in force, holding the category's read or write scope; their own login or
 * their organisation's. The policy's member read rule, in SQL, for lists across plans.
 */
export function readingMemberships(db: Kysely<DB>, actor: Actor, now: Date, category: Category) {
  return db
    .selectFrom('care_team_members as m')
    .where('m.status', '=', 'active')
    .where('m.ended_at', 'is', null)
    .where('m.grant_revoked_at', 'is', null)
    .where((eb) => eb.or([eb('m.grant_valid_until', 'is', null), eb('m.grant_valid_until', '>', now)]))
    .where(sql<boolean>`m.scopes && ${sql.val([`${category}:read`, `${category}:write`])}::text[]`)
    .where((eb) => {
      const own = eb.and([eb('m.kind', '<>', 'organisation'), eb('m.user_sub', '=', actor.sub)]);
      return actor.org === undefined ? own : eb.or([own, eb.and([eb('m.kind', '=', 'organisation'), eb('m.organisation_id', '=', actor.org)])]);
    });
}

/**
 * A subquery of the person ids whose `category` the caller may read right now: own and stewarded
 * plans, active mandates, and memberships or open emergency accesses whose grant covers the
 * category (the policy's read rule, in SQL, so that lists page over what the caller sees).
 */
export function readablePersonIds(db: Kysely<DB>, actor: Actor, now: Date, category: Category) {
  const scopes = [`${category}:read`, `${category}:write`];
  const own = controlledPersonIds(db, actor);
  const members = readingMemberships(db, actor, now, category).select('m.person_id');
  const representatives = db
    .selectFrom('representatives')
    .select('representatives.person_id')
    .where('status', '=', 'active')
    .where('user_sub', '=', actor.sub)
    .where((eb) => eb.or([eb('valid_until', 'is', null), eb('valid_until', '>', now)]));
  const emergencies = db
    .selectFrom('emergency_accesses')
    .select('emergency_accesses.person_id')
    .where('actor_sub', '=', actor.sub)
    .where('expires_at', '>', now)
    .where(sql<boolean>`scopes && ${sql.val(scopes)}::text[]`);
  return own.union(members).union(representatives).union(emergencies);
}

/**
 * A subquery of the person ids the caller may be related to right now (a superset the policy
 * then narrows): own plans, stewarded plans, memberships, mandates and open emergency accesses.
 */
export function relatedPersonIds(db: Kysely<DB>, actor: Actor, now: Date) {
  const own = controlledPersonIds(db, actor);
  const members = db
    .selectFrom('care_team_members')
    .select('care_team_members.person_id')
    .where('status', '=', 'active')
    .where(callersMembership(actor));
  const representatives = db
    .selectFrom('representatives')
    .select('representatives.person_id')
    .where('status', '=', 'active')
    .where('user_sub', '=', actor.sub);
  const emergencies = db
    .selectFrom('emergency_accesses')
    .select('emergency_accesses.person_id')
    .where('actor_sub', '=', actor.sub)
    .where('expires_at', '>', now);
  return own.union(members).union(representatives).union(emergencies);
}
