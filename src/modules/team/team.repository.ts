// SQL for care team members, their grant records, representatives and invitations.
import { type Insertable, type Kysely, type Selectable } from 'kysely';
import type { CareTeamMembers, DB, Grants, Invitations, Representatives } from '../../db/types.js';

export type MemberRow = Selectable<CareTeamMembers>;
export type GrantRow = Selectable<Grants>;
export type RepresentativeRow = Selectable<Representatives>;
export type InvitationRow = Selectable<Invitations>;

export async function insertMember(db: Kysely<DB>, values: Insertable<CareTeamMembers>): Promise<MemberRow> {
  return db.insertInto('care_team_members').values(values).returningAll().executeTakeFirstOrThrow();
}

export async function findMember(db: Kysely<DB>, personId: string, memberId: string): Promise<MemberRow | undefined> {
  return db
    .selectFrom('care_team_members')
    .selectAll()
    .where('person_id', '=', personId)
    .where('member_id', '=', memberId)
    .executeTakeFirst();
}

/** Locks the member row for a change (grants, ending, details) so concurrent changes serialise. */
export async function findMemberForUpdate(db: Kysely<DB>, personId: string, memberId: string): Promise<MemberRow | undefined> {
  return db
    .selectFrom('care_team_members')
    .selectAll()
    .where('person_id', '=', personId)
    .where('member_id', '=', memberId)
    .forUpdate()
    .executeTakeFirst();
}

export type MembersQuery = { includeEnded: boolean; afterId?: string; limit: number };

/** The query of listMembers, unexecuted (the overview nests it). */
export function membersQuery(db: Kysely<DB>, personId: string, options: MembersQuery) {
  let query = db.selectFrom('care_team_members').selectAll().where('person_id', '=', personId);
  if (!options.includeEnded) query = query.where('status', '<>', 'ended');
  if (options.afterId) query = query.where('member_id', '>', options.afterId);
  return query.orderBy('member_id').limit(options.limit);
}

export async function listMembers(db: Kysely<DB>, personId: string, options: MembersQuery): Promise<MemberRow[]> {
  return membersQuery(db, personId, options).execute();
}

