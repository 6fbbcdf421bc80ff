// The one entry point services use to ask for access: load the inputs, apply the policy, throw on deny.
import type { Kysely } from 'kysely';
import type { DB } from '../../db/types.js';
import { forbidden, notFound } from '../../lib/errors.js';
import { loadAccessContext } from './access.repository.js';
import { auditActorFor, decide } from './access.policy.js';
import type { AccessContext, Action, Actor, AuditActor, Relation } from './access.types.js';

export interface Granted {
  context: AccessContext;
  relation: Relation;
  auditActor: AuditActor;
}

/** Throws 404 when the caller has no relation to the person, 403 when the action is not allowed. */
export async function requireAccess(
  db: Kysely<DB>,
  actor: Actor,
  personId: string,
  action: Action,
  now: Date,
): Promise<Granted> {
  return enforce(await loadAccessContext(db, actor, personId, now), action);
}

export function enforce(context: AccessContext, action: Action): Granted {
  const decision = decide(context, action);
  if (!decision.allowed) throw decision.status === 404 ? notFound('No such person.') : forbidden();
  return { context, relation: decision.relation, auditActor: auditActorFor(context, decision.relation) };
}

/** Like enforce, but answers instead of throwing (for shaping an answer to what the caller may see). */
export function permits(context: AccessContext, action: Action): boolean {
  return decide(context, action).allowed;
}
