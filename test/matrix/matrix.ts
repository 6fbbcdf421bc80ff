// The access matrix's vocabulary: kinds of callers, and endpoints with who may call them.
// Each module lists its endpoints in test/matrix/<module>.endpoints.ts; test/access-matrix.test.ts
// runs every endpoint against every kind of caller.
import type { FastifyInstance } from 'fastify';
import type { Caller } from '../helpers/factories.js';

export type CallerKind =
  | 'person'
  | 'representative_full'
  | 'representative_limited'
  | 'steward_after_claim'
  | 'member_with_scope'
  | 'member_without_scope'
  | 'member_expired'
  | 'member_revoked'
  | 'member_ended'
  | 'organisation_staff'
  | 'organisation_other_staff'
  | 'emergency_active'
  | 'emergency_expired'
  | 'other_citizen'
  | 'professional_outside'
  | 'anonymous'
  | 'forged';

/** Callers with no relation to the person: always 404, whatever the endpoint. */
export const UNRELATED: CallerKind[] = ['organisation_other_staff', 'other_citizen', 'professional_outside'];
export const CONTROLLERS: CallerKind[] = ['person', 'representative_full'];
/** Every scope the matrix's "member with the scope" (and the organisation, and the former steward) holds. */
export const ALL_SCOPE_HOLDERS: CallerKind[] = ['steward_after_claim', 'member_with_scope', 'organisation_staff'];
/** Who reads a category: controllers, limited representatives, holders of the scope. */
export const READERS: CallerKind[] = [...CONTROLLERS, 'representative_limited', ...ALL_SCOPE_HOLDERS];
/** Who writes a category other than goals and notes. */
export const WRITERS: CallerKind[] = [...CONTROLLERS, ...ALL_SCOPE_HOLDERS];
/** Who writes goals and notes: limited representatives too. */
export const GOAL_AND_NOTE_WRITERS: CallerKind[] = [...WRITERS, 'representative_limited'];
/** Emergency access reads these categories. */
export const EMERGENCY_CATEGORIES = ['team', 'goals', 'wishes', 'safety_plan'];

export interface Fixture {
  app: FastifyInstance;
  personId: string;
  /** A controller of the plan (the person), to create what a cell needs. */
  controller: Caller;
  /** A member of the plan with every scope (an assignee, a participant). */
  memberId: string;
  /** A fresh invited member, for cells that change or end one. */
  freshMember(): Promise<string>;
  freshRepresentative(): Promise<string>;
}

export interface Endpoint {
  name: string;
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** May create what the cell needs (through fixture.app as the controller) and return the URL. */
  url: (f: Fixture) => Promise<string> | string;
  body?: (f: Fixture) => Promise<Record<string, unknown>> | Record<string, unknown>;
  headers?: (f: Fixture) => Promise<Record<string, string>> | Record<string, string>;
  ok: number;
  /** The callers that get `ok`; every other related caller gets 403. */
  allowed: CallerKind[];
  /** Exceptions to the rule (e.g. the person claiming an already claimed plan). */
  special?: Partial<Record<CallerKind, number>>;
}

export function expectedStatus(endpoint: Endpoint, kind: CallerKind): number {
  if (endpoint.special?.[kind] !== undefined) return endpoint.special[kind]!;
  if (kind === 'anonymous' || kind === 'forged') return 401;
  if (UNRELATED.includes(kind)) return 404;
  return endpoint.allowed.includes(kind) ? endpoint.ok : 403;
}
