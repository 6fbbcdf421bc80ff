// The access policy: a pure function of the caller's relations to a person (with their validity),
// the time and the action. Deny by default: 404 without any relation (never reveal that a plan
// exists), 403 with one that does not allow the action.
import type { AccessContext, Action, AuditActor, Category, Decision, Relation, Scope } from './access.types.js';

const isFuture = (at: Date | null, now: Date): boolean => at === null || at.getTime() > now.getTime();

/** The scopes a member or emergency accessor holds right now (none when revoked, expired or ended). */
export function effectiveScopes(relation: Relation, now: Date): Scope[] {
  if (relation.kind === 'member') {
    if (relation.endedAt !== null || relation.grantRevokedAt !== null) return [];
    return isFuture(relation.grantValidUntil, now) ? relation.scopes : [];
  }
  if (relation.kind === 'emergency') return isFuture(relation.expiresAt, now) ? relation.scopes : [];
  return [];
}

export function isActiveRepresentative(relation: Relation, now: Date): boolean {
  return relation.kind === 'representative' && relation.endedAt === null && isFuture(relation.validUntil, now);
}

export function isController(relation: Relation, now: Date): boolean {
  if (relation.kind === 'person' || relation.kind === 'steward') return true;
  return isActiveRepresentative(relation, now) && relation.kind === 'representative' && relation.level === 'full';
}

const canRead = (scopes: Scope[], category: string) =>
  scopes.includes(`${category}:read` as Scope) || scopes.includes(`${category}:write` as Scope);

function allows(relation: Relation, action: Action, now: Date): boolean {
  switch (action.kind) {
    case 'claim':
      return relation.kind === 'person';
    case 'read_own_notes':
      return relation.kind === 'member';
    case 'control':
    case 'read_access_log':
      return isController(relation, now);
    case 'leave':
      return (
        (action.memberId !== undefined && relation.kind === 'member' && relation.endedAt === null &&
          !relation.viaOrganisation && relation.memberId === action.memberId) ||
        (action.representativeId !== undefined && relation.kind === 'representative' &&
          relation.endedAt === null && relation.representativeId === action.representativeId)
      );
    case 'read':
      if (isController(relation, now)) return true;
      if (isActiveRepresentative(relation, now)) return true; // limited: every :read scope
      return canRead(effectiveScopes(relation, now), action.category);
    case 'write':
      if (isController(relation, now)) return true;
      if (isActiveRepresentative(relation, now)) return action.category === 'goals' || action.category === 'notes';
      if (relation.kind === 'member') return effectiveScopes(relation, now).includes(`${action.category}:write`);
      return false;
  }
}

// When several relations allow an action, the audit shows the strongest one.
const PRECEDENCE: Relation['kind'][] = ['person', 'representative', 'steward', 'member', 'emergency'];

export function decide(context: AccessContext, action: Action): Decision {
  if (context.relations.length === 0) return { allowed: false, status: 404 };
  const allowing = context.relations
    .filter((r) => allows(r, action, context.now))
    .sort((a, b) => PRECEDENCE.indexOf(a.kind) - PRECEDENCE.indexOf(b.kind));
  const first = allowing[0];
  return first ? { allowed: true, relation: first } : { allowed: false, status: 403 };
}

/** True when the caller controls the plan (used to shape answers, e.g. whose grants are shown). */
export const controls = (context: AccessContext): boolean => context.relations.some((r) => isController(r, context.now));

/** The member ids through which the caller acts in this plan (active or not). */
export const memberIdsOf = (context: AccessContext): string[] =>
  context.relations.flatMap((r) => (r.kind === 'member' ? [r.memberId] : []));

/** The caller's strongest relation, for reads that any relation may make (e.g. the change feed). */
export function strongestRelation(context: AccessContext): Relation | undefined {
  return [...context.relations].sort((a, b) => PRECEDENCE.indexOf(a.kind) - PRECEDENCE.indexOf(b.kind))[0];
}

export function auditActorFor(context: AccessContext, relation: Relation): AuditActor {
  const memberRole = relation.kind === 'member' && relation.endedAt !== null ? 'former_member' : relation.kind;
  return {
    sub: context.actor.sub,
    name: context.actor.name,
    role: memberRole,
    memberId: relation.kind === 'member' ? relation.memberId : undefined,
    // A steward acts on the person's behalf until the person claims it; so does a representative.
    onBehalf: relation.kind === 'steward' || relation.kind === 'representative',
  };
}

