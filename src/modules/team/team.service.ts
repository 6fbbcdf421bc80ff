// The care team: invitations, membership history, consent grants per member and scope,
// representatives (mandates), and accepting invitations. Controllers decide; members see
// what their grant allows; every change is audited and recorded as an event.
import { inTransaction } from '../../db/transaction.js';
import { createHash, randomBytes } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import { z } from 'zod';
import type { DB } from '../../db/types.js';
import type { Clock, RequestContext } from '../../lib/context.js';
import { decodeCursor, toPage } from '../../lib/cursor.js';
import { AppError, conflict, forbidden, notFound, unprocessable } from '../../lib/errors.js';
import { newId } from '../../lib/ids.js';
import { checkIfMatch } from '../../lib/versioning.js';
import { controls, effectiveScopes, memberIdsOf } from '../access/access.policy.js';
import { enforce, requireAccess } from '../access/access.service.js';
import { loadAccessContext } from '../access/access.repository.js';
import { SCOPES, type AccessContext, type Actor, type AuditActor, type Relation, type Scope } from '../access/access.types.js';
import { appendJournal } from '../journal/journal.repository.js';
import type { EventRecord } from '../journal/journal.types.js';
import { findPerson } from '../persons/persons.repository.js';
import * as repo from './team.repository.js';
import type {
  GrantRecord,
  GrantUpdate,
  InvitationAccepted,
  Representative,
  RepresentativeCreate,
  TeamInvitationCreate,
  TeamMember,
  TeamMemberUpdate,
} from './team.schemas.js';
import type { ReadJournal } from '../journal/read-journal.js';

export interface TeamServiceDeps {
  db: Kysely<DB>;
  clock: Clock;
  reads: ReadJournal;
  invitationValidDays: number;
}

const IdCursor = z.object({ id: z.uuid() });

/** 256 random bits; only its hash is stored. */
const newInviteCode = (): string => randomBytes(32).toString('base64url');
const hashInviteCode = (code: string): string => createHash('sha256').update(code).digest('hex');

const iso = (d: Date | null): string | null => (d === null ? null : d.toISOString());

function disciplineOf(input: TeamInvitationCreate['discipline'] | null | undefined) {
  if (input === undefined) return {};
  if (input === null) return { discipline_code: null, discipline_display: null };
  if (typeof input === 'string') return { discipline_code: input, discipline_display: null };
  return { discipline_code: input.code, discipline_display: input.display ?? null };
}

/** A member row as the access policy sees it (to check what that member may do now). */
export function memberRowToRelation(row: repo.MemberRow): Relation {
  return {
    kind: 'member',
    memberId: row.member_id,
    memberKind: row.kind as TeamMember['kind'],
    function: row.function as TeamMember['function'],
    viaOrganisation: row.kind === 'organisation',
    scopes: row.scopes as Scope[],
    grantValidUntil: row.grant_valid_until,
    grantRevokedAt: row.grant_revoked_at,
    endedAt: row.ended_at,
  };
}

export function memberRowToTeamMember(row: repo.MemberRow, showGrant: boolean, now: Date): TeamMember {
  const scopes = row.scopes as Scope[];
  const relation = memberRowToRelation(row);
  return {
    id: row.member_id,
    memberId: row.member_id,
    personId: row.person_id,
    kind: row.kind as TeamMember['kind'],
    displayName: row.display_name,
    nihii: row.nihii,
    organisationId: row.organisation_id,
    discipline: row.discipline_code ? { code: row.discipline_code, display: row.discipline_display } : null,
    function: row.function as TeamMember['function'],
    status: row.status as TeamMember['status'],
    invitedAt: row.invited_at.toISOString(),
    joinedAt: iso(row.joined_at),
    endedAt: iso(row.ended_at),
    grant: showGrant
      ? {
          scopes,
          validUntil: iso(row.grant_valid_until),
          revoked: row.grant_revoked_at !== null,
          active: row.status === 'active' && effectiveScopes(relation, now).length > 0,
        }
      : null,
    version: row.version,
  };
}

