// The FHIR R4 facade's reads: single resources through the /v1 services (their access check and audit entry), searches, histories and $everything through the access module and the repositories, audited like the /v1 reads they mirror.
// Like the /v1 reads, each read of one plan runs on the read journal (see read-journal.ts): plain
// queries without a transaction, its audit entries appended with other reads' in a shared commit.
import type { Resource } from '@medplum/fhirtypes';
import type { Kysely } from 'kysely';
import type { DB } from '../../db/types.js';
import { inTransaction } from '../../db/transaction.js';
import type { Clock, RequestContext } from '../../lib/context.js';
import { badRequest, forbidden, notFound } from '../../lib/errors.js';
import { auditActorFor, controls, decide, noteFilter, strongestRelation } from '../access/access.policy.js';
import { loadAccessContext } from '../access/access.repository.js';
import { enforce, permits } from '../access/access.service.js';
import type { AccessContext, AuditActor, Category } from '../access/access.types.js';
import { findCareDocument } from '../care-documents/care-documents.repository.js';
import type { SafetyPlan, Wishes } from '../care-documents/care-documents.schemas.js';
import { careDocumentRowToDocument, type CareDocumentsService } from '../care-documents/care-documents.service.js';
import type { CareGoal, LifeGoal } from '../goals/goals.schemas.js';
import { careGoalRowToCareGoal, lifeGoalRowToLifeGoal, type GoalsService } from '../goals/goals.service.js';
import type { VersionRow } from '../history/history.repository.js';
import { appendJournal } from '../journal/journal.repository.js';
import type { AuditRecord } from '../journal/journal.types.js';
import type { ReadJournal } from '../journal/read-journal.js';
import type { Meeting } from '../meetings/meetings.schemas.js';
import { meetingRowToMeeting, type MeetingsService } from '../meetings/meetings.service.js';
import type { Note } from '../notes/notes.schemas.js';
import { noteRowToNote, type NotesService } from '../notes/notes.service.js';
import { findPerson, personRowToPerson } from '../persons/persons.repository.js';
import type { PersonsService } from '../persons/persons.service.js';
import { taskRowToTask, type TasksService } from '../tasks/tasks.service.js';
import { findMembers, listMembers, listRepresentatives } from '../team/team.repository.js';
import type { Representative, TeamMember } from '../team/team.schemas.js';
import { grantRowToGrantRecord, memberRowToTeamMember, representativeRowToRepresentative } from '../team/team.service.js';
import * as repo from './fhir.repository.js';
import {
  careGoalToGoal,
  grantToConsent,
  lifeGoalToGoal,
  meetingToAppointment,
  membersToCareTeam,
  noteToCommunication,
  noteVersionToCommunication,
  operationOutcome,
  personToPatient,
  planToCarePlan,
  PROVENANCE_ID,
  representativeToRelatedPerson,
  safetyPlanToDocumentReference,
  SYSTEMS,
  taskToTask,
  versionToProvenance,
  WISH_ID,
  wishId,
  wishToConsent,
  type GrantView,
  type ProvenanceKind,
  type VersionAuthor,
} from './fhir.mappers.js';

export const FHIR_TYPES = [
  'Patient',
  'CarePlan',
  'CareTeam',
  'Goal',
  'Task',
  'Communication',
  'Consent',
  'DocumentReference',
  'Appointment',
  'RelatedPerson',
  'Provenance',
] as const;
export type FhirType = (typeof FHIR_TYPES)[number];
/** The types whose every version is kept: vread and _history. */
export const VERSIONED_TYPES = ['Goal', 'Communication', 'Consent', 'DocumentReference'] as const;
export type VersionedType = (typeof VERSIONED_TYPES)[number];

/** Search parameters after the route's schema accepted them (unknown ones never get here). */
export interface SearchParams {
  patient?: string;
  _id?: string;
  identifier?: string;
  _lastUpdated?: string | string[];
  _count?: number;
  _cursor?: string;
  status?: string;
  'lifecycle-status'?: string;
  category?: string;
  owner?: string;
  date?: string | string[];
  sent?: string | string[];
  scope?: string;
}

export interface EverythingParams {
  _since?: string;
  _type?: string;
  _count?: number;
  _cursor?: string;
}

export interface SearchResult {
  resources: Resource[];
  /** The opaque cursor of the next page, when there is one. */
  next?: string;
  /** A warning to add to the Bundle (e.g. a plan larger than one answer holds). */
  outcome?: Resource;
  total?: number;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const isUuid = (id: string) => UUID.test(id);
const DEFAULT_COUNT = 50;
// A plan is bounded in practice; beyond these the answer says it was cut (an OperationOutcome entry).
const PLAN_LIMITS = { team: 500, lifeGoals: 500, careGoals: 2000, tasks: 2000, notes: 2000, grants: 2000, representatives: 200, meetings: 2000, versions: 20000 };
// One history answer reads at most this many versions of one resource.
const HISTORY_LIMIT = 1000;

/** One answer for unknown ids and ids the caller has no relation to: existence is never revealed. */
export const unknownResource = (type: string, id: string) => notFound(`${type}/${id} is not known.`);

// ---------------------------------------------------------------------------- parameters

const FHIR_DATE = /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:\d{2}))?)?)?$/;

/**
 * `_lastUpdated` values into SQL bounds. A value with a time is an instant; a year, month or day
 * is a range, and the prefix compares against that range (gt: after its end, le: before its end).
 */
export function parseLastUpdated(raw: string | string[] | undefined, name = '_lastUpdated'): repo.UpdatedBound[] {
  if (raw === undefined) return [];
  const values = Array.isArray(raw) ? raw : [raw];
  const bounds: repo.UpdatedBound[] = [];
  for (const value of values) {
    const match = /^(eq|gt|ge|lt|le)?(.+)$/.exec(value.trim());
    const parsed = match ? FHIR_DATE.exec(match[2]!) : null;
    const invalid = () => badRequest(`${name} "${value}" is not a FHIR date or instant with an optional eq/gt/ge/lt/le prefix.`);
    if (!match || !parsed) throw invalid();
    const [, y, mo, d, h, mi, s, , tz] = parsed;
    const year = Number(y);
    if (year < 1000 || year > 9999) throw invalid();
    let start: Date;
    let end: Date;
    if (h !== undefined) {
      if (tz === undefined) throw invalid();
      start = new Date(match[2]!);
      if (Number.isNaN(start.getTime()) || Number(mo) > 12 || Number(d) > 31 || Number(h) > 23 || Number(mi) > 59 || Number(s ?? 0) > 59) throw invalid();
      end = start;
    } else {
      const month = mo === undefined ? 1 : Number(mo);
      const day = d === undefined ? 1 : Number(d);
      start = new Date(Date.UTC(year, month - 1, day));
      // Date.UTC rolls 2026-02-31 over into March: refuse it rather than search another day.
      if (month < 1 || month > 12 || start.getUTCMonth() !== month - 1 || start.getUTCDate() !== day) throw invalid();
      end = d !== undefined ? new Date(Date.UTC(year, month - 1, day + 1)) : mo !== undefined ? new Date(Date.UTC(year, month, 1)) : new Date(Date.UTC(year + 1, 0, 1));
    }
    const instant = start === end;
    switch (match[1] ?? 'eq') {
      case 'gt':
        bounds.push(instant ? { op: '>', at: start } : { op: '>=', at: end });
        break;
      case 'ge':
        bounds.push({ op: '>=', at: start });
        break;
      case 'lt':
        bounds.push({ op: '<', at: start });
        break;
      case 'le':
        bounds.push(instant ? { op: '<=', at: start } : { op: '<', at: end });
        break;
      default:
        bounds.push({ op: '>=', at: start }, instant ? { op: '<=', at: start } : { op: '<', at: end });
    }
  }
  return bounds;
}

