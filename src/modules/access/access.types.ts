// The vocabulary of access: who the caller is, how they relate to a person, what they want to do.
export const CATEGORIES = ['profile', 'team', 'goals', 'tasks', 'notes', 'wishes', 'safety_plan', 'meetings'] as const;
export type Category = (typeof CATEGORIES)[number];
export type Scope = `${Category}:${'read' | 'write'}`;
export const SCOPES = CATEGORIES.flatMap((c) => [`${c}:read`, `${c}:write`] as const) as Scope[];
/** What the on-call doctor may read under emergency access. */
export const EMERGENCY_SCOPES: Scope[] = ['team:read', 'goals:read', 'wishes:read', 'safety_plan:read'];

export type MemberKind = 'professional' | 'informal_carer' | 'volunteer' | 'organisation';
export type MemberFunction = 'coordinator' | 'case_manager' | 'member';

/** The verified caller, from the bearer token. */
export interface Actor {
  sub: string;
  name?: string;
  insz?: string;
  nihii?: string;
  org?: string;
}

/**
 * One way a caller is related to a person, with its validity; the policy decides whether it is
 * in force at `now`. A caller may hold several (e.g. the person who is also a representative).
 */
export type Relation =
  | { kind: 'person' }
  | { kind: 'steward' }
  | { kind: 'representative'; representativeId: string; level: 'full' | 'limited'; validUntil: Date | null; endedAt: Date | null }
  | {
      kind: 'member';
      memberId: string;
      memberKind: MemberKind;
      function: MemberFunction;
      /** Staff acting through their organisation's membership (token `org` matches). */
      viaOrganisation: boolean;
      scopes: Scope[];
      grantValidUntil: Date | null;
      grantRevokedAt: Date | null;
      endedAt: Date | null;
    }
  | { kind: 'emergency'; emergencyAccessId: string; scopes: Scope[]; expiresAt: Date };

export interface AccessContext {
  personId: string;
  actor: Actor;
  relations: Relation[];
  now: Date;
  /** The person's access version when the relations were read (see migrations/0007). */
  accessVersion?: number;
  /** The person's journal head as read with the relations (the first guess of lock-free appends). */
  journalHead?: { seq: number; hash: string; eventSeq: number };
}

export type Action =
  | { kind: 'read'; category: Category }
  | { kind: 'write'; category: Category }
  /** Decide the plan itself: person details, team, grants, representatives. */
  | { kind: 'control' }
  | { kind: 'read_access_log' }
  /** Take control of a plan a professional started: only the person themself. */
  | { kind: 'claim' }
  /** Any member, also revoked or ended, reads the notes they wrote themselves. */
  | { kind: 'read_own_notes' }
  /** A member leaving the team, or a representative stepping down: themself only. */
  | { kind: 'leave'; memberId?: string; representativeId?: string };

export type Decision = { allowed: true; relation: Relation } | { allowed: false; status: 403 | 404 };

/** How the caller appears in the audit log for an allowed action. */
export interface AuditActor {
  sub: string;
  name?: string;
  role: 'person' | 'steward' | 'representative' | 'member' | 'former_member' | 'emergency' | 'invitee';
  memberId?: string;
  onBehalf: boolean;
}
