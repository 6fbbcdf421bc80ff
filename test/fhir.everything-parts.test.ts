// The FHIR plan in one statement (loadPlanParts): every part is exactly what its own query answers
// (same rows, same types: Dates, numbers, arrays, nulls), for callers of several kinds of access,
// and $everything costs one statement for the plan however many parts it holds.
import t from 'tap';
import { TIMESTAMP_COLUMNS } from '../src/db/json-rows.js';
import type { KyselyPlugin, PluginTransformQueryArgs, PluginTransformResultArgs, QueryResult, RootOperationNode, UnknownRow } from 'kysely';
import type { Kysely } from 'kysely';
import type { DB } from '../src/db/types.js';
import { loadAccessContext } from '../src/modules/access/access.repository.js';
import type { Actor } from '../src/modules/access/access.types.js';
import { findCareDocument } from '../src/modules/care-documents/care-documents.repository.js';
import { careDocumentRowToDocument } from '../src/modules/care-documents/care-documents.service.js';
import { allMeetings, grantsWithMembers, loadPlanParts, noteVersionsVisible, versionsOf, type PlanPartRows, type PlanParts } from '../src/modules/fhir/fhir.repository.js';
import { FHIR_TYPES, grantViews, noteVersionToProvenance, planParts, versionRowToProvenance, type FhirType } from '../src/modules/fhir/fhir.service.js';
import { listCareGoals, listLifeGoals } from '../src/modules/goals/goals.repository.js';
import { careGoalRowToCareGoal, lifeGoalRowToLifeGoal } from '../src/modules/goals/goals.service.js';
import { meetingRowToMeeting } from '../src/modules/meetings/meetings.service.js';
import { listNotes } from '../src/modules/notes/notes.repository.js';
import { noteRowToNote } from '../src/modules/notes/notes.service.js';
import { findPerson, personRowToPerson } from '../src/modules/persons/persons.repository.js';
import { listTasks } from '../src/modules/tasks/tasks.repository.js';
import { taskRowToTask } from '../src/modules/tasks/tasks.service.js';
import { listMembers, listRepresentatives } from '../src/modules/team/team.repository.js';
import { memberRowToTeamMember, representativeRowToRepresentative } from '../src/modules/team/team.service.js';
import { buildTestApp } from './helpers/app.js';
import { createTestDatabase } from './helpers/database.js';
import { caller, citizenWithPlan, professional, type Caller } from './helpers/factories.js';
import { accept, addRepresentative, inviteMember, joinedCarer } from './helpers/team.js';

// Counts executed statements: a result per statement (transformQuery also sees every nested subquery).
class StatementCounter implements KyselyPlugin {
  count = 0;
  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    return args.node;
  }
  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    this.count += 1;
    return args.result;
  }
}

const CATEGORIES = ['profile', 'team', 'goals', 'tasks', 'notes', 'wishes', 'safety_plan', 'meetings'];
const ALL = CATEGORIES.flatMap((c) => [`${c}:read`, `${c}:write`]);

/** The same parts read as loadPlan read them before: one query per part, with each module's own function. */
async function perPart(db: Kysely<DB>, personId: string, w: PlanParts): Promise<PlanPartRows> {
  return {
    person: await findPerson(db, personId),
    team: w.team === null ? null : await listMembers(db, personId, { includeEnded: true, limit: w.team }),
    lifeGoals: w.lifeGoals === null ? null : await listLifeGoals(db, personId, { limit: w.lifeGoals }),
    careGoals: w.careGoals === null ? null : await listCareGoals(db, personId, { limit: w.careGoals }),
    tasks: w.tasks === null ? null : await listTasks(db, personId, { limit: w.tasks }),
    notes: w.notes ? await listNotes(db, personId, w.notes.filter, { limit: w.notes.limit }) : null,
    meetings: w.meetings === null ? null : await allMeetings(db, personId, w.meetings),
    grants: w.grants === null ? null : await grantsWithMembers(db, personId, { limit: w.grants }),
    representatives: w.representatives === null ? null : await listRepresentatives(db, personId, { includeEnded: true, limit: w.representatives }),
    wishes: w.wishes ? await findCareDocument(db, personId, 'wishes') : undefined,
    safetyPlan: w.safetyPlan ? await findCareDocument(db, personId, 'safety_plan') : undefined,
    versions: w.versions ? await versionsOf(db, personId, w.versions.kinds, w.versions.limit) : null,
    noteVersions: w.noteVersions ? await noteVersionsVisible(db, personId, w.noteVersions.filter, w.noteVersions.limit) : null,
  };
}

