// SQL the FHIR facade needs beyond the modules' own lists: which plan an id belongs to, and searches by last change, over the same tables and column sets.
import { sql, type AliasedExpression, type Kysely } from 'kysely';
import { jsonArrayFrom } from 'kysely/helpers/postgres';
import { reviveRows, type RowKind } from '../../db/json-rows.js';
import type { DB } from '../../db/types.js';
import type { NoteFilter } from '../access/access.policy.js';
import { readablePersonIds } from '../access/access.repository.js';
import type { Actor } from '../access/access.types.js';
import { careDocumentQuery, type CareDocumentRow } from '../care-documents/care-documents.repository.js';
import { careGoalColumns, careGoalsQuery, lifeGoalsQuery, type CareGoalRow, type LifeGoalRow } from '../goals/goals.repository.js';
import type { VersionRow } from '../history/history.repository.js';
import type { MeetingRow } from '../meetings/meetings.repository.js';
import { notesQuery, visibleTo, withCurrentBody, type NoteRow } from '../notes/notes.repository.js';
import { personQuery, type PersonRow } from '../persons/persons.repository.js';
import { taskColumns, tasksQuery, type TaskRow } from '../tasks/tasks.repository.js';
import { membersQuery, representativesQuery, type MemberRow, type RepresentativeRow } from '../team/team.repository.js';

/** One bound of `_lastUpdated` (FHIR prefixes gt/ge/lt/le as comparison operators). */
export interface UpdatedBound {
  op: '>' | '>=' | '<' | '<=';
  at: Date;
}

/** A search page: the person's items changed within the bounds, in id (creation) order after `afterId`. */
export interface SearchWindow {
  updated: UpdatedBound[];
  afterId?: string;
  limit: number;
  /** `_id`: only these ids. */
  ids?: string[];
}

/** Filters of one type's own search parameters, already translated into Kring's values. */
export interface GoalFilters {
  lifeStatuses?: string[];
  careStatuses?: string[];
}
export interface TaskFilters {
  statuses?: string[];
  assigneeMemberId?: string;
}
export interface NoteFilters {
  retracted?: boolean;
  sent: UpdatedBound[];
}

/** The person a task, note, life goal or care goal belongs to; undefined for an unknown id. */
export async function ownerOf(db: Kysely<DB>, kind: 'task' | 'note' | 'life_goal' | 'care_goal', id: string): Promise<string | undefined> {
  const row =
    kind === 'task'
      ? await db.selectFrom('tasks').select('person_id').where('task_id', '=', id).executeTakeFirst()
      : kind === 'note'
        ? await db.selectFrom('notes').select('person_id').where('note_id', '=', id).executeTakeFirst()
        : kind === 'life_goal'
          ? await db.selectFrom('life_goals').select('person_id').where('life_goal_id', '=', id).executeTakeFirst()
          : await db.selectFrom('care_goals').select('person_id').where('care_goal_id', '=', id).executeTakeFirst();
  return row?.person_id;
}

/** A Goal id is a life goal's or a care goal's (both are time-ordered UUIDs, never shared). */
export async function goalOwner(db: Kysely<DB>, id: string): Promise<{ personId: string; kind: 'life_goal' | 'care_goal' } | undefined> {
  const row = await db
    .selectFrom('life_goals')
    .select(['person_id', sql<'life_goal' | 'care_goal'>`'life_goal'`.as('kind')])
    .where('life_goal_id', '=', id)
    .unionAll(db.selectFrom('care_goals').select(['person_id', sql<'life_goal' | 'care_goal'>`'care_goal'`.as('kind')]).where('care_goal_id', '=', id))
    .executeTakeFirst();
  return row ? { personId: row.person_id, kind: row.kind } : undefined;
}

export async function searchLifeGoals(db: Kysely<DB>, personId: string, window: SearchWindow, filters: GoalFilters = {}): Promise<LifeGoalRow[]> {
  let query = db.selectFrom('life_goals').selectAll().where('person_id', '=', personId);
  if (filters.lifeStatuses) query = query.where('status', 'in', filters.lifeStatuses);
  if (window.ids) query = query.where('life_goal_id', 'in', window.ids);
  for (const b of window.updated) query = query.where('updated_at', b.op, b.at);
  if (window.afterId) query = query.where('life_goal_id', '>', window.afterId);
  return query.orderBy('life_goal_id').limit(window.limit).execute();
}

