// What a service hands to the journal: audit entries (who did what) and thin events (what changed).
import type { AuditActor } from '../access/access.types.js';

export type AuditAction = 'read' | 'list' | 'create' | 'update' | 'delete' | 'claim' | 'emergency_access';

export interface AuditRecord {
  personId: string;
  actor: AuditActor;
  action: AuditAction;
  resourceType: string;
  resourceId?: string;
  /** Only for emergency access: the written justification. */
  reason?: string;
}

export const EVENT_TYPES = [
  'person.updated',
  'team.member_invited',
  'team.member_joined',
  'team.member_ended',
  'grant.changed',
  'grant.revoked',
  'representative.added',
  'emergency_access.opened',
  'life_goal.created',
  'life_goal.updated',
  'care_goal.created',
  'care_goal.updated',
  'task.created',
  'task.assigned',
  'task.updated',
  'task.completed',
  'note.created',
  'note.revised',
  'note.retracted',
  'wishes.updated',
  'safety_plan.updated',
  'meeting.scheduled',
  'meeting.updated',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** Event data is thin: ids, states and versions only, never clinical free text. */
export type EventData = { resourceType: string; resourceId: string; version?: number } & Record<
  string,
  string | number | boolean | null | string[] | undefined
>;

export interface EventRecord {
  personId: string;
  type: EventType;
  data: EventData;
}

export interface JournalContext {
  requestId?: string;
  now: Date;
}
