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
