// Request and response shapes of the care team, grants, representatives and invitations.
import { z } from 'zod';
import { PageQuery, Timestamp, Uuid } from '../../http/schemas.js';
import { SCOPES } from '../access/access.types.js';

export const ScopeSchema = z.enum(SCOPES as [string, ...string[]]).meta({
  id: 'Scope',
  description: '<category>:read or <category>:write (write implies read).',
});
const Scopes = z
  .array(ScopeSchema)
  .max(SCOPES.length)
  .refine((s) => new Set(s).size === s.length, 'scopes must not repeat');

export const MemberKind = z.enum(['professional', 'informal_carer', 'volunteer', 'organisation']).meta({ id: 'MemberKind' });
export const MemberFunction = z.enum(['coordinator', 'case_manager', 'member']).meta({ id: 'MemberFunction' });

const Discipline = z
  .union([
    z.string().trim().min(1).max(100),
    z.object({ code: z.string().trim().min(1).max(100), display: z.string().trim().min(1).max(200).optional() }).strict(),
  ])
  .meta({ description: 'A free discipline code (e.g. "gp", "home_nurse") with an optional display text.' });

const FutureTimestamp = Timestamp.meta({ description: 'RFC 3339; must lie in the future.' });

export const TeamInvitationCreate = z
  .object({
    kind: MemberKind,
    displayName: z.string().trim().min(1).max(200),
    nihii: z.string().regex(/^\d{11}$/, 'an RIZIV/INAMI number has 11 digits').optional(),
    organisationId: z.string().trim().min(1).max(255).optional(),
    discipline: Discipline.optional(),
    function: MemberFunction.optional(),
    scopes: Scopes,
    validUntil: FutureTimestamp.optional(),
  })
  .strict()
  .meta({ id: 'TeamInvitationCreate' });
export type TeamInvitationCreate = z.infer<typeof TeamInvitationCreate>;

export const TeamMemberUpdate = z
  .object({
    displayName: z.string().trim().min(1).max(200).optional(),
    discipline: Discipline.nullable().optional(),
    function: MemberFunction.optional(),
  })
  .strict()
  .meta({ id: 'TeamMemberUpdate' });
export type TeamMemberUpdate = z.infer<typeof TeamMemberUpdate>;

export const MemberGrant = z
  .object({
    scopes: z.array(ScopeSchema),
    validUntil: Timestamp.nullable(),
    revoked: z.boolean(),
    active: z.boolean().meta({ description: 'True when the grant gives access right now.' }),
  })
  .meta({ id: 'MemberGrant' });

export const TeamMember = z
  .object({
    id: z.uuid(),
    memberId: z.uuid(),
    personId: z.uuid(),
    kind: MemberKind,
    displayName: z.string(),
    nihii: z.string().nullable(),
    organisationId: z.string().nullable(),
    discipline: z.object({ code: z.string(), display: z.string().nullable() }).nullable(),
    function: MemberFunction,
    status: z.enum(['invited', 'active', 'ended']),
    invitedAt: Timestamp,
    joinedAt: Timestamp.nullable(),
    endedAt: Timestamp.nullable(),
    grant: MemberGrant.nullable().meta({ description: 'Shown to controllers and to the member themself; null for others.' }),
    version: z.number().int(),
  })
  .meta({ id: 'TeamMember' });
export type TeamMember = z.infer<typeof TeamMember>;

export const TeamInvitation = TeamMember.extend({
  inviteCode: z.string().meta({ description: 'Shown once; hand it to the invitee.' }),
  inviteExpiresAt: Timestamp,
}).meta({ id: 'TeamInvitation' });

export const TeamQuery = PageQuery.extend({
  include: z.enum(['ended']).optional().meta({ description: 'include=ended adds former members.' }),
});

export const MemberParams = z.object({ personId: Uuid, memberId: Uuid });

export const GrantUpdate = z
  .object({ scopes: Scopes, validUntil: FutureTimestamp.nullable().optional() })
  .strict()
  .meta({ id: 'GrantUpdate' });
export type GrantUpdate = z.infer<typeof GrantUpdate>;

export const GrantRecord = z
  .object({
    id: z.uuid(),
    grantId: z.uuid(),
    personId: z.uuid(),
    memberId: z.uuid(),
    memberDisplayName: z.string(),
    change: z.enum(['granted', 'changed', 'revoked']),
    scopes: z.array(ScopeSchema),
    previousScopes: z.array(ScopeSchema).nullable(),
    validUntil: Timestamp.nullable(),
    changedBy: z.object({ name: z.string().nullable() }),
    changedAt: Timestamp,
  })
  .meta({ id: 'GrantRecord' });
export type GrantRecord = z.infer<typeof GrantRecord>;

export const GrantsQuery = PageQuery.extend({ memberId: Uuid.optional() });

export const RepresentativeCreate = z
  .object({
    displayName: z.string().trim().min(1).max(200),
    insz: z.string().regex(/^\d{11}$/, 'an INSZ has 11 digits').optional(),
    level: z.enum(['full', 'limited']),
    basis: z.enum(['chosen', 'legal', 'organisation_mandate']),
    validUntil: FutureTimestamp.optional(),
  })
  .strict()
  .meta({ id: 'RepresentativeCreate' });
export type RepresentativeCreate = z.infer<typeof RepresentativeCreate>;

export const Representative = z
  .object({
    id: z.uuid(),
    representativeId: z.uuid(),
    personId: z.uuid(),
    displayName: z.string(),
    level: z.enum(['full', 'limited']),
    basis: z.enum(['chosen', 'legal', 'organisation_mandate']),
    validUntil: Timestamp.nullable(),
    status: z.enum(['invited', 'active', 'ended']),
    createdAt: Timestamp,
    acceptedAt: Timestamp.nullable(),
    endedAt: Timestamp.nullable(),
  })
  .meta({ id: 'Representative' });
export type Representative = z.infer<typeof Representative>;

export const RepresentativeInvitation = Representative.extend({
  inviteCode: z.string().meta({ description: 'Shown once; hand it to the representative.' }),
  inviteExpiresAt: Timestamp,
}).meta({ id: 'RepresentativeInvitation' });

export const RepresentativeParams = z.object({ personId: Uuid, representativeId: Uuid });
export const RepresentativesQuery = PageQuery.extend({ include: z.enum(['ended']).optional() });

export const InvitationParams = z.object({ inviteCode: z.string().min(1).max(128) });
export const InvitationAccepted = z
  .object({
    personId: z.uuid(),
    kind: z.enum(['member', 'representative']),
    memberId: z.uuid().nullable(),
    representativeId: z.uuid().nullable(),
  })
  .meta({ id: 'InvitationAccepted' });
export type InvitationAccepted = z.infer<typeof InvitationAccepted>;