export function grantRowToGrantRecord(row: repo.GrantRow & { member_display_name: string }): GrantRecord {
  return {
    id: row.grant_id,
    grantId: row.grant_id,
    personId: row.person_id,
    memberId: row.member_id,
    memberDisplayName: row.member_display_name,
    change: row.change as GrantRecord['change'],
    scopes: row.scopes,
    previousScopes: row.previous_scopes,
    validUntil: iso(row.valid_until),
    changedBy: { name: row.changed_by_name },
    changedAt: row.changed_at.toISOString(),
  };
}

export function representativeRowToRepresentative(row: repo.RepresentativeRow): Representative {
  return {
    id: row.representative_id,
    representativeId: row.representative_id,
    personId: row.person_id,
    displayName: row.display_name,
    level: row.level as Representative['level'],
    basis: row.basis as Representative['basis'],
    validUntil: iso(row.valid_until),
    status: row.status as Representative['status'],
    createdAt: row.created_at.toISOString(),
    acceptedAt: iso(row.accepted_at),
    endedAt: iso(row.ended_at),
  };
}

/** The professional who starts a plan joins it at once as coordinator, with every scope. */
export async function startStewardMembership(trx: Transaction<DB>, personId: string, actor: Actor, now: Date) {
  const member = await repo.insertMember(trx, {
    person_id: personId,
    member_id: newId(),
    kind: 'professional',
    display_name: actor.name ?? 'Professional',
    nihii: actor.nihii ?? null,
    function: 'coordinator',
    status: 'active',
    user_sub: actor.sub,
    scopes: SCOPES,
    invited_by_sub: actor.sub,
    invited_at: now,
    joined_at: now,
    updated_at: now,
  });
  await repo.insertGrant(trx, {
    person_id: personId,
    grant_id: newId(),
    member_id: member.member_id,
    change: 'granted',
    scopes: SCOPES,
    previous_scopes: null,
    valid_until: null,
    changed_by_sub: actor.sub,
    changed_by_name: actor.name ?? null,
    changed_at: now,
  });
  return member;
}

const memberEvent = (type: EventRecord['type'], row: repo.MemberRow, extra: Record<string, string | null> = {}): EventRecord => ({
  personId: row.person_id,
  type,
  data: {
    resourceType: 'member',
    resourceId: row.member_id,
    memberId: row.member_id,
    version: row.version,
    kind: row.kind,
    function: row.function,
    status: row.status,
    ...extra,
  },
});

