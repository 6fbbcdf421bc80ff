// The access policy: a pure function of the caller's relations to a person and the action.
// Deny by default; 404 without any relation (never reveal a plan exists), 403 with one.
import type { AccessContext, Action, AuditActor, Decision, Relation, Scope } from './access.types.js';

const isController = (r: Relation): boolean =>
  r.kind === 'person' || r.kind === 'steward' || (r.kind === 'representative' && r.level === 'full');

function allows(relation: Relation, action: Action): boolean {
  switch (action.kind) {
    case 'claim':
      return relation.kind === 'person';
    case 'control':
    case 'read_access_log':
      return isController(relation);
    case 'read':
      if (isController(relation)) return true;
      if (relation.kind === 'representative') return true; // limited: every :read scope
      if (relation.kind === 'member' || relation.kind === 'emergency') {
        return hasScope(relation.scopes, `${action.category}:read`) || hasScope(relation.scopes, `${action.category}:write`);
      }
      return false;
    case 'write':
      if (isController(relation)) return true;
      if (relation.kind === 'representative') return action.category === 'goals' || action.category === 'notes';
      if (relation.kind === 'member') return hasScope(relation.scopes, `${action.category}:write`);
      return false;
  }
}

const hasScope = (scopes: readonly Scope[], scope: Scope): boolean => scopes.includes(scope);

// When several relations allow an action, the audit shows the strongest one.
const PRECEDENCE: Relation['kind'][] = ['person', 'representative', 'steward', 'member', 'emergency', 'former_member'];

export function decide(context: AccessContext, action: Action): Decision {
  if (context.relations.length === 0) return { allowed: false, status: 404 };
  const allowing = context.relations
    .filter((r) => allows(r, action))
    .sort((a, b) => PRECEDENCE.indexOf(a.kind) - PRECEDENCE.indexOf(b.kind));
  const first = allowing[0];
  return first ? { allowed: true, relation: first } : { allowed: false, status: 403 };
}

export function auditActorFor(context: AccessContext, relation: Relation): AuditActor {
  return {
    sub: context.actor.sub,
    name: context.actor.name,
    role: relation.kind,
    memberId: relation.kind === 'member' || relation.kind === 'former_member' ? relation.memberId : undefined,
    // A steward acts on the person's behalf until the person claims the plan.
    onBehalf: relation.kind === 'steward' || relation.kind === 'representative',
  };
}

export const isControllerRelation = isController;