/** `Patient/<id>` or `<id>`; undefined when it cannot be a Kring person (which then matches nothing). */
function patientId(value: string): string | undefined {
  const id = value.startsWith('Patient/') ? value.slice('Patient/'.length) : value;
  return isUuid(id) ? id : undefined;
}

const withinBounds = (lastUpdated: string | undefined, bounds: repo.UpdatedBound[]) => {
  if (bounds.length === 0) return true;
  if (lastUpdated === undefined) return false;
  const at = new Date(lastUpdated).getTime();
  return bounds.every((b) =>
    b.op === '>' ? at > b.at.getTime() : b.op === '>=' ? at >= b.at.getTime() : b.op === '<' ? at < b.at.getTime() : at <= b.at.getTime(),
  );
};


/** Cursors are opaque to clients: the sort key of the last entry shown, base64url-encoded. */
export const encodeCursor = (key: string) => Buffer.from(key, 'utf8').toString('base64url');
function decodeCursor(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  const key = /^[A-Za-z0-9_-]{1,200}$/.test(raw) ? Buffer.from(raw, 'base64url').toString('utf8') : '';
  // Anything that is not a cursor of this server is refused rather than silently restarting.
  if (!/^[A-Za-z0-9.:-]{1,120}$/.test(key)) throw badRequest('_cursor is not a cursor from this search.');
  return key;
}

/** A token parameter: comma-separated `code` or `system|code` alternatives. */
function tokens(raw: string | undefined): Array<{ system?: string; code: string }> | undefined {
  if (raw === undefined) return undefined;
  return raw.split(',').map((part) => {
    const bar = part.indexOf('|');
    return bar < 0 ? { code: part.trim() } : { system: part.slice(0, bar).trim() || undefined, code: part.slice(bar + 1).trim() };
  });
}

const codes = (raw: string | undefined) => tokens(raw)?.map((t) => t.code);

/** Kring values for FHIR codes; an unknown code matches nothing (an empty list). */
const translate = (raw: string | undefined, map: Record<string, string[]>): string[] | undefined =>
  raw === undefined ? undefined : [...new Set(codes(raw)!.flatMap((c) => map[c] ?? []))];

const TASK_STATUS: Record<string, string[]> = { requested: ['open'], 'in-progress': ['in_progress'], completed: ['done'], cancelled: ['cancelled'] };
const LIFE_GOAL_STATUS: Record<string, string[]> = { active: ['active'], completed: ['achieved'], cancelled: ['let_go'] };
const CARE_GOAL_STATUS: Record<string, string[]> = { proposed: ['proposed'], active: ['active'], completed: ['achieved', 'not_achieved'], cancelled: ['cancelled'] };

/** The sort key that orders a type's resources in a search (their id, but versions in number order). */
function sortKey(resource: Resource): string {
  if (resource.resourceType === 'Provenance') {
    const [, kind, id, version] = PROVENANCE_ID.exec(resource.id!)!;
    return `${kind}-${id}-${version!.padStart(9, '0')}`;
  }
  return resource.id!;
}

/** `_id`, `_lastUpdated`, `status` and the cursor over resources loaded whole; one page of them. */
function pageInMemory(
  resources: Resource[],
  options: { ids?: string[]; updated: repo.UpdatedBound[]; statuses?: string[]; after?: string; count: number; extra?: (r: Resource) => boolean },
): SearchResult {
  const matching = resources
    .filter((r) => (options.ids ? options.ids.includes(r.id!) : true))
    .filter((r) => withinBounds(r.meta?.lastUpdated, options.updated))
    .filter((r) => (options.statuses ? options.statuses.includes((r as { status?: string }).status ?? '') : true))
    .filter((r) => (options.extra ? options.extra(r) : true))
    .map((r) => ({ key: sortKey(r), r }))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const rest = options.after === undefined ? matching : matching.filter((m) => m.key > options.after!);
  const shown = rest.slice(0, options.count);
  return { resources: shown.map((m) => m.r), next: rest.length > options.count ? encodeCursor(shown[shown.length - 1]!.key) : undefined };
}

/** Pages rows fetched by SQL in id order (one more than asked): continue after the last one shown. */
function paged<T extends { id?: string }>(items: T[], count: number): { resources: T[]; next?: string } {
  if (items.length <= count) return { resources: items };
  const shown = items.slice(0, count);
  return { resources: shown, next: encodeCursor(shown[shown.length - 1]!.id!) };
}

const VERSION_KIND: Record<string, ProvenanceKind> = { life_goal: 'goal', care_goal: 'goal', wishes: 'wishes', safety_plan: 'safetyplan' };

/** Who wrote a version recorded in resource_versions. */
const versionAuthor = (row: VersionRow): VersionAuthor => ({ name: row.changed_by_name, role: row.changed_by_role, memberId: row.changed_by_member_id });

/** The Provenance of one version in resource_versions (goals, wishes, safety plan); none for empty wishes (nothing to point at). */
export function versionRowToProvenance(row: VersionRow): ReturnType<typeof versionToProvenance> | undefined {
  const kind = VERSION_KIND[row.resource_type];
  if (!kind) return undefined;
  const targets =
    kind === 'goal'
      ? [`Goal/${row.resource_id}/_history/${row.version}`]
      : kind === 'safetyplan'
        ? [`DocumentReference/${row.resource_id}/_history/${row.version}`]
        : ((row.snapshot as Wishes).statements ?? []).map((_, i) => `Consent/${wishId(row.resource_id, i + 1)}/_history/${row.version}`);
  if (targets.length === 0) return undefined;
  return versionToProvenance({ kind, personId: row.person_id, resourceId: row.resource_id, version: row.version, recorded: row.changed_at.toISOString(), author: versionAuthor(row), targets });
}