export async function updateMember(
  db: Kysely<DB>,
  personId: string,
  memberId: string,
  changes: Partial<Omit<MemberRow, 'person_id' | 'member_id' | 'version'>>,
): Promise<MemberRow> {
  return db
    .updateTable('care_team_members')
    .set((eb) => ({ ...changes, version: eb('version', '+', 1) }))
    .where('person_id', '=', personId)
    .where('member_id', '=', memberId)
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function insertGrant(db: Kysely<DB>, values: Insertable<Grants>): Promise<GrantRow> {
  return db.insertInto('grants').values(values).returningAll().executeTakeFirstOrThrow();
}

export async function listGrants(
  db: Kysely<DB>,
  personId: string,
  options: { memberId?: string; afterId?: string; limit: number },
): Promise<Array<GrantRow & { member_display_name: string }>> {
  let query = db
    .selectFrom('grants')
    .innerJoin('care_team_members as m', (join) =>
      join.onRef('m.person_id', '=', 'grants.person_id').onRef('m.member_id', '=', 'grants.member_id'),
    )
    .selectAll('grants')
    .select('m.display_name as member_display_name')
    .where('grants.person_id', '=', personId);
  if (options.memberId) query = query.where('grants.member_id', '=', options.memberId);
  if (options.afterId) query = query.where('grants.grant_id', '>', options.afterId);
  return query.orderBy('grants.grant_id').limit(options.limit).execute();
}

export async function insertRepresentative(db: Kysely<DB>, values: Insertable<Representatives>): Promise<RepresentativeRow> {
  return db.insertInto('representatives').values(values).returningAll().executeTakeFirstOrThrow();
}

export async function findRepresentativeForUpdate(
  db: Kysely<DB>,
  personId: string,
  representativeId: string,
): Promise<RepresentativeRow | undefined> {
  return db
    .selectFrom('representatives')
    .selectAll()
    .where('person_id', '=', personId)
    .where('representative_id', '=', representativeId)
    .forUpdate()
    .executeTakeFirst();
}

export type RepresentativesQuery = { includeEnded: boolean; afterId?: string; limit: number };

/** The query of listRepresentatives, unexecuted (the FHIR plan nests it). */
export function representativesQuery(db: Kysely<DB>, personId: string, options: RepresentativesQuery) {
  let query = db.selectFrom('representatives').selectAll().where('person_id', '=', personId);
  if (!options.includeEnded) query = query.where('status', '<>', 'ended');
  if (options.afterId) query = query.where('representative_id', '>', options.afterId);
  return query.orderBy('representative_id').limit(options.limit);
}

export async function listRepresentatives(db: Kysely<DB>, personId: string, options: RepresentativesQuery): Promise<RepresentativeRow[]> {
  return representativesQuery(db, personId, options).execute();
}

export async function updateRepresentative(
  db: Kysely<DB>,
  personId: string,
  representativeId: string,
  changes: Partial<Omit<RepresentativeRow, 'person_id' | 'representative_id'>>,
): Promise<RepresentativeRow> {
  return db
    .updateTable('representatives')
    .set(changes)
    .where('person_id', '=', personId)
    .where('representative_id', '=', representativeId)
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** Active full representatives other than the one given (for the last-controller rule). */
export async function countOtherFullRepresentatives(
  db: Kysely<DB>,
  personId: string,
  exceptId: string,
  now: Date,
): Promise<number> {
  const row = await db
    .selectFrom('representatives')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('person_id', '=', personId)
    .where('representative_id', '<>', exceptId)
    .where('status', '=', 'active')
    .where('level', '=', 'full')
    .where((eb) => eb.or([eb('valid_until', 'is', null), eb('valid_until', '>', now)]))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

export async function insertInvitation(
  db: Kysely<DB>,
  values: Insertable<Invitations>,
): Promise<void> {
  await db.insertInto('invitations').values(values).execute();
  await db
    .insertInto('invitation_codes')
    .values({ code_hash: values.code_hash, person_id: values.person_id, invitation_id: values.invitation_id })
    .execute();
}

/** The invitation for a code's hash, locked so that two accepts of one code cannot both win. */
export async function findInvitationByCodeHash(db: Kysely<DB>, codeHash: string): Promise<InvitationRow | undefined> {
  const code = await db.selectFrom('invitation_codes').selectAll().where('code_hash', '=', codeHash).executeTakeFirst();
  if (!code) return undefined;
  return db
    .selectFrom('invitations')
    .selectAll()
    .where('person_id', '=', code.person_id)
    .where('invitation_id', '=', code.invitation_id)
    .forUpdate()
    .executeTakeFirst();
}

export async function markInvitationAccepted(
  db: Kysely<DB>,
  invitation: InvitationRow,
  acceptedBySub: string,
  now: Date,
): Promise<void> {
  await db
    .updateTable('invitations')
    .set({ accepted_at: now, accepted_by_sub: acceptedBySub })
    .where('person_id', '=', invitation.person_id)
    .where('invitation_id', '=', invitation.invitation_id)
    .execute();
}

/** Outstanding invitations of a member end with the membership (their codes stop working). */
export async function expireInvitations(
  db: Kysely<DB>,
  personId: string,
  target: { memberId?: string; representativeId?: string },
  now: Date,
): Promise<void> {
  let query = db
    .updateTable('invitations')
    .set({ expires_at: now })
    .where('person_id', '=', personId)
    .where('accepted_at', 'is', null)
    .where('expires_at', '>', now);
  if (target.memberId) query = query.where('member_id', '=', target.memberId);
  if (target.representativeId) query = query.where('representative_id', '=', target.representativeId);
  await query.execute();
}

/** The coordinators of a plan (members with that function), for notices such as emergency access. */
export async function coordinatorMemberIds(db: Kysely<DB>, personId: string): Promise<string[]> {
  const rows = await db
    .selectFrom('care_team_members')
    .select('member_id')
    .where('person_id', '=', personId)
    .where('status', '=', 'active')
    .where('function', '=', 'coordinator')
    .execute();
  return rows.map((r) => r.member_id);
}


/** The rows of the given members of one person (to check assignees, participants, recipients). */
export async function findMembers(db: Kysely<DB>, personId: string, memberIds: string[]): Promise<MemberRow[]> {
  if (memberIds.length === 0) return [];
  return db
    .selectFrom('care_team_members')
    .selectAll()
    .where('person_id', '=', personId)
    .where('member_id', 'in', memberIds)
    .execute();
}