/** Every part through the mappers loadPlan hands it to (a timestamp left as text throws here). */
function mapped(personId: string, rows: PlanPartRows, now: Date) {
  return {
    person: rows.person ? personRowToPerson(rows.person) : undefined,
    team: rows.team?.map((r) => memberRowToTeamMember(r, false, now)) ?? null,
    lifeGoals: rows.lifeGoals?.map(lifeGoalRowToLifeGoal) ?? null,
    careGoals: rows.careGoals?.map(careGoalRowToCareGoal) ?? null,
    tasks: rows.tasks?.map(taskRowToTask) ?? null,
    notes: rows.notes?.map(noteRowToNote) ?? null,
    meetings: rows.meetings?.map(meetingRowToMeeting) ?? null,
    grants: rows.grants ? grantViews(rows.grants, now) : null,
    representatives: rows.representatives?.map(representativeRowToRepresentative) ?? null,
    wishes: rows.wishes ? careDocumentRowToDocument('wishes', rows.wishes) : undefined,
    safetyPlan: rows.safetyPlan ? careDocumentRowToDocument('safety_plan', rows.safetyPlan) : undefined,
    versions: rows.versions?.map(versionRowToProvenance) ?? null,
    noteVersions: rows.noteVersions?.map((r) => noteVersionToProvenance(personId, r)) ?? null,
  };
}

// Every timestamp column each part carries (the shared revive list): the realistic plan below gives
// each a value somewhere, and the test checks that no other column comes back as a Date.
const TIMESTAMPS_OF: Record<keyof PlanPartRows, readonly string[]> = {
  ...TIMESTAMP_COLUMNS,
  wishes: TIMESTAMP_COLUMNS.careDocuments,
  safetyPlan: TIMESTAMP_COLUMNS.careDocuments,
};