export function noteVersionToProvenance(personId: string, row: repo.NoteVersionWithAuthorRow) {
  return versionToProvenance({
    kind: 'note',
    personId,
    resourceId: row.note_id,
    version: row.version,
    recorded: row.created_at.toISOString(),
    // Only the author revises or retracts a note: every version is theirs.
    author: { name: row.member_display_name ?? row.author_name, role: row.author_role, memberId: row.author_member_id },
    targets: [`Communication/${row.note_id}/_history/${row.version}`],
  });
}

/**
 * Grant records as Consent views: a record is in force while it is the member's latest, not a
 * revocation, not past its validUntil and the member has not left.
 */
export function grantViews(rows: repo.GrantWithMemberRow[], now: Date): GrantView[] {
  const nextOf = new Map<string, repo.GrantWithMemberRow>();
  const latestOf = new Map<string, string>();
  for (const row of rows) {
    const previous = latestOf.get(row.member_id);
    if (previous) nextOf.set(previous, row);
    latestOf.set(row.member_id, row.grant_id);
  }
  return rows.map((row) => {
    const next = nextOf.get(row.grant_id);
    const ends = [next?.changed_at, row.member_ended_at, row.valid_until, row.change === 'revoked' ? row.changed_at : null].filter((d): d is Date => d instanceof Date);
    const end = ends.length > 0 ? new Date(Math.min(...ends.map((d) => d.getTime()))) : null;
    const active = !next && row.change !== 'revoked' && (end === null || end.getTime() > now.getTime());
    const lastUpdated = end !== null && end.getTime() <= now.getTime() && end.getTime() > row.changed_at.getTime() ? end : row.changed_at;
    const grant = grantRowToGrantRecord(row);
    return { grant, memberKind: row.member_kind as TeamMember['kind'], active, end: end?.toISOString() ?? null, lastUpdated: lastUpdated.toISOString() };
  });
}

/**
 * The parts of a plan a read loads, each only when the caller's access allows it and a wanted
 * type needs it, with one row more than the limit (so that a cut plan can say it was cut).
 */
export function planParts(context: AccessContext, wanted: ReadonlySet<FhirType>): repo.PlanParts {
  const can = (category: Category) => permits(context, { kind: 'read', category });
  const want = (...types: FhirType[]) => types.some((t) => wanted.has(t));
  const filter = noteFilter(context);
  const visible = filter?.kind === 'visible' ? filter : null;
  const goalsWanted = can('goals') && want('Goal', 'CarePlan');
  const versionKinds = [...(can('goals') ? ['life_goal', 'care_goal'] : []), ...(can('wishes') ? ['wishes'] : []), ...(can('safety_plan') ? ['safety_plan'] : [])];
  const provenanceWanted = want('Provenance') && (versionKinds.length > 0 || visible !== null);
  const limit = (wantedPart: boolean, max: number) => (wantedPart ? max + 1 : null);
  return {
    // The team gives the CareTeam, and the names of task owners and meeting participants.
    team: limit(can('team') && want('CareTeam', 'Task', 'Appointment'), PLAN_LIMITS.team),
    lifeGoals: limit(goalsWanted, PLAN_LIMITS.lifeGoals),
    careGoals: limit(goalsWanted, PLAN_LIMITS.careGoals),
    tasks: limit(can('tasks') && want('Task', 'CarePlan'), PLAN_LIMITS.tasks),
    notes: visible && want('Communication') ? { filter: visible, limit: PLAN_LIMITS.notes + 1 } : null,
    meetings: limit(can('meetings') && want('Appointment', 'CarePlan'), PLAN_LIMITS.meetings),
    grants: limit(controls(context) && want('Consent'), PLAN_LIMITS.grants),
    representatives: limit(can('team') && want('RelatedPerson'), PLAN_LIMITS.representatives),
    wishes: can('wishes') && want('Consent'),
    safetyPlan: can('safety_plan') && want('DocumentReference'),
    versions: provenanceWanted ? { kinds: versionKinds, limit: PLAN_LIMITS.versions + 1 } : null,
    noteVersions: provenanceWanted && visible ? { filter: visible, limit: PLAN_LIMITS.versions + 1 } : null,
  };
}

/** Every wish statement of one version of the wishes, as Consents. */
const wishConsents = (wishes: Wishes) => wishes.statements.map((_, i) => wishToConsent(wishes, i + 1));

// ---------------------------------------------------------------------------------- service

export interface FhirServiceDeps {
  db: Kysely<DB>;
  clock: Clock;
  reads: ReadJournal;
  persons: Pick<PersonsService, 'get'>;
  goals: Pick<GoalsService, 'getLifeGoal' | 'getCareGoal' | 'history'>;
  tasks: Pick<TasksService, 'getTask'>;
  notes: Pick<NotesService, 'get' | 'versions' | 'version'>;
  careDocuments: Pick<CareDocumentsService, 'get' | 'versions' | 'version'>;
  meetings: Pick<MeetingsService, 'get'>;
}

/** What the caller may read of one plan, loaded in one statement whatever its size. */
interface Plan {
  context: AccessContext;
  personCreatedAt: string;
  patient?: Resource;
  members: TeamMember[] | null;
  lifeGoals: LifeGoal[] | null;
  careGoals: CareGoal[] | null;
  tasks: ReturnType<typeof taskRowToTask>[] | null;
  notes: Note[] | null;
  meetings: Meeting[] | null;
  grants: GrantView[] | null;
  representatives: Representative[] | null;
  wishes: Wishes | null;
  safetyPlan: SafetyPlan | null;
  provenance: Resource[] | null;
  truncated: string[];
  /** The audit entries of this read of the plan, for the access context it was decided on. */
  entries: AuditRecord[];
}

/** The FHIR types each category of access opens (notes follow the note filter, grants the control of the plan). */
const TYPE_ORDER: FhirType[] = [...FHIR_TYPES];

