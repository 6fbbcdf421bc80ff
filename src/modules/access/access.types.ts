// The vocabulary of access: who the caller is, how they relate to a person, what they want to do.
export const CATEGORIES = ['profile', 'team', 'goals', 'tasks', 'notes', 'wishes', 'safety_plan', 'meetings'] as const;
export type Category = (typeof CATEGORIES)[number];
export type Scope = `${Category}:${'read' | 'write'}`;
export const SCOPES: Scope[] = CATEGORIES.flatMap((c) => [`${c}:read`, `${c}:write`] as Scope[]);

/** The verified caller, from the bearer token. */
export interface Actor {
  sub: string;
  name?: string;
  insz?: string;
  nihii?: string;
  org?: string;
}

/** One way a caller is related to a person. A caller may hold several (e.g. person and member). */
export type Relation =
  | { kind: 'person' }
  | { kind: 'steward' }
  | { kind: 'representative'; representativeId: string; level: 'full' | 'limited' }
  | { kind: 'member'; memberId: string; scopes: Scope[] }
  | { kind: 'former_member'; memberId: string }
  | { kind: 'emergency'; emergencyAccessId: string; scopes: Scope[]; expiresAt: Date };

export interface AccessContext {
  personId: string;
  actor: Actor;
  /** Only relations that are in force now: expired, revoked or ended ones are never loaded as active. */
  relations: Relation[];
}

export type Action =
  | { kind: 'read'; category: Category }
  | { kind: 'write'; category: Category }
  /** Decide the plan itself: person details, team, grants, representatives. */
  | { kind: 'control' }
  | { kind: 'read_access_log' }
  /** Take control of a plan a professional started: only the person themself. */
  | { kind: 'claim' };

export type Decision =
  | { allowed: true; relation: Relation }
  | { allowed: false; status: 403 | 404 };

/** How the caller appears in the audit log for an allowed action. */
export interface AuditActor {
  sub: string;
  name?: string;
  role: Relation['kind'];
  memberId?: string;
  onBehalf: boolean;
}