export async function searchCareGoals(db: Kysely<DB>, personId: string, window: SearchWindow, filters: GoalFilters = {}): Promise<CareGoalRow[]> {
  let query = careGoalColumns(db).where('c.person_id', '=', personId);
  if (filters.careStatuses) query = query.where('c.status', 'in', filters.careStatuses);
  if (window.ids) query = query.where('c.care_goal_id', 'in', window.ids);
  for (const b of window.updated) query = query.where('c.updated_at', b.op, b.at);
  if (window.afterId) query = query.where('c.care_goal_id', '>', window.afterId);
  return query.orderBy('c.care_goal_id').limit(window.limit).execute() as Promise<CareGoalRow[]>;
}

export async function searchTasks(db: Kysely<DB>, personId: string, window: SearchWindow, filters: TaskFilters = {}): Promise<TaskRow[]> {
  let query = taskColumns(db).where('t.person_id', '=', personId);
  if (filters.statuses) query = query.where('t.status', 'in', filters.statuses);
  if (filters.assigneeMemberId) query = query.where('t.assignee_member_id', '=', filters.assigneeMemberId);
  if (window.ids) query = query.where('t.task_id', 'in', window.ids);
  for (const b of window.updated) query = query.where('t.updated_at', b.op, b.at);
  if (window.afterId) query = query.where('t.task_id', '>', window.afterId);
  return query.orderBy('t.task_id').limit(window.limit).execute();
}

/** Notes the filter lets the caller read (the access policy decided it), oldest first so a sync can page forward. */
export async function searchNotes(db: Kysely<DB>, personId: string, filter: NoteFilter, window: SearchWindow, filters: NoteFilters = { sent: [] }): Promise<NoteRow[]> {
  let query = withCurrentBody(db).where('n.person_id', '=', personId).where(visibleTo(filter));
  if (filters.retracted !== undefined) query = query.where('n.retracted_at', filters.retracted ? 'is not' : 'is', null);
  for (const b of filters.sent) query = query.where('n.created_at', b.op, b.at);
  if (window.ids) query = query.where('n.note_id', 'in', window.ids);
  for (const b of window.updated) query = query.where('n.updated_at', b.op, b.at);
  if (window.afterId) query = query.where('n.note_id', '>', window.afterId);
  return query.orderBy('n.note_id').limit(window.limit).execute();
}

/** Persons whose profile the caller may read, filtered inside SQL like GET /v1/persons, narrowed by id or identifier. */
export async function searchPersons(
  db: Kysely<DB>,
  actor: Actor,
  now: Date,
  filters: { ids?: string[]; identifier?: { system: string; value: string } },
  window: SearchWindow,
): Promise<PersonRow[]> {
  let query = db.selectFrom('persons').selectAll().where('person_id', 'in', readablePersonIds(db, actor, now, 'profile'));
  if (filters.ids) query = query.where('person_id', 'in', filters.ids);
  if (filters.identifier) {
    query = query.where('identifier_system', '=', filters.identifier.system).where('identifier_value', '=', filters.identifier.value);
  }
  for (const b of window.updated) query = query.where('updated_at', b.op, b.at);
  if (window.afterId) query = query.where('person_id', '>', window.afterId);
  return query.orderBy('person_id').limit(window.limit).execute();
}

/** The query of grantsWithMembers, unexecuted (the plan's one statement nests it). */
export function grantsWithMembersQuery(db: Kysely<DB>, personId: string, options: { memberId?: string; limit: number }) {
  let query = db
    .selectFrom('grants as g')
    .innerJoin('care_team_members as m', (join) => join.onRef('m.person_id', '=', 'g.person_id').onRef('m.member_id', '=', 'g.member_id'))
    .selectAll('g')
    .select(['m.display_name as member_display_name', 'm.kind as member_kind', 'm.ended_at as member_ended_at'])
    .where('g.person_id', '=', personId);
  if (options.memberId) query = query.where('g.member_id', '=', options.memberId);
  return query.orderBy('g.grant_id').limit(options.limit);
}

/** A person's grant records with the member's kind and end, oldest first (a member's later record supersedes the earlier). */
export async function grantsWithMembers(db: Kysely<DB>, personId: string, options: { memberId?: string; limit: number }) {
  return grantsWithMembersQuery(db, personId, options).execute();
}
export type GrantWithMemberRow = Awaited<ReturnType<typeof grantsWithMembers>>[number];

