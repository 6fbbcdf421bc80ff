// The FHIR R4 facade's reads: single resources through the /v1 services (their access check and audit entry), searches and $everything through the access module and the repositories, audited like the /v1 lists.
import type { Bundle, BundleEntry, Resource } from '@medplum/fhirtypes';
import type { Kysely, Transaction } from 'kysely';
import type { DB } from '../../db/types.js';
import { inTransaction } from '../../db/transaction.js';
import type { Clock, RequestContext } from '../../lib/context.js';
import { badRequest, forbidden, notFound } from '../../lib/errors.js';
import { auditActorFor, decide, noteFilter, strongestRelation } from '../access/access.policy.js';
import { loadAccessContext } from '../access/access.repository.js';
import { permits } from '../access/access.service.js';
import type { AccessContext, Category } from '../access/access.types.js';
import { listCareGoals, listLifeGoals } from '../goals/goals.repository.js';
import { careGoalRowToCareGoal, lifeGoalRowToLifeGoal, type GoalsService } from '../goals/goals.service.js';
import { appendJournal } from '../journal/journal.repository.js';
import type { AuditRecord } from '../journal/journal.types.js';
import { listNotes } from '../notes/notes.repository.js';
import { noteRowToNote, type NotesService } from '../notes/notes.service.js';
import { findPerson, personRowToPerson } from '../persons/persons.repository.js';
import type { PersonsService } from '../persons/persons.service.js';
import { listTasks } from '../tasks/tasks.repository.js';
import { taskRowToTask, type TasksService } from '../tasks/tasks.service.js';
import { findMembers, listMembers } from '../team/team.repository.js';
import { memberRowToTeamMember } from '../team/team.service.js';
import type { TeamMember } from '../team/team.schemas.js';
import * as repo from './fhir.repository.js';
import {
  careGoalToGoal,
  lifeGoalToGoal,
  membersToCareTeam,
  noteToCommunication,
  operationOutcome,
  personToPatient,
  planToCarePlan,
  SYSTEMS,
  taskToTask,
} from './fhir.mappers.js';

export const FHIR_TYPES = ['Patient', 'CarePlan', 'CareTeam', 'Goal', 'Task', 'Communication'] as const;
export type FhirType = (typeof FHIR_TYPES)[number];

/** Search parameters after the route's schema accepted them (unknown ones never get here). */
export interface SearchParams {
  patient?: string;
  _id?: string;
  identifier?: string;
  _lastUpdated?: string | string[];
  _count?: number;
  _cursor?: string;
}

export interface SearchResult {
  resources: Resource[];
  /** The id to continue after, when there is a next page. */
  nextAfter?: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const isUuid = (id: string) => UUID.test(id);
const DEFAULT_COUNT = 50;
// A plan is bounded in practice; beyond these the answer says it was cut (an OperationOutcome entry).
const PLAN_LIMITS = { team: 500, lifeGoals: 500, careGoals: 2000, tasks: 2000, notes: 2000 };

/** One answer for unknown ids and ids the caller has no relation to: existence is never revealed. */
export const unknownResource = (type: string, id: string) => notFound(`${type}/${id} is not known.`);

// ---------------------------------------------------------------------------- parameters

const FHIR_DATE = /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:\d{2}))?)?)?$/;

/**
 * `_lastUpdated` values into SQL bounds. A value with a time is an instant; a year, month or day
 * is a range, and the prefix compares against that range (gt: after its end, le: before its end).
 */
