// Fan-out of one committed event into the inboxes of the people it concerns (R21): called by the dispatcher.
import type { Kysely } from 'kysely';
import type { DB } from '../../db/types.js';
import { newId } from '../../lib/ids.js';
import { mayReceiveEvent } from '../access/access.policy.js';
import { loadAccessContexts } from '../access/access.repository.js';
import type { Actor } from '../access/access.types.js';
import type { EventRow } from '../events/events.repository.js';
import * as repo from './notifications.repository.js';

/** Why a notification was recorded; clients show a sentence per reason. */
export const NOTIFICATION_REASONS = [
  'task_assigned',
  'task_completed',
  'acute_note',
  'access_changed',
  'member_joined',
  'member_left',
  'meeting_invited',
  'meeting_changed',
  'meeting_cancelled',
  'emergency_access',
  'life_goal_changed',
  'safety_plan_updated',
] as const;
export type NotificationReason = (typeof NOTIFICATION_REASONS)[number];

interface Candidate {
  actor: Actor;
  reason: NotificationReason;
}

/** Meeting changes a participant must hear about; a new title or agenda is not worth a notification. */
const MEETING_CHANGES_TOLD = ['startsAt', 'endsAt', 'videoUrl', 'location', 'participantMemberIds'];

const text = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);
const texts = (value: unknown): string[] => (Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : []);

/**
 * Records the notifications an event causes. Every candidate is checked with the same policy as
 * any delivery (mayReceiveEvent with the recipient's access now), the login that caused the event
 * is never told about it, and a second run for the same event adds nothing.
 */
export async function recordNotifications(trx: Kysely<DB>, event: EventRow, now: Date): Promise<void> {
  const data = (event.data ?? {}) as Record<string, unknown>;
  const candidates = await candidatesFor(trx, event, data);
  if (candidates.length === 0) return;
  const causedBy = new Set(
    await repo.eventActorSubs(trx, event, { resourceType: text(data.resourceType), resourceId: text(data.resourceId), memberId: text(data.memberId) }),
  );
  const bySub = new Map<string, Candidate>();
  for (const candidate of candidates) {
    if (!causedBy.has(candidate.actor.sub) && !bySub.has(candidate.actor.sub)) bySub.set(candidate.actor.sub, candidate);
  }
  const rows = [];
  for (const { actor, reason } of bySub.values()) {
    // Unlocked read: the dispatcher's transaction must not hold up a revoke in flight.
    const context = (await loadAccessContexts(trx, actor, [event.person_id], now)).get(event.person_id)!;
    if (!mayReceiveEvent(context, { type: event.type, data })) continue;
    rows.push({
      recipient_sub: actor.sub,
      notification_id: newId(),
      person_id: event.person_id,
      event_id: event.event_id,
      type: event.type,
      reason,
      created_at: now,
    });
  }
  await repo.insertNotifications(trx, rows);
}