export async function grantMemberId(db: Kysely<DB>, grantId: string): Promise<{ personId: string; memberId: string } | undefined> {
  const row = await db.selectFrom('grants').select(['person_id', 'member_id']).where('grant_id', '=', grantId).executeTakeFirst();
  return row ? { personId: row.person_id, memberId: row.member_id } : undefined;
}

export async function representativeOwner(db: Kysely<DB>, id: string): Promise<string | undefined> {
  return (await db.selectFrom('representatives').select('person_id').where('representative_id', '=', id).executeTakeFirst())?.person_id;
}

export async function meetingOwner(db: Kysely<DB>, id: string): Promise<string | undefined> {
  return (await db.selectFrom('meetings').select('person_id').where('meeting_id', '=', id).executeTakeFirst())?.person_id;
}

/** The query of allMeetings, unexecuted (the plan's one statement nests it). */
export function allMeetingsQuery(db: Kysely<DB>, personId: string, limit: number) {
  return db.selectFrom('meetings').selectAll().where('person_id', '=', personId).orderBy('meeting_id').limit(limit);
}

export async function allMeetings(db: Kysely<DB>, personId: string, limit: number): Promise<MeetingRow[]> {
  return allMeetingsQuery(db, personId, limit).execute();
}

/** The query of versionsOf, unexecuted; no kinds matches nothing (`in ()` is not SQL). */
export function versionsQuery(db: Kysely<DB>, personId: string, kinds: string[], limit: number) {
  let query = db.selectFrom('resource_versions').selectAll().where('person_id', '=', personId);
  query = kinds.length === 0 ? query.where(sql<boolean>`false`) : query.where('resource_type', 'in', kinds);
  return query.orderBy('resource_type').orderBy('resource_id').orderBy('version').limit(limit);
}

/** Every version of the given kinds of a person's resources (one query), in resource and version order. */
export async function versionsOf(db: Kysely<DB>, personId: string, kinds: string[], limit: number): Promise<VersionRow[]> {
  if (kinds.length === 0) return [];
  return versionsQuery(db, personId, kinds, limit).execute();
}

/** The query of noteVersionsVisible, unexecuted (the plan's one statement nests it). */
export function noteVersionsVisibleQuery(db: Kysely<DB>, personId: string, filter: NoteFilter, limit: number, noteId?: string) {
  let query = db
    .selectFrom('note_versions as nv')
    .innerJoin('notes as n', (join) => join.onRef('n.person_id', '=', 'nv.person_id').onRef('n.note_id', '=', 'nv.note_id'))
    .leftJoin('care_team_members as m', (join) => join.onRef('m.person_id', '=', 'n.person_id').onRef('m.member_id', '=', 'n.author_member_id'))
    .select(['nv.note_id', 'nv.version', 'nv.body', 'nv.phase', 'nv.retracted', 'nv.created_at', 'n.author_name', 'n.author_role', 'n.author_member_id', 'm.display_name as member_display_name'])
    .where('nv.person_id', '=', personId)
    .where(visibleTo(filter));
  if (noteId) query = query.where('nv.note_id', '=', noteId);
  return query.orderBy('nv.note_id').orderBy('nv.version').limit(limit);
}

/** Every version of the notes the filter lets the caller read, with each note's author (one query). */
export async function noteVersionsVisible(db: Kysely<DB>, personId: string, filter: NoteFilter, limit: number, noteId?: string) {
  return noteVersionsVisibleQuery(db, personId, filter, limit, noteId).execute();
}
export type NoteVersionWithAuthorRow = Awaited<ReturnType<typeof noteVersionsVisible>>[number];

// ------------------------------------------------------------------ a plan in one statement

type PlanPart = keyof PlanPartRows;
// null, not undefined, for a part not loaded: PlanPartRows says so.
const revive = <T>(rows: Array<Record<string, unknown>> | undefined, kind: RowKind): T[] | null => reviveRows<T>(rows, kind) ?? null;

/**
 * Which parts of a plan to load (the caller's access and the asked types decided them), each
 * with the most rows to read; null (false) for a part not wanted. The person is always read.
 */
export interface PlanParts {
  team: number | null;
  lifeGoals: number | null;
  careGoals: number | null;
  tasks: number | null;
  notes: { filter: NoteFilter; limit: number } | null;
  meetings: number | null;
  grants: number | null;
  representatives: number | null;
  wishes: boolean;
  safetyPlan: boolean;
  versions: { kinds: string[]; limit: number } | null;
  noteVersions: { filter: NoteFilter; limit: number } | null;
}