/** Whether a relation (e.g. a would-be task assignee's membership) can read a category now. */
export function relationCanRead(relation: Relation, category: Category, now: Date): boolean {
  return allows(relation, { kind: 'read', category }, now);
}

/**
 * Which notes the caller reads, as a filter the notes repository applies in SQL:
 * - `visible`: team notes; professional-only notes when the caller is a professional or
 *   organisation member; member-addressed notes when listed (controllers see those too);
 *   always their own.
 * - `own`: only the notes they wrote (a revoked, expired or ended member).
 */
export type NoteFilter =
  | { kind: 'visible'; professional: boolean; controller: boolean; memberIds: string[]; sub: string }
  | { kind: 'own'; memberIds: string[]; sub: string };

export function noteFilter(context: AccessContext): NoteFilter | undefined {
  const { now } = context;
  const memberIds = memberIdsOf(context);
  if (decide(context, { kind: 'read', category: 'notes' }).allowed) {
    const professional = context.relations.some(
      (r) =>
        r.kind === 'member' &&
        (r.memberKind === 'professional' || r.memberKind === 'organisation') &&
        relationCanRead(r, 'notes', now),
    );
    return { kind: 'visible', professional, controller: controls(context), memberIds, sub: context.actor.sub };
  }
  if (decide(context, { kind: 'read_own_notes' }).allowed) return { kind: 'own', memberIds, sub: context.actor.sub };
  return undefined;
}

/** Who may change a task's status: the assignee (tasks:read suffices), the creator, a coordinator, controllers. */
export function mayChangeTaskStatus(
  context: AccessContext,
  task: { assigneeMemberId: string; createdBySub: string },
): boolean {
  const { now } = context;
  if (controls(context)) return true;
  return context.relations.some((r) => {
    if (r.kind !== 'member' || !relationCanRead(r, 'tasks', now)) return false;
    return r.memberId === task.assigneeMemberId || r.function === 'coordinator' || context.actor.sub === task.createdBySub;
  });
}

/** What an event is about, for deciding who may receive it (its data is thin: ids and states). */
export interface EventForDelivery {
  type: string;
  data: Record<string, unknown>;
}

const EVENT_CATEGORIES: Record<string, Category> = {
  person: 'profile',
  team: 'team',
  representative: 'team',
  life_goal: 'goals',
  care_goal: 'goals',
  task: 'tasks',
  note: 'notes',
  wishes: 'wishes',
  safety_plan: 'safety_plan',
  meeting: 'meetings',
};

/**
 * Whether the caller may receive an event about this person now: the same rules as reading the
 * resource, decided at delivery time. A member always hears about changes to their own
 * membership and access (so a revoked member gets grant.revoked about themself, then nothing).
 */
export function mayReceiveEvent(context: AccessContext, event: EventForDelivery): boolean {
  const prefix = event.type.split('.')[0]!;
  const ownMemberIds = memberIdsOf(context);
  const aboutMember = typeof event.data.memberId === 'string' ? event.data.memberId : undefined;
  if ((prefix === 'team' || prefix === 'grant') && aboutMember && ownMemberIds.includes(aboutMember)) return true;
  if (prefix === 'grant') return controls(context);
  if (prefix === 'emergency_access') {
    const notified = Array.isArray(event.data.notifyMemberIds) ? (event.data.notifyMemberIds as string[]) : [];
    return controls(context) || ownMemberIds.some((id) => notified.includes(id) && memberMayActNow(context, id));
  }
  if (prefix === 'note') {
    const filter = noteFilter(context);
    if (!filter) return false;
    const author = typeof event.data.authorMemberId === 'string' ? event.data.authorMemberId : null;
    if (author && filter.memberIds.includes(author)) return true;
    if (filter.kind === 'own') return false;
    const visibility = event.data.visibility;
    if (visibility === 'team') return true;
    if (visibility === 'professionals') return filter.professional;
    const listed = Array.isArray(event.data.visibleTo) ? (event.data.visibleTo as string[]) : [];
    return filter.controller || filter.memberIds.some((id) => listed.includes(id));
  }
  const category = EVENT_CATEGORIES[prefix];
  return category !== undefined && decide(context, { kind: 'read', category }).allowed;
}

function memberMayActNow(context: AccessContext, memberId: string): boolean {
  return context.relations.some((r) => r.kind === 'member' && r.memberId === memberId && effectiveScopes(r, context.now).length > 0);
}