export function parseLastUpdated(raw: string | string[] | undefined): repo.UpdatedBound[] {
  if (raw === undefined) return [];
  const values = Array.isArray(raw) ? raw : [raw];
  const bounds: repo.UpdatedBound[] = [];
  for (const value of values) {
    const match = /^(eq|gt|ge|lt|le)?(.+)$/.exec(value.trim());
    const parsed = match ? FHIR_DATE.exec(match[2]!) : null;
    const invalid = () => badRequest(`_lastUpdated "${value}" is not a FHIR date or instant with an optional eq/gt/ge/lt/le prefix.`);
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

// ---------------------------------------------------------------------------------- service

export interface FhirServiceDeps {
  db: Kysely<DB>;
  clock: Clock;
  persons: Pick<PersonsService, 'get'>;
  goals: Pick<GoalsService, 'getLifeGoal' | 'getCareGoal'>;
  tasks: Pick<TasksService, 'getTask'>;
  notes: Pick<NotesService, 'get'>;
}

/** What the caller may read of one plan, loaded in a fixed number of queries whatever its size. */
interface Plan {
  context: AccessContext;
  personCreatedAt: string;
  patient?: Resource;
  members: TeamMember[] | null;
  lifeGoals: ReturnType<typeof lifeGoalRowToLifeGoal>[] | null;
  careGoals: ReturnType<typeof careGoalRowToCareGoal>[] | null;
  tasks: ReturnType<typeof taskRowToTask>[] | null;
  notes: ReturnType<typeof noteRowToNote>[] | null;
  truncated: string[];
}

export function createFhirService({ db, clock, persons, goals, tasks, notes }: FhirServiceDeps) {
  const journal = (ctx: RequestContext, now: Date) => ({ requestId: ctx.requestId, now });

  /** The plan as the overview filters it: each part only when the caller's scopes allow it. */
  async function loadPlan(trx: Transaction<DB>, ctx: RequestContext, personId: string, now: Date, audit: 'overview' | 'parts'): Promise<Plan> {
    const context = await loadAccessContext(trx, ctx.actor, personId, now);
    const relation = strongestRelation(context);
    if (!relation) throw unknownResource('Patient', personId);
    const can = (category: Category) => permits(context, { kind: 'read', category });
    const filter = noteFilter(context);
    // As the overview: reading only one's own notes (a revoked or ended member) does not open the plan.
    if (!(['profile', 'team', 'goals', 'tasks'] as const).some(can) && filter?.kind !== 'visible') {
      throw forbidden('Your access to this plan does not include any part of it.');
    }
    const truncated: string[] = [];
    const cut = <T>(rows: T[], limit: number, part: string) => {
      if (rows.length <= limit) return rows;
      truncated.push(part);
      return rows.slice(0, limit);
    };
    const personRow = await findPerson(trx, personId);
    if (!personRow) throw unknownResource('Patient', personId);
    const memberRows = can('team') ? cut(await listMembers(trx, personId, { includeEnded: true, limit: PLAN_LIMITS.team + 1 }), PLAN_LIMITS.team, 'team') : null;
    const lifeRows = can('goals') ? cut(await listLifeGoals(trx, personId, { limit: PLAN_LIMITS.lifeGoals + 1 }), PLAN_LIMITS.lifeGoals, 'lifeGoals') : null;
    const careRows = can('goals') ? cut(await listCareGoals(trx, personId, { limit: PLAN_LIMITS.careGoals + 1 }), PLAN_LIMITS.careGoals, 'careGoals') : null;
    const taskRows = can('tasks') ? cut(await listTasks(trx, personId, { limit: PLAN_LIMITS.tasks + 1 }), PLAN_LIMITS.tasks, 'tasks') : null;
    const noteRows = filter?.kind === 'visible' ? cut(await listNotes(trx, personId, filter, { limit: PLAN_LIMITS.notes + 1 }), PLAN_LIMITS.notes, 'notes') : null;

    const actor = auditActorFor(context, relation);
    const entries: AuditRecord[] =
      audit === 'overview'
        ? [{ personId, actor, action: 'read', resourceType: 'overview', resourceId: personId }]
        : [
            ...(can('profile') ? [{ personId, actor, action: 'read' as const, resourceType: 'person', resourceId: personId }] : []),
            ...(memberRows ? [{ personId, actor, action: 'list' as const, resourceType: 'team' }] : []),
            ...(lifeRows ? [{ personId, actor, action: 'list' as const, resourceType: 'life_goal' }] : []),
            ...(careRows ? [{ personId, actor, action: 'list' as const, resourceType: 'care_goal' }] : []),
            ...(taskRows ? [{ personId, actor, action: 'list' as const, resourceType: 'task' }] : []),
            ...(noteRows ? [{ personId, actor, action: 'list' as const, resourceType: 'note' }] : []),
          ];
    await appendJournal(trx, journal(ctx, now), entries);
    return {
      context,
      personCreatedAt: personRow.created_at.toISOString(),
      patient: can('profile') ? personToPatient(personRowToPerson(personRow)) : undefined,
      // Grants are Consent resources (controllers only), not part of the team's FHIR view.
      members: memberRows?.map((r) => memberRowToTeamMember(r, false, now)) ?? null,
      lifeGoals: lifeRows?.map(lifeGoalRowToLifeGoal) ?? null,
      careGoals: careRows?.map(careGoalRowToCareGoal) ?? null,
      tasks: taskRows?.map(taskRowToTask) ?? null,
      notes: noteRows?.map(noteRowToNote) ?? null,
      truncated,
    };
  }

  const carePlanOf = (personId: string, plan: Plan) =>
    planToCarePlan({
      personId,
      createdAt: plan.personCreatedAt,
      hasTeam: plan.members !== null,
      goals: [...(plan.lifeGoals ?? []), ...(plan.careGoals ?? [])],
      tasks: plan.tasks ?? [],
    });

  const careTeamOf = (personId: string, plan: Plan) => membersToCareTeam(personId, plan.members ?? [], plan.personCreatedAt);

  function planTasks(plan: Plan) {
    const byId = new Map((plan.members ?? []).map((m) => [m.memberId, m]));
    return (plan.tasks ?? []).map((t) => taskToTask(t, byId.get(t.assigneeMemberId)));
  }

  /** The caller's relation and decision for a person-scoped search; undefined means an empty Bundle. */
  async function searchContext(trx: Transaction<DB>, ctx: RequestContext, personId: string, now: Date, category: Category) {
    const context = await loadAccessContext(trx, ctx.actor, personId, now);
    const decision = decide(context, { kind: 'read', category });
    // No relation, or a category the scopes leave out: "a member sees only the types their scopes allow".
    return decision.allowed ? { context, auditActor: auditActorFor(context, decision.relation) } : undefined;
  }

  /** Pages by id: fetch one more than asked, and continue after the last one shown. */
  function paged<T extends { id?: string }>(items: T[], count: number): { items: T[]; nextAfter?: string } {
    if (items.length <= count) return { items };
    const shown = items.slice(0, count);
    return { items: shown, nextAfter: shown[shown.length - 1]!.id };
  }

  return {
    async read(ctx: RequestContext, type: FhirType, id: string): Promise<Resource> {
      if (!isUuid(id)) throw unknownResource(type, id);
      const now = clock();
      switch (type) {
        case 'Patient':
          return personToPatient(await persons.get(ctx, id));
        case 'CarePlan':
          return inTransaction(db, async (trx) => carePlanOf(id, await loadPlan(trx, ctx, id, now, 'overview')));
        case 'CareTeam':
          return inTransaction(db, async (trx) => {
            const context = await loadAccessContext(trx, ctx.actor, id, now);
            const decision = decide(context, { kind: 'read', category: 'team' });
            if (!decision.allowed) throw decision.status === 404 ? unknownResource(type, id) : forbidden();
            const rows = await listMembers(trx, id, { includeEnded: true, limit: PLAN_LIMITS.team });
            const person = await findPerson(trx, id);
            await appendJournal(trx, journal(ctx, now), [{ personId: id, actor: auditActorFor(context, decision.relation), action: 'list', resourceType: 'team' }]);
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
      }
    },

    async search(ctx: RequestContext, type: FhirType, params: SearchParams): Promise<SearchResult> {
      const count = params._count ?? DEFAULT_COUNT;
      const updated = parseLastUpdated(params._lastUpdated);
      // The cursor is the last id shown; anything else is refused rather than silently restarting.
      if (params._cursor !== undefined && !isUuid(params._cursor)) throw badRequest('_cursor is not a cursor from this search.');
      const window: repo.SearchWindow = { updated, afterId: params._cursor, limit: count + 1 };
      const now = clock();

      if (type === 'Patient') {
        let identifier: { system: string; value: string } | undefined;
        if (params.identifier !== undefined) {
          const bar = params.identifier.indexOf('|');
          const system = bar < 0 ? undefined : params.identifier.slice(0, bar);
          const value = bar < 0 ? params.identifier : params.identifier.slice(bar + 1);
          // Only INSZ/BIS numbers have a system Kring stores; any other system matches nothing.
          if (system !== SYSTEMS.ssin || value === '') return { resources: [] };
          identifier = { system: 'insz', value };
        }
        const ids = params._id?.split(',').map((s) => s.trim());
        if (ids && ids.some((i) => !isUuid(i))) return { resources: [] };
        return inTransaction(db, async (trx) => {
          const rows = await repo.searchPersons(trx, ctx.actor, now, { ids, identifier }, window);
          const page = paged(rows.map((r) => ({ id: r.person_id, row: r })), count);
          // Audited like GET /v1/persons: one entry per person listed, with the caller's strongest allowing relation.
          const entries: AuditRecord[] = [];
          for (const { row } of page.items) {
            const context = await loadAccessContext(trx, ctx.actor, row.person_id, now);
            const decision = decide(context, { kind: 'read', category: 'profile' });
            if (decision.allowed) entries.push({ personId: row.person_id, actor: auditActorFor(context, decision.relation), action: 'list', resourceType: 'person', resourceId: row.person_id });
          }
          await appendJournal(trx, journal(ctx, now), entries);
          return { resources: page.items.map(({ row }) => personToPatient(personRowToPerson(row))), nextAfter: page.nextAfter };
        });
      }

      if (params.patient === undefined) {
        throw badRequest(`Searching ${type} needs the patient parameter; searching across plans is not supported yet.`);
      }
      const personId = patientId(params.patient);
      if (!personId) return { resources: [] };

      return inTransaction(db, async (trx) => {
        switch (type) {
          case 'CarePlan':
          case 'CareTeam': {
            // One per person: the search answers it, or nothing, without a 403 or 404 (never reveal the person).
            if (params._cursor !== undefined) return { resources: [] };
            const category = type === 'CareTeam' ? 'team' : undefined;
            if (category) {
              const granted = await searchContext(trx, ctx, personId, now, category);
              if (!granted) return { resources: [] };
              const rows = await listMembers(trx, personId, { includeEnded: true, limit: PLAN_LIMITS.team });
              const person = await findPerson(trx, personId);
              await appendJournal(trx, journal(ctx, now), [{ personId, actor: granted.auditActor, action: 'list', resourceType: 'team' }]);
              const team = membersToCareTeam(personId, rows.map((r) => memberRowToTeamMember(r, false, now)), person!.created_at.toISOString());
              return { resources: withinBounds(team.meta?.lastUpdated, updated) ? [team] : [] };
            }
            const context = await loadAccessContext(trx, ctx.actor, personId, now);
            const mayOpen = (['profile', 'team', 'goals', 'tasks'] as const).some((c) => permits(context, { kind: 'read', category: c })) || noteFilter(context)?.kind === 'visible';
            if (!mayOpen) return { resources: [] };
            const plan = carePlanOf(personId, await loadPlan(trx, ctx, personId, now, 'overview'));
            return { resources: withinBounds(plan.meta?.lastUpdated, updated) ? [plan] : [] };
          }
          case 'Goal': {
            const granted = await searchContext(trx, ctx, personId, now, 'goals');
            if (!granted) return { resources: [] };
            const life = (await repo.searchLifeGoals(trx, personId, window)).map((r) => lifeGoalToGoal(lifeGoalRowToLifeGoal(r)));
            const care = (await repo.searchCareGoals(trx, personId, window)).map((r) => careGoalToGoal(careGoalRowToCareGoal(r)));
            // Both kinds in one id order (ids are unique across both), so one cursor pages through them.
            const merged = [...life, ...care].sort((a, b) => (a.id! < b.id! ? -1 : 1)).slice(0, count + 1);
            await appendJournal(trx, journal(ctx, now), [
              { personId, actor: granted.auditActor, action: 'list', resourceType: 'life_goal' },
              { personId, actor: granted.auditActor, action: 'list', resourceType: 'care_goal' },
            ]);
            const page = paged(merged, count);
            return { resources: page.items, nextAfter: page.nextAfter };
          }
          case 'Task': {
            const granted = await searchContext(trx, ctx, personId, now, 'tasks');
            if (!granted) return { resources: [] };
            const rows = await repo.searchTasks(trx, personId, window);
            // The owner's kind and name only for a caller who may read the team.
            const members = permits(granted.context, { kind: 'read', category: 'team' })
              ? new Map((await findMembers(trx, personId, [...new Set(rows.map((r) => r.assignee_member_id))])).map((m) => [m.member_id, memberRowToTeamMember(m, false, now)]))
              : new Map<string, TeamMember>();
            await appendJournal(trx, journal(ctx, now), [{ personId, actor: granted.auditActor, action: 'list', resourceType: 'task' }]);
            const page = paged(rows.map((r) => taskToTask(taskRowToTask(r), members.get(r.assignee_member_id))), count);
            return { resources: page.items, nextAfter: page.nextAfter };
          }
          case 'Communication': {
            const context = await loadAccessContext(trx, ctx.actor, personId, now);
            const filter = noteFilter(context);
            if (!filter) return { resources: [] };
            // As GET /v1 notes: a revoked or ended member still lists the notes they wrote themselves.
            const decision = decide(context, filter.kind === 'own' ? { kind: 'read_own_notes' } : { kind: 'read', category: 'notes' });
            if (!decision.allowed) return { resources: [] };
            const rows = await repo.searchNotes(trx, personId, filter, window);
            await appendJournal(trx, journal(ctx, now), [{ personId, actor: auditActorFor(context, decision.relation), action: 'list', resourceType: 'note' }]);
            const page = paged(rows.map((r) => noteToCommunication(noteRowToNote(r))), count);
            return { resources: page.items, nextAfter: page.nextAfter };
          }
        }
      });
    },

    /** Patient/{id}/$everything: every resource of the plan the caller may read (Tasks included), filtered like the overview. */
    async everything(ctx: RequestContext, personId: string, baseUrl: string, selfUrl: string): Promise<Bundle> {
      if (!isUuid(personId)) throw unknownResource('Patient', personId);
      const now = clock();
      const plan = await inTransaction(db, async (trx) => loadPlan(trx, ctx, personId, now, 'parts'));
      const resources: Resource[] = [
        ...(plan.patient ? [plan.patient] : []),
        carePlanOf(personId, plan),
        ...(plan.members ? [careTeamOf(personId, plan)] : []),
        ...(plan.lifeGoals ?? []).map(lifeGoalToGoal),
        ...(plan.careGoals ?? []).map(careGoalToGoal),
        ...planTasks(plan),
        ...(plan.notes ?? []).map(noteToCommunication),
      ];
      const entry: BundleEntry[] = resources.map((resource) => ({
        fullUrl: `${baseUrl}/${resource.resourceType}/${resource.id}`,
        resource,
        search: { mode: 'match' },
      }));
      if (plan.truncated.length > 0) {
        entry.push({
          resource: operationOutcome('too-costly', `The plan is larger than one answer holds; cut: ${plan.truncated.join(', ')}.`, 'warning'),
          search: { mode: 'outcome' },
        });
      }
      return { resourceType: 'Bundle', type: 'searchset', total: resources.length, link: [{ relation: 'self', url: selfUrl }], entry };
    },
  };
}

export type FhirService = ReturnType<typeof createFhirService>;