export interface PlanPartRows {
  person: PersonRow | undefined;
  team: MemberRow[] | null;
  lifeGoals: LifeGoalRow[] | null;
  careGoals: CareGoalRow[] | null;
  tasks: TaskRow[] | null;
  notes: NoteRow[] | null;
  meetings: MeetingRow[] | null;
  grants: GrantWithMemberRow[] | null;
  representatives: RepresentativeRow[] | null;
  wishes: CareDocumentRow | undefined;
  safetyPlan: CareDocumentRow | undefined;
  versions: VersionRow[] | null;
  noteVersions: NoteVersionWithAuthorRow[] | null;
}

/**
 * The wanted parts of a person's plan in one statement (one round trip instead of one per part),
 * each part the query its own list runs, nested as a JSON array (ORDER BY and LIMIT hold inside).
 * The rows are those the lists answer: timestamps revived into Dates; dates, numbers, arrays and
 * jsonb come through JSON unchanged.
 */
export async function loadPlanParts(db: Kysely<DB>, personId: string, wanted: PlanParts): Promise<PlanPartRows> {
  const parts: Array<AliasedExpression<unknown, PlanPart>> = [jsonArrayFrom(personQuery(db, personId)).as('person')];
  if (wanted.team !== null) parts.push(jsonArrayFrom(membersQuery(db, personId, { includeEnded: true, limit: wanted.team })).as('team'));
  if (wanted.lifeGoals !== null) parts.push(jsonArrayFrom(lifeGoalsQuery(db, personId, { limit: wanted.lifeGoals })).as('lifeGoals'));
  if (wanted.careGoals !== null) parts.push(jsonArrayFrom(careGoalsQuery(db, personId, { limit: wanted.careGoals })).as('careGoals'));
  if (wanted.tasks !== null) parts.push(jsonArrayFrom(tasksQuery(db, personId, { limit: wanted.tasks })).as('tasks'));
  if (wanted.notes) parts.push(jsonArrayFrom(notesQuery(db, personId, wanted.notes.filter, { limit: wanted.notes.limit })).as('notes'));
  if (wanted.meetings !== null) parts.push(jsonArrayFrom(allMeetingsQuery(db, personId, wanted.meetings)).as('meetings'));
  if (wanted.grants !== null) parts.push(jsonArrayFrom(grantsWithMembersQuery(db, personId, { limit: wanted.grants })).as('grants'));
  if (wanted.representatives !== null) {
    parts.push(jsonArrayFrom(representativesQuery(db, personId, { includeEnded: true, limit: wanted.representatives })).as('representatives'));
  }
  if (wanted.wishes) parts.push(jsonArrayFrom(careDocumentQuery(db, personId, 'wishes')).as('wishes'));
  if (wanted.safetyPlan) parts.push(jsonArrayFrom(careDocumentQuery(db, personId, 'safety_plan')).as('safetyPlan'));
  if (wanted.versions) parts.push(jsonArrayFrom(versionsQuery(db, personId, wanted.versions.kinds, wanted.versions.limit)).as('versions'));
  if (wanted.noteVersions) {
    parts.push(jsonArrayFrom(noteVersionsVisibleQuery(db, personId, wanted.noteVersions.filter, wanted.noteVersions.limit)).as('noteVersions'));
  }
  const found = (await db.selectNoFrom(parts).executeTakeFirstOrThrow()) as Partial<Record<PlanPart, Array<Record<string, unknown>>>>;
  return {
    person: revive<PersonRow>(found.person, 'person')?.[0],
    team: revive<MemberRow>(found.team, 'team'),
    lifeGoals: revive<LifeGoalRow>(found.lifeGoals, 'lifeGoals'),
    careGoals: revive<CareGoalRow>(found.careGoals, 'careGoals'),
    tasks: revive<TaskRow>(found.tasks, 'tasks'),
    notes: revive<NoteRow>(found.notes, 'notes'),
    meetings: revive<MeetingRow>(found.meetings, 'meetings'),
    grants: revive<GrantWithMemberRow>(found.grants, 'grants'),
    representatives: revive<RepresentativeRow>(found.representatives, 'representatives'),
    wishes: revive<CareDocumentRow>(found.wishes, 'careDocuments')?.[0],
    safetyPlan: revive<CareDocumentRow>(found.safetyPlan, 'careDocuments')?.[0],
    versions: revive<VersionRow>(found.versions, 'versions'),
    noteVersions: revive<NoteVersionWithAuthorRow>(found.noteVersions, 'noteVersions'),
  };
}