/** Who an event may concern, before consent is checked; see the README for the rules. */
async function candidatesFor(db: Kysely<DB>, event: EventRow, data: Record<string, unknown>): Promise<Candidate[]> {
  const personId = event.person_id;
  // Only members who had joined when it happened: not the grant made with an invitation, nor
  // (when the dispatcher lags) what happened before someone joined.
  const told = (m: repo.MemberLogin, reason: NotificationReason): Candidate[] => {
    const actor = memberActor(m);
    const joinedBefore = m.joined_at !== null && m.joined_at.getTime() <= event.occurred_at.getTime();
    return actor && joinedBefore ? [{ actor, reason }] : [];
  };
  const members = async (ids: string[], reason: NotificationReason, activeOnly: boolean): Promise<Candidate[]> =>
    (await repo.memberLogins(db, personId, ids)).flatMap((m) => (activeOnly && m.status !== 'active' ? [] : told(m, reason)));
  const representatives = (logins: Awaited<ReturnType<typeof repo.planControllerLogins>>, levels: string[]) =>
    logins.representatives
      .filter((r) => levels.includes(r.level) && r.accepted_at !== null && r.accepted_at.getTime() <= event.occurred_at.getTime())
      .map((r) => r.user_sub);
  const controllers = async (reason: NotificationReason): Promise<Candidate[]> => {
    const logins = await repo.planControllerLogins(db, personId);
    const subs = [logins.personSub, logins.stewardSub, ...representatives(logins, ['full'])];
    return subs.flatMap((sub) => (sub ? [{ actor: { sub }, reason }] : []));
  };
  // Everyone in the plan: the person (or steward), every representative and every active member.
  const audience = async (reason: NotificationReason): Promise<Candidate[]> => {
    const logins = await repo.planControllerLogins(db, personId);
    const subs = [logins.personSub, logins.stewardSub, ...representatives(logins, ['full', 'limited'])];
    const fromMembers = (await repo.activeMemberLogins(db, personId)).flatMap((m) => told(m, reason));
    return [...subs.flatMap((sub) => (sub ? [{ actor: { sub }, reason }] : [])), ...fromMembers];
  };

  switch (event.type) {
    case 'task.assigned': {
      // task.created always comes with task.assigned: one notification per assignment, not two.
      const assignee = text(data.assigneeMemberId);
      return assignee ? members([assignee], 'task_assigned', true) : [];
    }
    case 'task.completed': {
      const creator = await repo.taskCreator(db, personId, text(data.resourceId) ?? '');
      return creator ? [{ actor: { sub: creator.sub, ...(creator.org ? { org: creator.org } : {}) }, reason: 'task_completed' }] : [];
    }
    case 'note.created':
    case 'note.revised':
      return data.phase === 'acute' ? audience('acute_note') : [];
    case 'grant.changed':
    case 'grant.revoked': {
      const member = text(data.memberId);
      return member ? members([member], 'access_changed', false) : [];
    }
    case 'team.member_ended': {
      const member = text(data.memberId);
      const told = member ? await members([member], 'access_changed', false) : [];
      return data.endedBy === 'self' ? [...told, ...(await controllers('member_left'))] : told;
    }
    case 'team.member_joined': {
      // Not the one who joined (a professional starting a plan joins it as its steward).
      const joined = (await repo.memberLogins(db, personId, texts([data.memberId])))[0]?.user_sub;
      return (await controllers('member_joined')).filter((c) => c.actor.sub !== joined);
    }
    case 'meeting.scheduled':
      return members(texts(data.participantMemberIds), 'meeting_invited', true);
    case 'meeting.updated': {
      const changed = texts(data.changed);
      if (changed.includes('status') && data.status === 'cancelled') return members(texts(data.participantMemberIds), 'meeting_cancelled', true);
      if (changed.some((field) => MEETING_CHANGES_TOLD.includes(field))) return members(texts(data.participantMemberIds), 'meeting_changed', true);
      return [];
    }
    case 'emergency_access.opened':
      return [
        ...(data.notifyPerson === false ? [] : await controllers('emergency_access')),
        ...(await members(texts(data.notifyMemberIds), 'emergency_access', true)),
      ];
    case 'life_goal.created':
    case 'life_goal.updated':
      // Life goals are the person's own words: they hear when someone else writes or changes one.
      return controllers('life_goal_changed');
    case 'safety_plan.updated':
      // Whom to call and what helps: everyone who may read the safety plan needs the current one.
      return audience('safety_plan_updated');
    default:
      return [];
  }
}

/**
 * The login a membership is told through. An organisation's membership is told through the staff
 * member who accepted its invitation, decided with their organisation (as when they call the API).
 */
function memberActor(member: repo.MemberLogin): Actor | undefined {
  if (member.user_sub === null) return undefined;
  if (member.kind !== 'organisation') return { sub: member.user_sub };
  return member.organisation_id ? { sub: member.user_sub, org: member.organisation_id } : undefined;
}