t.test('the FHIR plan in one statement', async (t) => {
  const database = await createTestDatabase();
  const counter = new StatementCounter();
  const counted = database.db.withPlugin(counter);
  const { app } = await buildTestApp(t, { database: { ...database, db: counted }, env: { RATE_LIMIT_PER_MINUTE: '100000', DISPATCHER_ENABLED: 'false' } });
  const db = database.db;

  // A realistic plan: a GP, a home-care organisation, a daughter who only sees tasks, a neighbour
  // without goals, a carer who left, a revoked grant and one with an end, goals revised, tasks
  // (one done, one with a due moment), notes of each visibility and a retracted one, wishes and a
  // safety plan in two versions, meetings, an accepted representative and an ended one.
  const { who: person, person: plan } = await citizenWithPlan(app);
  const send = async (method: 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, payload?: Record<string, unknown>, as: Caller = person, ifMatch?: string) => {
    const res = await app.inject({ method, url: `/v1/persons/${plan.id}/${path}`, headers: { ...as.headers, ...(ifMatch ? { 'if-match': `"${ifMatch}"` } : {}) }, ...(payload ? { payload } : {}) });
    if (res.statusCode >= 300) throw new Error(`${method} ${path}: ${res.statusCode} ${res.body}`);
    return res.json();
  };
  const post = (path: string, payload: Record<string, unknown>, as: Caller = person) => send('POST', path, payload, as);
  await send('PATCH', '', { gender: 'non-binair', language: 'nl', birthDate: '1941-02-11' });
  const gp = professional('Dr. Lies Janssens');
  const gpInvite = await inviteMember(app, person, plan.id, { kind: 'professional', displayName: 'Dr. Lies Janssens', nihii: gp.claims.nihii, discipline: { code: 'gp', display: 'Huisarts' }, function: 'coordinator', scopes: ALL });
  await accept(app, gp, gpInvite.inviteCode);
  const homeCare = await inviteMember(app, person, plan.id, { kind: 'organisation', displayName: 'Thuiszorg Gent', organisationId: `org-${process.pid}`, discipline: 'home_nurse', scopes: ['tasks:read', 'notes:read', 'meetings:read'] });
  await accept(app, caller({ sub: `org-admin-${process.pid}`, org: `org-${process.pid}` }), homeCare.inviteCode);
  const nurse = caller({ sub: `nurse-${process.pid}`, org: `org-${process.pid}`, name: 'Sofie' });
  await inviteMember(app, person, plan.id, { kind: 'volunteer', displayName: 'Buurman Jef', scopes: ['tasks:read'] });
  const daughter = await joinedCarer(app, person, plan.id, ['tasks:read']);
  const neighbour = await joinedCarer(app, person, plan.id, ['tasks:read', 'notes:read', 'meetings:read', 'team:read']);
  const leaving = await joinedCarer(app, person, plan.id, ALL);
  await send('DELETE', `team/${leaving.memberId}`);
  await send('PUT', `team/${daughter.memberId}/grant`, { scopes: ['tasks:read', 'tasks:write'] });
  await send('PUT', `team/${daughter.memberId}/grant`, { scopes: ['tasks:read'], validUntil: '2030-01-01T00:00:00Z' });
  const revoked = await joinedCarer(app, person, plan.id, ['notes:read']);
  await send('DELETE', `team/${revoked.memberId}/grant`);

  const life = await post('life-goals', { title: 'Thuis blijven wonen', description: 'Met mijn kat.' });
  await send('PATCH', `life-goals/${life.id}`, { title: 'Thuis blijven wonen, met hulp' }, person, '1');
  const achieved = await post('life-goals', { title: 'Kleindochter zien trouwen', status: 'achieved' });
  const careGoals: Array<{ id: string }> = [];
  for (const status of ['proposed', 'active', 'achieved']) {
    careGoals.push(await post('care-goals', { title: `Veilig wassen (${status})`, lifeGoalIds: [life.id, achieved.id], status, reviewDate: '2026-06-01' }));
  }
  await send('PATCH', `care-goals/${careGoals[0]!.id}`, { status: 'active' }, person, '1');
  await post('care-goals', { title: 'Voor één levensdoel', lifeGoalIds: [life.id] });
  await post('tasks', { title: 'Steunkousen aantrekken', assigneeMemberId: daughter.memberId, careGoalId: careGoals[1]!.id, due: '2026-03-10' });
  await post('tasks', { title: 'Medicatie ophalen', assigneeMemberId: gpInvite.memberId, due: '2026-03-05T10:00:00Z' });
  const done = await post('tasks', { title: 'Apotheek bellen', assigneeMemberId: gpInvite.memberId });
  await send('PATCH', `tasks/${done.id}`, { status: 'done' }, gp);
  const teamNote = await post('notes', { body: 'Goed geslapen.', phase: 'info', about: { type: 'life_goal', id: life.id } });
  await send('PUT', `notes/${teamNote.id}`, { body: 'Goed geslapen, zonder pijn.' }, person, '1');
  await post('notes', { body: 'Decubitus graad 1 hiel links.', phase: 'acute', visibility: 'professionals' }, gp);
  await post('notes', { body: 'Sleutel ligt bij de buren.', phase: 'follow_up', visibility: 'members', visibleTo: [neighbour.memberId] });
  const retracted = await post('notes', { body: 'Verkeerde patiënt.', phase: 'follow_up' }, gp);
  await send('DELETE', `notes/${retracted.id}`, undefined, gp, '1');
  await send('PUT', 'wishes', { statements: [{ topic: 'ziekenhuisopname', statement: 'Liefst geen ziekenhuisopname meer.' }] });
  await send('PUT', 'wishes', { statements: [{ topic: 'ziekenhuisopname', statement: 'Geen ziekenhuisopname meer.' }, { topic: 'reanimatie', statement: 'Niet reanimeren.' }] }, person, '1');
  await send('PUT', 'safety-plan', { warningSigns: ['Slaapt slecht'], whatHelps: ['Wandelen'], contacts: [{ name: 'Dr. Janssens', role: 'huisarts', phone: '+32 9 123 45 67' }] });
  await send('PUT', 'safety-plan', { warningSigns: ['Slaapt slecht', 'Eet niet'], whatHelps: ['Wandelen', 'Muziek'], contacts: [{ name: 'Dr. Janssens' }] }, person, '1');
  await post('meetings', { title: 'Overleg thuiszorg', startsAt: '2026-04-01T09:00:00Z', endsAt: '2026-04-01T10:00:00Z', videoUrl: 'https://meet.example.org/kring-overleg', participantMemberIds: [gpInvite.memberId, homeCare.memberId], agenda: 'Wassen' });
  const cancelled = await post('meetings', { title: 'Huisbezoek', startsAt: '2026-05-01T14:00:00Z', endsAt: '2026-05-01T15:00:00Z', location: 'Thuis', participantMemberIds: [gpInvite.memberId] });
  await send('PATCH', `meetings/${cancelled.id}`, { status: 'cancelled' });
  const fullRep = await addRepresentative(app, person, plan.id, { displayName: 'Els Claes', level: 'full', basis: 'chosen' });
  const els = caller({ sub: `els-${process.pid}`, name: 'Els Claes' });
  await accept(app, els, fullRep.inviteCode);
  const guardian = await addRepresentative(app, person, plan.id, { displayName: 'Mr. Peeters', level: 'limited', basis: 'legal', validUntil: '2030-01-01T00:00:00Z' });
  await send('DELETE', `representatives/${guardian.id}`);

  const callers: Array<[string, Caller]> = [
    ['the person', person],
    ['a full representative', els],
    ['the GP (every scope)', gp],
    ['staff of the home-care organisation', nurse],
    ['the neighbour (no goals, wishes or safety plan)', neighbour.who],
    ['the daughter (tasks:read only)', daughter.who],
  ];
  const typeSets: Array<[string, ReadonlySet<FhirType>]> = [
    ['every type', new Set(FHIR_TYPES)],
    ['CarePlan', new Set<FhirType>(['CarePlan'])],
    ['Provenance', new Set<FhirType>(['Provenance'])],
    ['Consent, DocumentReference, RelatedPerson', new Set<FhirType>(['Consent', 'DocumentReference', 'RelatedPerson'])],
  ];
  const seen = new Set<string>();

  t.test('every part is exactly what its own query answers, for every caller', async (t) => {
    const now = new Date();
    for (const [who, as] of callers) {
      const context = await loadAccessContext(db, as.claims as Actor, plan.id, now);
      for (const [typesName, types] of typeSets) {
        const parts = planParts(context, types);
        const one = await loadPlanParts(db, plan.id, parts);
        const old = await perPart(db, plan.id, parts);
        const name = `${who}, ${typesName}`;
        for (const part of Object.keys(old) as Array<keyof PlanPartRows>) {
          // Strict: a Date against a string, a number against a string or undefined against null fails.
          t.strictSame(one[part], old[part], `${name}: ${part} rows`);
          const rows = old[part];
          for (const row of rows === undefined || rows === null ? [] : Array.isArray(rows) ? rows : [rows]) {
            for (const [column, value] of Object.entries(row as Record<string, unknown>)) if (value instanceof Date) seen.add(`${part}.${column}`);
          }
        }
        t.strictSame(mapped(plan.id, one, now), mapped(plan.id, old, now), `${name}: mapped`);
      }
    }
  });

  t.test('the plan exercises every timestamp column of every part, and no other column is a date', async (t) => {
    const expected = Object.entries(TIMESTAMPS_OF).filter(([part]) => part !== 'careDocuments').flatMap(([part, columns]) => columns.map((c) => `${part}.${c}`));
    t.same([...seen].sort(), expected.sort());
  });

  t.test('the owner reads every part, filled; the daughter only tasks', async (t) => {
    const now = new Date();
    const owner = await loadPlanParts(db, plan.id, planParts(await loadAccessContext(db, person.claims as Actor, plan.id, now), new Set(FHIR_TYPES)));
    for (const [part, rows] of Object.entries(owner)) t.ok(Array.isArray(rows) ? rows.length > 0 : rows !== undefined, `${part} is not empty`);
    t.ok(owner.notes!.some((n) => n.retracted_at instanceof Date), 'a retracted note');
    t.notOk(owner.notes!.some((n) => n.visibility === 'professionals'), "no professionals' note for the person");
    const gpParts = await loadPlanParts(db, plan.id, planParts(await loadAccessContext(db, gp.claims as Actor, plan.id, now), new Set(FHIR_TYPES)));
    t.ok(gpParts.notes!.some((n) => n.visibility === 'professionals'), "a professionals' note for the GP");
    t.ok(owner.team!.some((m) => m.ended_at instanceof Date), 'an ended member');
    t.ok(owner.tasks!.some((x) => x.completed_at instanceof Date && x.completed_by_name !== null), 'a completed task with its completer');
    t.ok(owner.careGoals!.some((g) => g.life_goal_ids.length === 2) && owner.careGoals!.some((g) => g.life_goal_ids.length === 1), 'care goals with one and with two life goals');
    t.equal(typeof owner.careGoals![0]!.review_date, 'string', 'a date column stays YYYY-MM-DD');
    t.equal(typeof owner.lifeGoals![0]!.version, 'number');
    const daughterParts = await loadPlanParts(db, plan.id, planParts(await loadAccessContext(db, daughter.who.claims as Actor, plan.id, now), new Set(FHIR_TYPES)));
    t.ok(daughterParts.tasks!.length > 0);
    t.same(
      Object.entries(daughterParts).filter(([part, rows]) => part !== 'person' && part !== 'tasks' && rows !== null && rows !== undefined).map(([part]) => part),
      [],
      'nothing but the tasks (and the person row every read needs)',
    );
  });

  t.test('a plan costs one statement, and $everything one beyond the access decision and the audit', async (t) => {
    const context = await loadAccessContext(db, person.claims as Actor, plan.id, new Date());
    counter.count = 0;
    await loadPlanParts(counted, plan.id, planParts(context, new Set(FHIR_TYPES)));
    t.equal(counter.count, 1, 'every part in one statement');

    const measure = async (url: string, as: Caller) => {
      counter.count = 0;
      const res = await app.inject({ method: 'GET', url, headers: as.headers });
      t.equal(res.statusCode, 200, url);
      return counter.count;
    };
    const everything = await measure(`/fhir/R4/Patient/${plan.id}/$everything`, person);
    const carePlan = await measure(`/fhir/R4/CarePlan/${plan.id}`, person);
    const provenance = await measure(`/fhir/R4/Provenance?patient=${plan.id}`, person);
    t.comment(`statements: $everything ${everything}, CarePlan ${carePlan}, Provenance search ${provenance}`);
    // The access context, the plan, and the audit journal's append (one statement when uncontended);
    // the plan alone was 13 statements before it was one. The caller's next reads decide on the
    // relations the first one read (the append checks their access version): no access statement.
    t.equal(everything, 3, '$everything, the caller\'s first read: access, plan, audit');
    t.equal(carePlan, 2, 'CarePlan read: plan, audit');
    t.equal(provenance, 2, 'Provenance search: plan, audit');
  });
});