export function createTeamService({ db, clock, reads, invitationValidDays }: TeamServiceDeps) {
  const journal = (ctx: RequestContext, now: Date) => ({ requestId: ctx.requestId, now });

  /** Whether the caller sees a member's grant: controllers see all, a member sees their own. */
  const grantVisible = (context: AccessContext, memberId: string) =>
    controls(context) || memberIdsOf(context).includes(memberId);

  async function requireMember(trx: Kysely<DB>, personId: string, memberId: string, forUpdate = false) {
    const row = forUpdate ? await repo.findMemberForUpdate(trx, personId, memberId) : await repo.findMember(trx, personId, memberId);
    if (!row) throw notFound('No such team member in this plan.');
    return row;
  }

  async function issueInvitation(
    trx: Transaction<DB>,
    personId: string,
    target: { memberId?: string; representativeId?: string },
    now: Date,
  ) {
    const code = newInviteCode();
    const expiresAt = new Date(now.getTime() + invitationValidDays * 24 * 3600 * 1000);
    await repo.insertInvitation(trx, {
      person_id: personId,
      invitation_id: newId(),
      code_hash: hashInviteCode(code),
      member_id: target.memberId ?? null,
      representative_id: target.representativeId ?? null,
      expires_at: expiresAt,
      created_at: now,
    });
    return { inviteCode: code, inviteExpiresAt: expiresAt.toISOString() };
  }

  return {
    async invite(ctx: RequestContext, personId: string, input: TeamInvitationCreate) {
      if (input.kind === 'professional' && !input.nihii) {
        throw unprocessable('A professional is invited with their RIZIV/INAMI number.', [{ path: 'nihii', message: 'required for a professional' }]);
      }
      if (input.kind === 'organisation' && !input.organisationId) {
        throw unprocessable('An organisation is invited with its organisation id.', [
          { path: 'organisationId', message: 'required for an organisation' },
        ]);
      }
      const now = clock();
      if (input.validUntil && new Date(input.validUntil) <= now) {
        throw unprocessable('validUntil lies in the past.', [{ path: 'validUntil', message: 'must lie in the future' }]);
      }
      return inTransaction(db, async (trx) => {
        const granted = await requireAccess(trx, ctx.actor, personId, { kind: 'control' }, now);
        const member = await repo.insertMember(trx, {
          person_id: personId,
          member_id: newId(),
          kind: input.kind,
          display_name: input.displayName,
          nihii: input.kind === 'professional' ? input.nihii! : (input.nihii ?? null),
          organisation_id: input.kind === 'organisation' ? input.organisationId! : null,
          ...disciplineOf(input.discipline),
          function: input.function ?? 'member',
          status: 'invited',
          scopes: input.scopes,
          grant_valid_until: input.validUntil ? new Date(input.validUntil) : null,
          invited_by_sub: ctx.actor.sub,
          invited_at: now,
          updated_at: now,
        });
        const grant = await repo.insertGrant(trx, {
          person_id: personId,
          grant_id: newId(),
          member_id: member.member_id,
          change: 'granted',
          scopes: input.scopes,
          previous_scopes: null,
          valid_until: member.grant_valid_until,
          changed_by_sub: ctx.actor.sub,
          changed_by_name: ctx.actor.name ?? null,
          changed_at: now,
        });
        const invitation = await issueInvitation(trx, personId, { memberId: member.member_id }, now);
        await appendJournal(
          trx,
          journal(ctx, now),
          [{ personId, actor: granted.auditActor, action: 'create', resourceType: 'member', resourceId: member.member_id }],
          [
            memberEvent('team.member_invited', member),
            {
              personId,
              type: 'grant.changed',
              data: { resourceType: 'grant', resourceId: grant.grant_id, memberId: member.member_id, scopes: input.scopes, validUntil: iso(member.grant_valid_until) },
            },
          ],
        );
        return { ...memberRowToTeamMember(member, true, now), ...invitation };
      });
    },

    async list(ctx: RequestContext, personId: string, query: { limit: number; cursor?: string; include?: 'ended' }) {
      const after = decodeCursor(query.cursor, IdCursor);
      const now = clock();
      return reads.read(journal(ctx, now), async (reader, audit) => {
        const granted = await requireAccess(reader, ctx.actor, personId, { kind: 'read', category: 'team' }, now);
        const rows = await repo.listMembers(reader, personId, {
          includeEnded: query.include === 'ended',
          afterId: after?.id,
          limit: query.limit + 1,
        });
        const page = toPage(rows, query.limit, (r) => ({ id: r.member_id }), (r) =>
          memberRowToTeamMember(r, grantVisible(granted.context, r.member_id), now),
        );
        audit(granted.context, [
          { personId, actor: granted.auditActor, action: 'list', resourceType: 'team' },
        ]);
        return page;
      });
    },

    async get(ctx: RequestContext, personId: string, memberId: string) {
      const now = clock();
      return reads.read(journal(ctx, now), async (reader, audit) => {
        const granted = await requireAccess(reader, ctx.actor, personId, { kind: 'read', category: 'team' }, now);
        const row = await requireMember(reader, personId, memberId);
        audit(granted.context, [
          { personId, actor: granted.auditActor, action: 'read', resourceType: 'member', resourceId: memberId },
        ]);
        return memberRowToTeamMember(row, grantVisible(granted.context, memberId), now);
      });
    },

    async update(ctx: RequestContext, personId: string, memberId: string, input: TeamMemberUpdate, ifMatch: number | '*' | undefined) {
      const now = clock();
      return inTransaction(db, async (trx) => {
        const granted = await requireAccess(trx, ctx.actor, personId, { kind: 'write', category: 'team' }, now);
        const current = await requireMember(trx, personId, memberId, true);
        checkIfMatch(ifMatch, current.version, false);
        if (current.status === 'ended') throw conflict('This membership has ended; its history is kept as it was.');
        const row = await repo.updateMember(trx, personId, memberId, {
          ...(input.displayName !== undefined ? { display_name: input.displayName } : {}),
          ...(input.function !== undefined ? { function: input.function } : {}),
          ...disciplineOf(input.discipline),
          updated_at: now,
        });
        await appendJournal(
          trx,
          journal(ctx, now),
          [{ personId, actor: granted.auditActor, action: 'update', resourceType: 'member', resourceId: memberId }],
          [],
        );
        return memberRowToTeamMember(row, grantVisible(granted.context, memberId), now);
      });
    },

    /** Ends a membership: by a controller, or by the member leaving. The history stays. */
    async end(ctx: RequestContext, personId: string, memberId: string) {
      const now = clock();
      return inTransaction(db, async (trx) => {
        const context = await loadAccessContext(trx, ctx.actor, personId, now);
        const leaving = context.relations.some((r) => r.kind === 'member' && r.memberId === memberId && r.endedAt === null);
        const granted = enforce(context, leaving ? { kind: 'leave', memberId } : { kind: 'control' });
        const current = await requireMember(trx, personId, memberId, true);
        if (current.status === 'ended') throw conflict('This membership has already ended.');
        const person = await findPerson(trx, personId);
        if (person && person.claimed_at === null && current.user_sub !== null && current.user_sub === person.steward_sub) {
          // The steward is the plan's only controller until the person claims it.
          throw conflict('The steward cannot leave before the person claims the plan: a plan always keeps a controller.');
        }
        const row = await repo.updateMember(trx, personId, memberId, {
          status: 'ended',
          ended_at: now,
          ended_by_sub: ctx.actor.sub,
          updated_at: now,
        });
        await repo.expireInvitations(trx, personId, { memberId }, now);
        await appendJournal(
          trx,
          journal(ctx, now),
          [{ personId, actor: granted.auditActor, action: 'delete', resourceType: 'member', resourceId: memberId }],
          [memberEvent('team.member_ended', row, { endedBy: leaving ? 'self' : 'controller' })],
        );
        return memberRowToTeamMember(row, true, now);
      });
    },

    async putGrant(ctx: RequestContext, personId: string, memberId: string, input: GrantUpdate) {
      const now = clock();
      if (input.validUntil && new Date(input.validUntil) <= now) {
        throw unprocessable('validUntil lies in the past.', [{ path: 'validUntil', message: 'must lie in the future' }]);
      }
      return inTransaction(db, async (trx) => {
        const granted = await requireAccess(trx, ctx.actor, personId, { kind: 'control' }, now);
        const current = await requireMember(trx, personId, memberId, true);
        if (current.status === 'ended') throw conflict('This membership has ended: invite the person again to give access.');
        const validUntil = input.validUntil ? new Date(input.validUntil) : null;
        const row = await repo.updateMember(trx, personId, memberId, {
          scopes: input.scopes,
          grant_valid_until: validUntil,
          grant_revoked_at: null,
          updated_at: now,
        });
        const grant = await repo.insertGrant(trx, {
          person_id: personId,
          grant_id: newId(),
          member_id: memberId,
          change: 'changed',
          scopes: input.scopes,
          previous_scopes: current.grant_revoked_at === null ? current.scopes : [],
          valid_until: validUntil,
          changed_by_sub: ctx.actor.sub,
          changed_by_name: ctx.actor.name ?? null,
          changed_at: now,
        });
        await appendJournal(
          trx,
          journal(ctx, now),
          [{ personId, actor: granted.auditActor, action: 'update', resourceType: 'grant', resourceId: grant.grant_id }],
          [
            {
              personId,
              type: 'grant.changed',
              data: { resourceType: 'grant', resourceId: grant.grant_id, memberId, version: row.version, scopes: input.scopes, previousScopes: grant.previous_scopes, validUntil: iso(validUntil) },
            },
          ],
        );
        return grantRowToGrantRecord({ ...grant, member_display_name: row.display_name });
      });
    },

    async revokeGrant(ctx: RequestContext, personId: string, memberId: string) {
      const now = clock();
      return inTransaction(db, async (trx) => {
        const granted = await requireAccess(trx, ctx.actor, personId, { kind: 'control' }, now);
        const current = await requireMember(trx, personId, memberId, true);
        if (current.status === 'ended') throw conflict('This membership has ended; there is no access to revoke.');
        const row = await repo.updateMember(trx, personId, memberId, { grant_revoked_at: now, updated_at: now });
        const grant = await repo.insertGrant(trx, {
          person_id: personId,
          grant_id: newId(),
          member_id: memberId,
          change: 'revoked',
          scopes: [],
          previous_scopes: current.grant_revoked_at === null ? current.scopes : [],
          valid_until: null,
          changed_by_sub: ctx.actor.sub,
          changed_by_name: ctx.actor.name ?? null,
          changed_at: now,
        });
        await appendJournal(
          trx,
          journal(ctx, now),
          [{ personId, actor: granted.auditActor, action: 'delete', resourceType: 'grant', resourceId: grant.grant_id }],
          [
            {
              personId,
              type: 'grant.revoked',
              data: { resourceType: 'grant', resourceId: grant.grant_id, memberId, version: row.version },
            },
          ],
        );
        return grantRowToGrantRecord({ ...grant, member_display_name: row.display_name });
      });
    },

    async listGrants(ctx: RequestContext, personId: string, query: { limit: number; cursor?: string; memberId?: string }) {
      const after = decodeCursor(query.cursor, IdCursor);
      const now = clock();
      return reads.read(journal(ctx, now), async (reader, audit) => {
        const granted = await requireAccess(reader, ctx.actor, personId, { kind: 'control' }, now);
        const rows = await repo.listGrants(reader, personId, { memberId: query.memberId, afterId: after?.id, limit: query.limit + 1 });
        audit(granted.context, [{ personId, actor: granted.auditActor, action: 'list', resourceType: 'grant' }]);
        return toPage(rows, query.limit, (r) => ({ id: r.grant_id }), grantRowToGrantRecord);
      });
    },

    async addRepresentative(ctx: RequestContext, personId: string, input: RepresentativeCreate) {
      const now = clock();
      if (input.validUntil && new Date(input.validUntil) <= now) {
        throw unprocessable('validUntil lies in the past.', [{ path: 'validUntil', message: 'must lie in the future' }]);
      }
      return inTransaction(db, async (trx) => {
        const granted = await requireAccess(trx, ctx.actor, personId, { kind: 'control' }, now);
        const row = await repo.insertRepresentative(trx, {
          person_id: personId,
          representative_id: newId(),
          display_name: input.displayName,
          insz: input.insz ?? null,
          level: input.level,
          basis: input.basis,
          valid_until: input.validUntil ? new Date(input.validUntil) : null,
          status: 'invited',
          created_by_sub: ctx.actor.sub,
          created_at: now,
        });
        const invitation = await issueInvitation(trx, personId, { representativeId: row.representative_id }, now);
        await appendJournal(
          trx,
          journal(ctx, now),
          [{ personId, actor: granted.auditActor, action: 'create', resourceType: 'representative', resourceId: row.representative_id }],
          [
            {
              personId,
              type: 'representative.added',
              data: { resourceType: 'representative', resourceId: row.representative_id, level: row.level, basis: row.basis, status: row.status },
            },
          ],
        );
        return { ...representativeRowToRepresentative(row), ...invitation };
      });
    },

    async listRepresentatives(ctx: RequestContext, personId: string, query: { limit: number; cursor?: string; include?: 'ended' }) {
      const after = decodeCursor(query.cursor, IdCursor);
      const now = clock();
      return inTransaction(db, async (trx) => {
        const granted = await requireAccess(trx, ctx.actor, personId, { kind: 'read', category: 'team' }, now);
        const rows = await repo.listRepresentatives(trx, personId, {
          includeEnded: query.include === 'ended',
          afterId: after?.id,
          limit: query.limit + 1,
        });
        await appendJournal(trx, journal(ctx, now), [
          { personId, actor: granted.auditActor, action: 'list', resourceType: 'representative' },
        ]);
        return toPage(rows, query.limit, (r) => ({ id: r.representative_id }), representativeRowToRepresentative);
      });
    },

    /** Ends a mandate: by a controller, or by the representative stepping down. */
    async endRepresentative(ctx: RequestContext, personId: string, representativeId: string) {
      const now = clock();
      return inTransaction(db, async (trx) => {
        const context = await loadAccessContext(trx, ctx.actor, personId, now);
        const self = context.relations.some(
          (r) => r.kind === 'representative' && r.representativeId === representativeId && r.endedAt === null,
        );
        const granted = enforce(context, self ? { kind: 'leave', representativeId } : { kind: 'control' });
        const current = await repo.findRepresentativeForUpdate(trx, personId, representativeId);
        if (!current) throw notFound('No such representative in this plan.');
        if (current.status === 'ended') throw conflict('This mandate has already ended.');
        const row = await repo.updateRepresentative(trx, personId, representativeId, {
          status: 'ended',
          ended_at: now,
          ended_by_sub: ctx.actor.sub,
        });
        await repo.expireInvitations(trx, personId, { representativeId }, now);
        await appendJournal(trx, journal(ctx, now), [
          { personId, actor: granted.auditActor, action: 'delete', resourceType: 'representative', resourceId: representativeId },
        ]);
        return representativeRowToRepresentative(row);
      });
    },

    /** Accepts a team or representative invitation with the invitee's own token. */
    async acceptInvitation(ctx: RequestContext, inviteCode: string): Promise<InvitationAccepted> {
      const now = clock();
      return inTransaction(db, async (trx) => {
        const invitation = await repo.findInvitationByCodeHash(trx, hashInviteCode(inviteCode));
        if (!invitation) throw notFound('No such invitation.');
        if (invitation.accepted_at !== null) throw conflict('This invitation has already been used.');
        if (invitation.expires_at.getTime() <= now.getTime()) {
          throw new AppError(410, 'gone', 'Gone', 'This invitation has expired; ask for a new one.');
        }
        const personId = invitation.person_id;
        const { actor } = ctx;
        let auditActor: AuditActor;
        const events: EventRecord[] = [];
        let result: InvitationAccepted;
        if (invitation.member_id) {
          const member = await requireMember(trx, personId, invitation.member_id, true);
          if (member.status !== 'invited') throw conflict('This invitation is no longer open.');
          if (member.kind === 'professional' && actor.nihii !== member.nihii) {
            throw forbidden('This invitation is for a professional with another RIZIV/INAMI number.');
          }
          if (member.kind === 'organisation' && actor.org !== member.organisation_id) {
            throw forbidden('This invitation is for staff of another organisation.');
          }
          const row = await repo.updateMember(trx, personId, member.member_id, {
            status: 'active',
            user_sub: actor.sub,
            joined_at: now,
            updated_at: now,
          });
          auditActor = { sub: actor.sub, name: actor.name, role: 'member', memberId: row.member_id, onBehalf: false };
          events.push(memberEvent('team.member_joined', row));
          result = { personId, kind: 'member', memberId: row.member_id, representativeId: null };
        } else {
          const current = await repo.findRepresentativeForUpdate(trx, personId, invitation.representative_id!);
          if (!current || current.status !== 'invited') throw conflict('This invitation is no longer open.');
          if (current.insz !== null && actor.insz !== current.insz) {
            throw forbidden('This mandate is for someone with another national register number.');
          }
          const row = await repo.updateRepresentative(trx, personId, current.representative_id, {
            status: 'active',
            user_sub: actor.sub,
            accepted_at: now,
          });
          auditActor = { sub: actor.sub, name: actor.name, role: 'representative', onBehalf: false };
          result = { personId, kind: 'representative', memberId: null, representativeId: row.representative_id };
        }
        await repo.markInvitationAccepted(trx, invitation, actor.sub, now);
        await appendJournal(
          trx,
          journal(ctx, now),
          [{ personId, actor: auditActor, action: 'update', resourceType: result.kind === 'member' ? 'member' : 'representative', resourceId: result.memberId ?? result.representativeId ?? undefined }],
          events,
        );
        return result;
      });
    },
  };
}

export type TeamService = ReturnType<typeof createTeamService>;