export function createFhirService({ db, clock, reads, persons, goals, tasks, notes, careDocuments, meetings }: FhirServiceDeps) {
  const journal = (ctx: RequestContext, now: Date) => ({ requestId: ctx.requestId, now });

  /**
   * The plan as the overview filters it: each part only when the caller's scopes allow it, and
   * only the types asked for. `overview` audits as the overview (CarePlan); `parts` as each list.
   * The entries are returned for the caller to record (once per read); `known` is the access
   * context the caller already decided on, so that the read and its entries rest on one decision.
   */
  async function loadPlan(
    reader: Kysely<DB>,
    ctx: RequestContext,
    personId: string,
    now: Date,
    audit: 'overview' | 'parts',
    wanted: ReadonlySet<FhirType> = new Set(FHIR_TYPES),
    known?: AccessContext,
  ): Promise<Plan> {
    const context = known ?? (await loadAccessContext(reader, ctx.actor, personId, now));
    const relation = strongestRelation(context);
    if (!relation) throw unknownResource('Patient', personId);
    const can = (category: Category) => permits(context, { kind: 'read', category });
    const filter = noteFilter(context);
    // As the overview: reading only one's own notes (a revoked or ended member) does not open the plan.
    if (!(['profile', 'team', 'goals', 'tasks'] as const).some(can) && filter?.kind !== 'visible') {
      throw forbidden('Your access to this plan does not include any part of it.');
    }
    const want = (...types: FhirType[]) => types.some((t) => wanted.has(t));
    const truncated: string[] = [];
    const cut = <T>(rows: T[], limit: number, part: string) => {
      if (rows.length <= limit) return rows;
      truncated.push(part);
      return rows.slice(0, limit);
    };
    // Every part in one statement: one round trip, however many parts the caller may read.
    const found = await repo.loadPlanParts(reader, personId, planParts(context, wanted));
    const personRow = found.person;
    if (!personRow) throw unknownResource('Patient', personId);
    // Cut in a fixed order, so `truncated` lists the parts the same way every time.
    const limited = <T>(rows: T[] | null, limit: number, name: string) => (rows ? cut(rows, limit, name) : null);
    const memberRows = limited(found.team, PLAN_LIMITS.team, 'team');
    const lifeRows = limited(found.lifeGoals, PLAN_LIMITS.lifeGoals, 'lifeGoals');
    const careRows = limited(found.careGoals, PLAN_LIMITS.careGoals, 'careGoals');
    const taskRows = limited(found.tasks, PLAN_LIMITS.tasks, 'tasks');
    const noteRows = limited(found.notes, PLAN_LIMITS.notes, 'notes');
    const meetingRows = limited(found.meetings, PLAN_LIMITS.meetings, 'meetings');
    const grantRows = limited(found.grants, PLAN_LIMITS.grants, 'grants');
    const representativeRows = limited(found.representatives, PLAN_LIMITS.representatives, 'representatives');
    const versionRows = limited(found.versions, PLAN_LIMITS.versions, 'provenance');
    const noteVersionRows = limited(found.noteVersions, PLAN_LIMITS.versions, 'provenance');
    const wishesRow = found.wishes ?? null;
    const safetyPlanRow = found.safetyPlan ?? null;
    // Provenance is wanted exactly when its versions part was loaded.
    const provenance: Resource[] | null = found.versions
      ? [...(versionRows ?? []).flatMap((r) => versionRowToProvenance(r) ?? []), ...(noteVersionRows ?? []).map((r) => noteVersionToProvenance(personId, r))]
      : null;

    const actor = auditActorFor(context, relation);
    const list = (resourceType: string): AuditRecord => ({ personId, actor, action: 'list', resourceType });
    const entries: AuditRecord[] =
      audit === 'overview'
        ? [{ personId, actor, action: 'read', resourceType: 'overview', resourceId: personId }]
        : [
            ...(can('profile') && want('Patient') ? [{ personId, actor, action: 'read' as const, resourceType: 'person', resourceId: personId }] : []),
            ...(memberRows ? [list('team')] : []),
            ...(lifeRows ? [list('life_goal')] : []),
            ...(careRows ? [list('care_goal')] : []),
            ...(taskRows ? [list('task')] : []),
            ...(noteRows ? [list('note')] : []),
            ...(meetingRows ? [list('meeting')] : []),
            ...(grantRows ? [list('grant')] : []),
            ...(representativeRows ? [list('representative')] : []),
            ...(wishesRow ? [{ personId, actor, action: 'read' as const, resourceType: 'wishes', resourceId: personId }] : []),
            ...(safetyPlanRow ? [{ personId, actor, action: 'read' as const, resourceType: 'safety_plan', resourceId: personId }] : []),
            ...(provenance ? [list('provenance')] : []),
          ];
    return {
      context,
      entries,
      personCreatedAt: personRow.created_at.toISOString(),
      patient: can('profile') ? personToPatient(personRowToPerson(personRow)) : undefined,
      // Grants are Consent resources (controllers only), not part of the team's FHIR view.
      members: memberRows?.map((r) => memberRowToTeamMember(r, false, now)) ?? null,
      lifeGoals: lifeRows?.map(lifeGoalRowToLifeGoal) ?? null,
      careGoals: careRows?.map(careGoalRowToCareGoal) ?? null,
      tasks: taskRows?.map(taskRowToTask) ?? null,
      notes: noteRows?.map(noteRowToNote) ?? null,
      meetings: meetingRows?.map(meetingRowToMeeting) ?? null,
      grants: grantRows ? grantViews(grantRows, now) : null,
      representatives: representativeRows?.map(representativeRowToRepresentative) ?? null,
      wishes: wishesRow ? careDocumentRowToDocument('wishes', wishesRow) : null,
      safetyPlan: safetyPlanRow ? careDocumentRowToDocument('safety_plan', safetyPlanRow) : null,
      provenance,
      truncated,
    };
  }

  const carePlanOf = (personId: string, plan: Plan) =>
    planToCarePlan({
      personId,
      createdAt: plan.personCreatedAt,
      hasTeam: permits(plan.context, { kind: 'read', category: 'team' }),
      goals: [...(plan.lifeGoals ?? []), ...(plan.careGoals ?? [])],
      tasks: plan.tasks ?? [],
      appointments: plan.meetings ?? [],
    });

  const memberMap = (members: TeamMember[] | null) => new Map((members ?? []).map((m) => [m.memberId, m]));

  /** Every resource of a loaded plan, in the type order of the CapabilityStatement. */
  function planResources(personId: string, plan: Plan, wanted: ReadonlySet<FhirType>): Resource[] {
    const byId = memberMap(plan.members);
    const all: Partial<Record<FhirType, Resource[]>> = {
      Patient: plan.patient ? [plan.patient] : [],
      CarePlan: [carePlanOf(personId, plan)],
      CareTeam: plan.members ? [membersToCareTeam(personId, plan.members, plan.personCreatedAt)] : [],
      Goal: [...(plan.lifeGoals ?? []).map(lifeGoalToGoal), ...(plan.careGoals ?? []).map(careGoalToGoal)],
      Task: (plan.tasks ?? []).map((t) => taskToTask(t, byId.get(t.assigneeMemberId))),
      Communication: (plan.notes ?? []).map(noteToCommunication),
      Consent: [...(plan.grants ?? []).map(grantToConsent), ...(plan.wishes ? wishConsents(plan.wishes) : [])],
      DocumentReference: plan.safetyPlan ? [safetyPlanToDocumentReference(plan.safetyPlan)] : [],
      Appointment: (plan.meetings ?? []).map((m) => meetingToAppointment(m, byId)),
      RelatedPerson: (plan.representatives ?? []).map((r) => representativeToRelatedPerson(r, plan.context.now)),
      Provenance: plan.provenance ?? [],
    };
    return TYPE_ORDER.filter((t) => wanted.has(t)).flatMap((t) => all[t] ?? []);
  }

  /** A decision for a person-scoped read that is not a /v1 service call: 404 and 403 as there, and the audit actor. */
  async function granted(reader: Kysely<DB>, ctx: RequestContext, personId: string, now: Date, action: Parameters<typeof enforce>[1], type: string, id: string) {
    const context = await loadAccessContext(reader, ctx.actor, personId, now);
    const decision = decide(context, action);
    if (!decision.allowed) throw decision.status === 404 ? unknownResource(type, id) : forbidden();
    return { context, auditActor: auditActorFor(context, decision.relation) };
  }

  const entry = (personId: string, actor: AuditActor, action: 'read' | 'list', resourceType: string, resourceId?: string): AuditRecord => ({
    personId,
    actor,
    action,
    resourceType,
    ...(resourceId ? { resourceId } : {}),
  });

  async function readConsent(ctx: RequestContext, id: string, now: Date): Promise<Resource> {
    const wish = WISH_ID.exec(id);
    if (wish) {
      const position = Number(wish[2]);
      const wishes = await careDocuments.get(ctx, 'wishes', wish[1]!.toLowerCase());
      if (position > wishes.statements.length) throw unknownResource('Consent', id);
      return wishToConsent(wishes, position);
    }
    if (!isUuid(id)) throw unknownResource('Consent', id);
    const owner = await repo.grantMemberId(db, id);
    if (!owner) throw unknownResource('Consent', id);
    return reads.read(journal(ctx, now), async (reader, audit) => {
      // As GET /v1 grants: controllers only.
      const { context, auditActor } = await granted(reader, ctx, owner.personId, now, { kind: 'control' }, 'Consent', id);
      const rows = await repo.grantsWithMembers(reader, owner.personId, { memberId: owner.memberId, limit: PLAN_LIMITS.grants });
      const view = grantViews(rows, now).find((v) => v.grant.grantId === id);
      if (!view) throw unknownResource('Consent', id);
      audit(context, [entry(owner.personId, auditActor, 'read', 'grant', id)]);
      return grantToConsent(view);
    });
  }

  async function readRelatedPerson(ctx: RequestContext, id: string, now: Date): Promise<Resource> {
    const personId = await repo.representativeOwner(db, id);
    if (!personId) throw unknownResource('RelatedPerson', id);
    return reads.read(journal(ctx, now), async (reader, audit) => {
      // As GET /v1 representatives: the team category.
      const { context, auditActor } = await granted(reader, ctx, personId, now, { kind: 'read', category: 'team' }, 'RelatedPerson', id);
      const rows = await listRepresentatives(reader, personId, { includeEnded: true, limit: PLAN_LIMITS.representatives });
      const row = rows.find((r) => r.representative_id === id);
      if (!row) throw unknownResource('RelatedPerson', id);
      audit(context, [entry(personId, auditActor, 'read', 'representative', id)]);
      return representativeToRelatedPerson(representativeRowToRepresentative(row), now);
    });
  }

  /** Provenance of one version, read like that version's history on /v1. */
  async function readProvenance(ctx: RequestContext, id: string, now: Date): Promise<Resource> {
    const match = PROVENANCE_ID.exec(id);
    if (!match) throw unknownResource('Provenance', id);
    const kind = match[1] as ProvenanceKind;
    const resourceId = match[2]!.toLowerCase();
    const version = Number(match[3]);
    const missing = () => unknownResource('Provenance', id);
    if (kind === 'note') {
      const personId = await repo.ownerOf(db, 'note', resourceId);
      if (!personId) throw missing();
      await notes.version(ctx, personId, resourceId, version); // access, visibility and audit as GET /v1 .../versions/{n}
      // The author's name and role of the version just read (and audited): plain queries, no
      // transaction, nothing more to audit; the same filter again, so access revoked since shows nothing.
      const filter = noteFilter(await loadAccessContext(db, ctx.actor, personId, now));
      const rows = filter ? await repo.noteVersionsVisible(db, personId, filter, HISTORY_LIMIT, resourceId) : [];
      const row = rows.find((r) => r.version === version);
      if (!row) throw missing();
      return noteVersionToProvenance(personId, row);
    }
    let personId: string | undefined;
    let resourceType: string;
    if (kind === 'goal') {
      const owner = await repo.goalOwner(db, resourceId);
      personId = owner?.personId;
      resourceType = owner?.kind ?? 'life_goal';
    } else {
      personId = resourceId;
      resourceType = kind === 'wishes' ? 'wishes' : 'safety_plan';
    }
    if (!personId) throw missing();
    const rows = await versionItems(ctx, resourceType as 'life_goal', personId, resourceId, 'Provenance', id);
    const row = rows.find((r) => r.version === version);
    const provenance = row ? versionRowToProvenance(row) : undefined;
    if (!provenance) throw missing();
    return provenance;
  }

  /**
   * Every version of a goal, the wishes or the safety plan, through the /v1 history services
   * (their access check and audit entry), as the rows the Provenance mapping reads.
   */
  async function versionItems(
    ctx: RequestContext,
    resourceType: 'life_goal' | 'care_goal' | 'wishes' | 'safety_plan',
    personId: string,
    resourceId: string,
    type: string,
    id: string,
  ): Promise<VersionRow[]> {
    try {
      const page =
        resourceType === 'life_goal' || resourceType === 'care_goal'
          ? await goals.history(ctx, personId, resourceType, resourceId, { limit: HISTORY_LIMIT })
          : await careDocuments.versions(ctx, resourceType, personId, { limit: HISTORY_LIMIT });
      return page.items.map((item) => ({
        person_id: personId,
        resource_type: resourceType,
        resource_id: resourceId,
        version: item.version,
        snapshot: item.snapshot as never,
        changed_fields: item.changedFields,
        changed_by_sub: '',
        changed_by_name: item.changedBy.name,
        changed_by_role: item.changedBy.role,
        changed_by_member_id: item.changedBy.memberId,
        changed_at: new Date(item.changedAt),
      }));
    } catch (error) {
      // The services' own 404 ("no such goal") becomes the one FHIR answer for unknown ids.
      if (error instanceof Error && (error as { status?: number }).status === 404) throw unknownResource(type, id);
      throw error;
    }
  }

  /** Every version of a versioned resource, oldest first, as FHIR resources. */
  async function versionsOf(ctx: RequestContext, type: VersionedType, id: string): Promise<Resource[]> {
    const now = clock();
    switch (type) {
      case 'Goal': {
        if (!isUuid(id)) throw unknownResource(type, id);
        const owner = await repo.goalOwner(db, id);
        if (!owner) throw unknownResource(type, id);
        const rows = await versionItems(ctx, owner.kind, owner.personId, id, type, id);
        return rows.map((r) => (owner.kind === 'life_goal' ? lifeGoalToGoal(r.snapshot as LifeGoal) : careGoalToGoal(r.snapshot as CareGoal)));
      }
      case 'Communication': {
        if (!isUuid(id)) throw unknownResource(type, id);
        const personId = await repo.ownerOf(db, 'note', id);
        if (!personId) throw unknownResource(type, id);
        // The note's metadata (visibility, author) with each version's text, both as /v1 reads them.
        const note = await notes.get(ctx, personId, id);
        const page = await notes.versions(ctx, personId, id, { limit: HISTORY_LIMIT });
        return page.items.map((v) => noteVersionToCommunication(note, v));
      }
      case 'DocumentReference': {
        if (!isUuid(id)) throw unknownResource(type, id);
        const rows = await versionItems(ctx, 'safety_plan', id, id, type, id);
        // No safety plan written yet: nothing to show a history of.
        if (rows.length === 0) throw unknownResource(type, id);
        return rows.map((r) => safetyPlanToDocumentReference(r.snapshot as SafetyPlan));
      }
      case 'Consent': {
        const wish = WISH_ID.exec(id);
        if (!wish) {
          // A grant record never changes: its history is itself.
          return [await readConsent(ctx, id, now)];
        }
        const personId = wish[1]!.toLowerCase();
        const position = Number(wish[2]);
        const rows = await versionItems(ctx, 'wishes', personId, personId, type, id);
        const consents = rows.filter((r) => (r.snapshot as Wishes).statements.length >= position).map((r) => wishToConsent(r.snapshot as Wishes, position));
        if (consents.length === 0) throw unknownResource(type, id);
        return consents;
      }
    }
  }

  return {
    async read(ctx: RequestContext, type: FhirType, id: string): Promise<Resource> {
      const now = clock();
      if (type === 'Consent') return readConsent(ctx, id, now);
      if (type === 'Provenance') return readProvenance(ctx, id, now);
      if (!isUuid(id)) throw unknownResource(type, id);
      switch (type) {
        case 'Patient':
          return personToPatient(await persons.get(ctx, id));
        case 'CarePlan':
          return reads.read(journal(ctx, now), async (reader, audit) => {
            const plan = await loadPlan(reader, ctx, id, now, 'overview', new Set(['CarePlan']));
            audit(plan.context, plan.entries);
            return carePlanOf(id, plan);
          });
        case 'CareTeam':
          return reads.read(journal(ctx, now), async (reader, audit) => {
            const { context, auditActor } = await granted(reader, ctx, id, now, { kind: 'read', category: 'team' }, type, id);
            const rows = await listMembers(reader, id, { includeEnded: true, limit: PLAN_LIMITS.team });
            const person = await findPerson(reader, id);
            audit(context, [entry(id, auditActor, 'list', 'team')]);
            return membersToCareTeam(id, rows.map((r) => memberRowToTeamMember(r, false, now)), person!.created_at.toISOString());
          });
        case 'Goal': {
          const owner = await repo.goalOwner(db, id);
          if (!owner) throw unknownResource(type, id);
          return owner.kind === 'life_goal'
            ? lifeGoalToGoal(await goals.getLifeGoal(ctx, owner.personId, id))
            : careGoalToGoal(await goals.getCareGoal(ctx, owner.personId, id));
        }
        case 'Task': {
          const personId = await repo.ownerOf(db, 'task', id);
          if (!personId) throw unknownResource(type, id);
          return taskToTask(await tasks.getTask(ctx, personId, id));
        }
        case 'Communication': {
          const personId = await repo.ownerOf(db, 'note', id);
          if (!personId) throw unknownResource(type, id);
          return noteToCommunication(await notes.get(ctx, personId, id));
        }
        case 'DocumentReference':
          return safetyPlanToDocumentReference(await careDocuments.get(ctx, 'safety_plan', id));
        case 'Appointment': {
          const personId = await repo.meetingOwner(db, id);
          if (!personId) throw unknownResource(type, id);
          return meetingToAppointment(await meetings.get(ctx, personId, id));
        }
        case 'RelatedPerson':
          return readRelatedPerson(ctx, id, now);
      }
    },

    /** Every version, newest first, a page at a time (`after` is the version to continue below). */
    async history(ctx: RequestContext, type: VersionedType, id: string, params: { _count?: number; _cursor?: string }): Promise<SearchResult> {
      const count = params._count ?? DEFAULT_COUNT;
      const after = decodeCursor(params._cursor);
      if (after !== undefined && !/^\d{1,9}$/.test(after)) throw badRequest('_cursor is not a cursor from this history.');
      const all = (await versionsOf(ctx, type, id)).reverse();
      const rest = after === undefined ? all : all.filter((r) => Number(r.meta!.versionId) < Number(after));
      const shown = rest.slice(0, count);
      return { resources: shown, total: all.length, next: rest.length > count ? encodeCursor(shown[shown.length - 1]!.meta!.versionId!) : undefined };
    },

    async vread(ctx: RequestContext, type: VersionedType, id: string, version: string): Promise<Resource> {
      if (!/^[0-9a-f]{1,16}$/.test(version)) throw unknownResource(type, `${id}/_history/${version}`);
      // A version of a note or a care document is read through its /v1 version read.
      if (type === 'Communication' && isUuid(id)) {
        const personId = await repo.ownerOf(db, 'note', id);
        if (!personId) throw unknownResource(type, id);
        const note = await notes.get(ctx, personId, id);
        return noteVersionToCommunication(note, await notes.version(ctx, personId, id, Number(version)));
      }
      if (type === 'DocumentReference' && isUuid(id)) {
        return safetyPlanToDocumentReference(await careDocuments.version(ctx, 'safety_plan', id, Number(version)).catch(rethrowAs404(type, id)));
      }
      const wish = type === 'Consent' ? WISH_ID.exec(id) : null;
      if (wish) {
        const position = Number(wish[2]);
        const wishes = await careDocuments.version(ctx, 'wishes', wish[1]!.toLowerCase(), Number(version)).catch(rethrowAs404(type, id));
        if (position > wishes.statements.length) throw unknownResource(type, id);
        return wishToConsent(wishes, position);
      }
      const found = (await versionsOf(ctx, type, id)).find((r) => r.meta?.versionId === version);
      if (!found) throw unknownResource(type, `${id}/_history/${version}`);
      return found;
    },

    async search(ctx: RequestContext, type: FhirType, params: SearchParams): Promise<SearchResult> {
      const count = params._count ?? DEFAULT_COUNT;
      const updated = parseLastUpdated(params._lastUpdated);
      const after = decodeCursor(params._cursor);
      const ids = params._id?.split(',').map((s) => s.trim()).filter((s) => s !== '');
      const now = clock();
      const empty: SearchResult = { resources: [] };
      // SQL pages by id: a cursor that is not one is refused, and ids that cannot be Kring's match nothing.
      const sqlWindow = (): repo.SearchWindow => {
        if (after !== undefined && !isUuid(after)) throw badRequest('_cursor is not a cursor from this search.');
        return { updated, afterId: after, limit: count + 1, ...(ids ? { ids: ids.filter(isUuid) } : {}) };
      };

      if (type === 'Patient') {
        let identifier: { system: string; value: string } | undefined;
        if (params.identifier !== undefined) {
          const bar = params.identifier.indexOf('|');
          const system = bar < 0 ? undefined : params.identifier.slice(0, bar);
          const value = bar < 0 ? params.identifier : params.identifier.slice(bar + 1);
          // Only INSZ/BIS numbers have a system Kring stores; any other system matches nothing.
          if (system !== SYSTEMS.ssin || value === '') return empty;
          identifier = { system: 'insz', value };
        }
        const window = sqlWindow();
        if (window.ids?.length === 0) return empty;
        const only = window.ids?.length === 1 ? window.ids[0]! : undefined;
        if (only !== undefined) {
          // `_id` naming one person: at most that person is listed, so a read journal read of that
          // person, on the access context loaded first (what the entry is decided on).
          return reads.read(journal(ctx, now), async (reader, audit) => {
            const context = await loadAccessContext(reader, ctx.actor, only, now);
            const rows = await repo.searchPersons(reader, ctx.actor, now, { ids: [only], identifier }, window);
            const decision = decide(context, { kind: 'read', category: 'profile' });
            const listed = rows.length > 0 && decision.allowed;
            audit(context, listed ? [entry(only, auditActorFor(context, decision.relation), 'list', 'person', only)] : []);
            return { resources: rows.map((r) => personToPatient(personRowToPerson(r))) };
          });
        }
        // Any other Patient search may list many persons and audits each of them, which a read
        // journal read (one person per read) cannot: it stays one transaction, as GET /v1/persons.
        return inTransaction(db, async (trx) => {
          const rows = await repo.searchPersons(trx, ctx.actor, now, { ids: window.ids, identifier }, window);
          const page = paged(rows.map((r) => ({ id: r.person_id, row: r })), count);
          // Audited like GET /v1/persons: one entry per person listed, with the caller's strongest allowing relation.
          const entries: AuditRecord[] = [];
          for (const { row } of page.resources) {
            const context = await loadAccessContext(trx, ctx.actor, row.person_id, now);
            const decision = decide(context, { kind: 'read', category: 'profile' });
            if (decision.allowed) entries.push({ personId: row.person_id, actor: auditActorFor(context, decision.relation), action: 'list', resourceType: 'person', resourceId: row.person_id });
          }
          await appendJournal(trx, journal(ctx, now), entries);
          return { resources: page.resources.map(({ row }) => personToPatient(personRowToPerson(row))), next: page.next };
        });
      }

      if (params.patient === undefined) {
        throw badRequest(`Searching ${type} needs the patient parameter; searching across plans is not supported yet.`);
      }
      const personId = patientId(params.patient);
      if (!personId) return empty;
      const statuses = codes(params.status);
      const memory = (resources: Resource[], extra?: (r: Resource) => boolean) => pageInMemory(resources, { ids, updated, statuses, after, count, extra });

      /** The search within one plan; its audit entries go to `entries`. */
      const searchPlan = async (reader: Kysely<DB>, context: AccessContext, entries: AuditRecord[]): Promise<SearchResult> => {
        // No relation: an empty Bundle, never a hint that the person exists.
        if (context.relations.length === 0) return empty;
        const allowed = (category: Category) => {
          const decision = decide(context, { kind: 'read', category });
          return decision.allowed ? auditActorFor(context, decision.relation) : undefined;
        };
        const list = (actor: AuditActor, ...resourceTypes: string[]) => {
          entries.push(...resourceTypes.map((resourceType) => entry(personId, actor, 'list', resourceType)));
        };

        switch (type) {
          case 'CarePlan': {
            const filter = noteFilter(context);
            const mayOpen = (['profile', 'team', 'goals', 'tasks'] as const).some((c) => permits(context, { kind: 'read', category: c })) || filter?.kind === 'visible';
            if (!mayOpen) return empty;
            const plan = await loadPlan(reader, ctx, personId, now, 'overview', new Set(['CarePlan']), context);
            entries.push(...plan.entries);
            return memory([carePlanOf(personId, plan)]);
          }
          case 'CareTeam': {
            const actor = allowed('team');
            if (!actor) return empty;
            const rows = await listMembers(reader, personId, { includeEnded: true, limit: PLAN_LIMITS.team });
            const person = await findPerson(reader, personId);
            list(actor, 'team');
            return memory([membersToCareTeam(personId, rows.map((r) => memberRowToTeamMember(r, false, now)), person!.created_at.toISOString())]);
          }
          case 'Goal': {
            const actor = allowed('goals');
            if (!actor) return empty;
            const window = sqlWindow();
            if (window.ids?.length === 0) return empty;
            const category = tokens(params.category);
            const wantsLife = !category || category.some((c) => c.code === 'what-matters' && (c.system === undefined || c.system === SYSTEMS.pco));
            const wantsCare = !category || category.some((c) => c.code === 'care-goal' && (c.system === undefined || c.system === SYSTEMS.goalKind));
            const filters: repo.GoalFilters = { lifeStatuses: translate(params['lifecycle-status'], LIFE_GOAL_STATUS), careStatuses: translate(params['lifecycle-status'], CARE_GOAL_STATUS) };
            const life = wantsLife && filters.lifeStatuses?.length !== 0 ? (await repo.searchLifeGoals(reader, personId, window, filters)).map((r) => lifeGoalToGoal(lifeGoalRowToLifeGoal(r))) : [];
            const care = wantsCare && filters.careStatuses?.length !== 0 ? (await repo.searchCareGoals(reader, personId, window, filters)).map((r) => careGoalToGoal(careGoalRowToCareGoal(r))) : [];
            // Both kinds in one id order (ids are unique across both), so one cursor pages through them.
            const merged = [...life, ...care].sort((a, b) => (a.id! < b.id! ? -1 : 1)).slice(0, count + 1);
            list(actor, 'life_goal', 'care_goal');
            return paged(merged, count);
          }
          case 'Task': {
            const actor = allowed('tasks');
            if (!actor) return empty;
            const window = sqlWindow();
            const taskStatuses = translate(params.status, TASK_STATUS);
            const owner = params.owner === undefined ? undefined : params.owner.slice(params.owner.lastIndexOf('/') + 1).replace(/^.*\|/, '');
            if (window.ids?.length === 0 || taskStatuses?.length === 0 || (owner !== undefined && !isUuid(owner))) return empty;
            const rows = await repo.searchTasks(reader, personId, window, { statuses: taskStatuses, assigneeMemberId: owner });
            // The owner's kind and name only for a caller who may read the team.
            const members = permits(context, { kind: 'read', category: 'team' })
              ? new Map((await findMembers(reader, personId, [...new Set(rows.map((r) => r.assignee_member_id))])).map((m) => [m.member_id, memberRowToTeamMember(m, false, now)]))
              : new Map<string, TeamMember>();
            list(actor, 'task');
            return paged(rows.map((r) => taskToTask(taskRowToTask(r), members.get(r.assignee_member_id))), count);
          }
          case 'Communication': {
            const filter = noteFilter(context);
            if (!filter) return empty;
            // As GET /v1 notes: a revoked or ended member still lists the notes they wrote themselves.
            const decision = decide(context, filter.kind === 'own' ? { kind: 'read_own_notes' } : { kind: 'read', category: 'notes' });
            if (!decision.allowed) return empty;
            const window = sqlWindow();
            const sent = parseLastUpdated(params.sent, 'sent');
            const wanted = statuses?.filter((s) => s === 'completed' || s === 'entered-in-error');
            if (window.ids?.length === 0 || wanted?.length === 0) return empty;
            const retracted = wanted === undefined || wanted.length === 2 ? undefined : wanted[0] === 'entered-in-error';
            const rows = await repo.searchNotes(reader, personId, filter, window, { retracted, sent });
            list(auditActorFor(context, decision.relation), 'note');
            return paged(rows.map((r) => noteToCommunication(noteRowToNote(r))), count);
          }
          case 'Consent': {
            // Grants to controllers only (as GET /v1 grants); wishes to whoever reads wishes.
            const control = decide(context, { kind: 'control' });
            const wishesActor = allowed('wishes');
            const scopes = codes(params.scope);
            const resources: Resource[] = [];
            if (control.allowed && (!scopes || scopes.includes('patient-privacy'))) {
              const rows = await repo.grantsWithMembers(reader, personId, { limit: PLAN_LIMITS.grants });
              resources.push(...grantViews(rows, now).map(grantToConsent));
              list(auditActorFor(context, control.relation), 'grant');
            }
            if (wishesActor && (!scopes || scopes.includes('adr'))) {
              const row = await findCareDocument(reader, personId, 'wishes');
              if (row) {
                resources.push(...wishConsents(careDocumentRowToDocument('wishes', row)));
                entries.push(entry(personId, wishesActor, 'read', 'wishes', personId));
              }
            }
            return memory(resources);
          }
          case 'DocumentReference': {
            const actor = allowed('safety_plan');
            if (!actor) return empty;
            const row = await findCareDocument(reader, personId, 'safety_plan');
            if (!row) return empty;
            entries.push(entry(personId, actor, 'read', 'safety_plan', personId));
            return memory([safetyPlanToDocumentReference(careDocumentRowToDocument('safety_plan', row))]);
          }
          case 'Appointment': {
            const actor = allowed('meetings');
            if (!actor) return empty;
            const dates = parseLastUpdated(params.date, 'date');
            const rows = await repo.allMeetings(reader, personId, PLAN_LIMITS.meetings);
            const members = permits(context, { kind: 'read', category: 'team' })
              ? new Map((await findMembers(reader, personId, [...new Set(rows.flatMap((r) => r.participant_member_ids))])).map((m) => [m.member_id, memberRowToTeamMember(m, false, now)]))
              : new Map<string, TeamMember>();
            list(actor, 'meeting');
            return memory(rows.map((r) => meetingToAppointment(meetingRowToMeeting(r), members)), (r) => withinBounds((r as { start?: string }).start, dates));
          }
          case 'RelatedPerson': {
            const actor = allowed('team');
            if (!actor) return empty;
            const rows = await listRepresentatives(reader, personId, { includeEnded: true, limit: PLAN_LIMITS.representatives });
            list(actor, 'representative');
            return memory(rows.map((r) => representativeToRelatedPerson(representativeRowToRepresentative(r), now)));
          }
          case 'Provenance': {
            const plan = await loadPlan(reader, ctx, personId, now, 'parts', new Set(['Provenance']), context).catch((error: unknown) => {
              // A caller who may open no part of the plan finds nothing, as in every search.
              if ((error as { status?: number }).status === 403) return undefined;
              throw error;
            });
            entries.push(...(plan?.entries ?? []));
            return memory(plan?.provenance ?? []);
          }
        }
      };

      // One plan's search: one read journal read, its entries recorded once, after the data is read.
      return reads.read(journal(ctx, now), async (reader, audit) => {
        const context = await loadAccessContext(reader, ctx.actor, personId, now);
        const entries: AuditRecord[] = [];
        const result = await searchPlan(reader, context, entries);
        audit(context, entries);
        return result;
      });
    },

    /** Patient/{id}/$everything: every resource of the plan the caller may read (Tasks included), filtered like the overview. */
    async everything(ctx: RequestContext, personId: string, params: EverythingParams): Promise<SearchResult> {
      if (!isUuid(personId)) throw unknownResource('Patient', personId);
      const requested = params._type?.split(',').map((s) => s.trim());
      const unknown = requested?.filter((t) => !(FHIR_TYPES as readonly string[]).includes(t)) ?? [];
      if (unknown.length > 0) throw badRequest(`_type lists types this server does not serve: ${unknown.join(', ')}.`);
      const wanted = new Set<FhirType>((requested as FhirType[] | undefined) ?? FHIR_TYPES);
      if (params._since !== undefined && !/T/.test(params._since)) throw badRequest('_since is an instant (a date with a time and a zone).');
      const since = params._since === undefined ? [] : parseLastUpdated(`ge${params._since}`, '_since');
      const after = decodeCursor(params._cursor);
      const count = params._count ?? DEFAULT_COUNT;
      const now = clock();
      const plan = await reads.read(journal(ctx, now), async (reader, audit) => {
        const loaded = await loadPlan(reader, ctx, personId, now, 'parts', wanted);
        audit(loaded.context, loaded.entries);
        return loaded;
      });
      // One order for every page: the type's place in the CapabilityStatement, then its sort key.
      const keyed = planResources(personId, plan, wanted)
        .filter((r) => withinBounds(r.meta?.lastUpdated, since))
        .map((r) => ({ key: `${String(TYPE_ORDER.indexOf(r.resourceType as FhirType)).padStart(2, '0')}:${sortKey(r)}`, r }))
        .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
      const rest = after === undefined ? keyed : keyed.filter((k) => k.key > after);
      const shown = rest.slice(0, count);
      return {
        resources: shown.map((k) => k.r),
        total: keyed.length,
        next: rest.length > count ? encodeCursor(shown[shown.length - 1]!.key) : undefined,
        outcome:
          plan.truncated.length > 0 && after === undefined
            ? operationOutcome('too-costly', `The plan is larger than one answer holds; cut: ${[...new Set(plan.truncated)].join(', ')}.`, 'warning')
            : undefined,
      };
    },
  };
}

/** A service's 404 (no such version, no such document) as the one FHIR answer for unknown ids. */
function rethrowAs404(type: string, id: string) {
  return (error: unknown): never => {
    if ((error as { status?: number }).status === 404) throw unknownResource(type, id);
    throw error;
  };
}

export type FhirService = ReturnType<typeof createFhirService>;
