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
 * Records the notifications events cause (the dispatcher passes its whole batch, in outbox order).
 * Every candidate is checked with the same policy as any delivery (mayReceiveEvent with the
 * recipient's access now), the login that caused the event is never told about it, and a second
 * run for the same event adds nothing. A batch costs round trips per person and per recipient,
 * not per event: who a plan's controllers are is read once per person, who caused the events in
 * one query, and each recipient's access to all the batch's persons in one.
 */
export async function recordNotifications(trx: Kysely<DB>, eventOrEvents: EventRow | EventRow[], now: Date): Promise<void> {
  const events = Array.isArray(eventOrEvents) ? eventOrEvents : [eventOrEvents];
  const lookups = memoizedLookups(trx);
  const told: Array<{ event: EventRow; data: Record<string, unknown>; candidates: Candidate[] }> = [];
  for (const event of events) {
    const data = (event.data ?? {}) as Record<string, unknown>;
    const candidates = await candidatesFor(trx, event, data, lookups);
    if (candidates.length > 0) told.push({ event, data, candidates });
  }
  if (told.length === 0) return;
  const causedBy = await repo.eventActorSubs(trx, told);

  // Per event, each login once (the first reason wins), never the one who caused it.
  const pairs = told.flatMap(({ event, data, candidates }) => {
    const bySub = new Map<string, Candidate>();
    for (const candidate of candidates) {
      if (!causedBy.get(event.event_id)?.has(candidate.actor.sub) && !bySub.has(candidate.actor.sub)) bySub.set(candidate.actor.sub, candidate);
    }
    return [...bySub.values()].map((candidate) => ({ event, data, candidate }));
  });
  const byActor = new Map<string, typeof pairs>();
  for (const pair of pairs) {
    const key = JSON.stringify([pair.candidate.actor.sub, pair.candidate.actor.org ?? null]);
    byActor.set(key, [...(byActor.get(key) ?? []), pair]);
  }
  const allowed = new Set<(typeof pairs)[number]>();
  for (const actorPairs of byActor.values()) {
    // Unlocked read: the dispatcher's transaction must not hold up a revoke in flight.
    const contexts = await loadAccessContexts(trx, actorPairs[0]!.candidate.actor, [...new Set(actorPairs.map((p) => p.event.person_id))], now);
    for (const pair of actorPairs) {
      if (mayReceiveEvent(contexts.get(pair.event.person_id)!, { type: pair.event.type, data: pair.data })) allowed.add(pair);
    }
  }
  // In event order, so the inbox (newest first by v7 id) lists them as they happened.
  const rows = pairs
    .filter((pair) => allowed.has(pair))
    .map(({ event, candidate }) => ({
      recipient_sub: candidate.actor.sub,
      notification_id: newId(),
      person_id: event.person_id,
      event_id: event.event_id,
      type: event.type,
      reason: candidate.reason,
      created_at: now,
    }));
  await repo.insertNotifications(trx, rows);
}

type Lookups = ReturnType<typeof memoizedLookups>;

/** The per-plan lookups of one batch, each made once per person (the batch's events are all committed already). */
function memoizedLookups(db: Kysely<DB>) {
  const controllers = new Map<string, ReturnType<typeof repo.planControllerLogins>>();
  const members = new Map<string, ReturnType<typeof repo.activeMemberLogins>>();
  return {
    planControllerLogins(personId: string) {
      if (!controllers.has(personId)) controllers.set(personId, repo.planControllerLogins(db, personId));
      return controllers.get(personId)!;
    },
    activeMemberLogins(personId: string) {
      if (!members.has(personId)) members.set(personId, repo.activeMemberLogins(db, personId));
      return members.get(personId)!;
    },
  };
}

/** Who an event may concern, before consent is checked; see the README for the rules. */
async function candidatesFor(db: Kysely<DB>, event: EventRow, data: Record<string, unknown>, lookups: Lookups): Promise<Candidate[]> {
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
    const logins = await lookups.planControllerLogins(personId);
    const subs = [logins.personSub, logins.stewardSub, ...representatives(logins, ['full'])];
    return subs.flatMap((sub) => (sub ? [{ actor: { sub }, reason }] : []));
  };
  // Everyone in the plan: the person (or steward), every representative and every active member.
  const audience = async (reason: NotificationReason): Promise<Candidate[]> => {
    const logins = await lookups.planControllerLogins(personId);
    const subs = [logins.personSub, logins.stewardSub, ...representatives(logins, ['full', 'limited'])];
    const fromMembers = (await lookups.activeMemberLogins(personId)).flatMap((m) => told(m, reason));
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
