// The FHIR mappers on realistic Kring objects: status mappings, identifiers, extensions, schema validity.
import t from 'tap';
import {
  administrativeGender,
  careGoalToGoal,
  disciplineConcept,
  grantToConsent,
  historyBundle,
  kringCanonicals,
  lifeGoalToGoal,
  meetingToAppointment,
  membersToCareTeam,
  noteToCommunication,
  noteVersionToCommunication,
  personToPatient,
  planToCarePlan,
  representativeToRelatedPerson,
  safetyPlanText,
  safetyPlanToDocumentReference,
  taskToTask,
  versionToProvenance,
  wishToConsent,
} from '../src/modules/fhir/fhir.mappers.js';
import { parseLastUpdated } from '../src/modules/fhir/fhir.service.js';
import type { CareGoal, LifeGoal } from '../src/modules/goals/goals.schemas.js';
import type { Note } from '../src/modules/notes/notes.schemas.js';
import type { Person } from '../src/modules/persons/persons.schemas.js';
import type { Task } from '../src/modules/tasks/tasks.schemas.js';
import type { TeamMember } from '../src/modules/team/team.schemas.js';
import { validationErrors as schemaErrors } from './helpers/fhir.js';

const PID = '0195f3a0-1111-7000-8000-000000000001';
const at = '2026-03-02T09:00:00.000Z';
const person: Person = {
  id: PID, personId: PID, identifier: { system: 'insz', value: '41021100123' }, givenName: 'Jozef', familyName: 'Claes',
  birthDate: '1941-02-11', gender: 'man', language: 'nl', interpreterNeeded: true, allowEmergencyAccess: true, claimed: true,
  steward: null, version: 3, createdAt: at, updatedAt: at,
};
const member = (n: number, kind: TeamMember['kind'], extra: Partial<TeamMember> = {}): TeamMember => ({
  id: `0195f3a0-2222-7000-8000-00000000000${n}`, memberId: `0195f3a0-2222-7000-8000-00000000000${n}`, personId: PID, kind,
  displayName: `Lid ${n}`, nihii: null, organisationId: null, discipline: null, function: 'member', status: 'active',
  invitedAt: at, joinedAt: at, endedAt: null, grant: null, version: 1, ...extra,
});

t.test('Patient', async (t) => {
  const patient = personToPatient(person);
  t.match(patient, { gender: 'male', birthDate: '1941-02-11', identifier: [{ use: 'official', value: '41021100123' }], communication: [{ language: { coding: [{ code: 'nl' }] }, preferred: true }] });
  t.match(patient.extension, [{ url: 'http://hl7.org/fhir/StructureDefinition/patient-interpreterRequired', valueBoolean: true }]);
  t.same(schemaErrors(patient), []);
  const passport = personToPatient({ ...person, identifier: { system: 'passport', value: 'EM123456' }, gender: null, language: null, birthDate: null });
  t.match(passport.identifier![0], { type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'PPN' }] }, value: 'EM123456' });
  t.equal(passport.gender, 'unknown');
  t.same(schemaErrors(passport), []);
  t.same(administrativeGender('Vrouw'), { gender: 'female' });
  t.same(administrativeGender('onbekend'), { gender: 'unknown' });
  t.same(administrativeGender('genderfluïde'), { gender: 'other', identity: 'genderfluïde' });
});

t.test('CareTeam: contained members of each kind, NIHII, ended members keep an end', async (t) => {
  const team = membersToCareTeam(PID, [
    member(1, 'professional', { nihii: '10000001004', discipline: { code: 'gp', display: 'Huisarts' }, function: 'coordinator' }),
    member(2, 'informal_carer', { status: 'ended', endedAt: '2026-03-03T09:00:00.000Z' }),
    member(3, 'organisation', { organisationId: 'org-thuiszorg-gent', discipline: { code: 'home_nurse', display: null } }),
    member(4, 'volunteer', { status: 'invited', joinedAt: null }),
  ], at);
  t.same(team.contained!.map((c) => c.resourceType), ['Practitioner', 'RelatedPerson', 'Organization']);
  t.match(team.participant![1]!.period, { end: '2026-03-03T09:00:00.000Z' });
  t.equal(team.meta!.lastUpdated, '2026-03-03T09:00:00.000Z');
  t.match(team.participant![0]!.role![1]!.coding![0], { code: 'persgeneralphysician' });
  t.same(schemaErrors(team), []);
  t.match(disciplineConcept({ code: 'kinesitherapeut', display: null }).coding![0], { code: 'persphysiotherapist' });
  t.match(disciplineConcept({ code: 'buurtwerker', display: 'Buurtwerker' }).coding![0], { system: 'https://kring.dev/fhir/CodeSystem/discipline' });
  t.equal(membersToCareTeam(PID, [], at).meta!.lastUpdated, at);
});

t.test('Goal: life goals (what-matters, expressedBy) and care goals (goal-relationship)', async (t) => {
  const life = (status: LifeGoal['status'], kind: LifeGoal['expressedBy']['kind']): LifeGoal => ({
    id: '0195f3a0-3333-7000-8000-000000000001', lifeGoalId: '0195f3a0-3333-7000-8000-000000000001', personId: PID, title: 'Thuis blijven wonen',
    description: 'Met mijn kat.', status, version: 2, createdAt: at, updatedAt: at,
    expressedBy: { kind, name: kind === 'member' ? null : 'Jozef', memberId: kind === 'member' ? member(1, 'professional').memberId : null, representativeId: null },
  });
  t.match(lifeGoalToGoal(life('active', 'person')), { lifecycleStatus: 'active', expressedBy: { reference: `Patient/${PID}` }, category: [{ coding: [{ code: 'what-matters' }] }] });
  t.match(lifeGoalToGoal(life('achieved', 'representative')), { lifecycleStatus: 'completed', achievementStatus: { coding: [{ code: 'achieved' }] }, expressedBy: { type: 'RelatedPerson' } });
  t.match(lifeGoalToGoal(life('let_go', 'member')), { lifecycleStatus: 'cancelled', expressedBy: { identifier: { value: member(1, 'professional').memberId } } });
  for (const s of ['active', 'achieved', 'let_go'] as const) t.same(schemaErrors(lifeGoalToGoal(life(s, 'person'))), []);
  const care = (status: CareGoal['status']): CareGoal => ({
    id: '0195f3a0-3333-7000-8000-000000000002', careGoalId: '0195f3a0-3333-7000-8000-000000000002', personId: PID, title: 'Veilig wassen',
    description: null, status, lifeGoalIds: ['0195f3a0-3333-7000-8000-000000000001', '0195f3a0-3333-7000-8000-000000000003'],
    ownerMemberId: null, reviewDate: '2026-06-01', version: 1, createdAt: at, updatedAt: at,
  });
  const expected = { proposed: ['proposed'], active: ['active'], achieved: ['completed', 'achieved'], not_achieved: ['completed', 'not-achieved'], cancelled: ['cancelled'] };
  for (const [status, [lifecycle, achievement]] of Object.entries(expected)) {
    const goal = careGoalToGoal(care(status as CareGoal['status']));
    t.equal(goal.lifecycleStatus, lifecycle);
    t.equal(goal.achievementStatus?.coding?.[0]?.code, achievement);
    t.equal(goal.extension!.length, 2);
    t.same(schemaErrors(goal), []);
  }
});

t.test('Task: status, owner, due, candidate list, pertains to goal', async (t) => {
  const task = (status: Task['status'], due: string | null): Task => ({
    id: '0195f3a0-4444-7000-8000-000000000001', taskId: '0195f3a0-4444-7000-8000-000000000001', personId: PID, title: 'Steunkousen',
    description: null, careGoalId: status === 'open' ? '0195f3a0-3333-7000-8000-000000000002' : null, assigneeMemberId: member(2, 'informal_carer').memberId,
    due, status, completedAt: status === 'done' ? at : null, completedBy: null, createdBy: { name: 'Jozef', memberId: null }, version: 1, createdAt: at, updatedAt: at,
  });
  const statuses = { open: 'requested', in_progress: 'in-progress', done: 'completed', cancelled: 'cancelled' } as const;
  for (const [kring, fhir] of Object.entries(statuses)) {
    const resource = taskToTask(task(kring as Task['status'], kring === 'done' ? '2026-03-05T10:00:00.000Z' : '2026-03-10'), kring === 'open' ? member(2, 'informal_carer') : undefined);
    t.equal(resource.status, fhir);
    t.equal(resource.intent, 'plan');
    t.ok(resource.extension!.some((e) => e.url === 'http://hl7.org/fhir/StructureDefinition/task-candidateList'));
    t.same(schemaErrors(resource), []);
  }
  const open = taskToTask(task('open', '2026-03-10'), member(2, 'informal_carer'));
  t.match(open, { restriction: { period: { end: '2026-03-10' } }, owner: { type: 'RelatedPerson', display: 'Lid 2' } });
  t.ok(open.extension!.some((e) => e.url === 'http://hl7.org/fhir/StructureDefinition/resource-pertainsToGoal'));
  t.notOk(taskToTask(task('cancelled', null)).restriction);
});

t.test('Communication: phase, priority, restricted, retraction', async (t) => {
  const note = (extra: Partial<Note>): Note => ({
    id: '0195f3a0-5555-7000-8000-000000000001', noteId: '0195f3a0-5555-7000-8000-000000000001', personId: PID, version: 1, body: 'Goed geslapen.',
    phase: 'info', visibility: 'team', visibleTo: [], about: null, author: { name: 'Dr. Janssens', role: 'member', memberId: member(1, 'professional').memberId },
    retracted: false, createdAt: at, updatedAt: at, ...extra,
  });
  const plain = noteToCommunication(note({}));
  t.match(plain, { status: 'completed', priority: 'routine', payload: [{ contentString: 'Goed geslapen.' }] });
  t.notOk(plain.meta!.security);
  const acute = noteToCommunication(note({ phase: 'acute', visibility: 'professionals', about: { type: 'task', id: '0195f3a0-4444-7000-8000-000000000001' } }));
  t.match(acute, { priority: 'urgent', meta: { security: [{ code: 'R' }] }, about: [{ reference: 'Task/0195f3a0-4444-7000-8000-000000000001' }] });
  const gone = noteToCommunication(note({ retracted: true, body: null, version: 2 }));
  t.equal(gone.status, 'entered-in-error');
  t.notOk(gone.payload);
  const addressed = noteToCommunication(note({ visibility: 'members', visibleTo: [member(2, 'informal_carer').memberId], author: { name: 'Jozef', role: 'person', memberId: null } }));
  t.equal(addressed.recipient!.length, 1);
  t.match(addressed.sender, { reference: `Patient/${PID}` });
  for (const c of [plain, acute, gone, addressed]) t.same(schemaErrors(c), []);
});

t.test('CarePlan: one per person, references only to what was passed', async (t) => {
  const plan = planToCarePlan({ personId: PID, createdAt: at, hasTeam: true, goals: [{ id: 'g1', version: 1, updatedAt: '2026-03-04T00:00:00.000Z' }], tasks: [{ id: 't1', version: 2, updatedAt: at }] });
  t.match(plan, { status: 'active', intent: 'plan', careTeam: [{ reference: `CareTeam/${PID}` }], goal: [{ reference: 'Goal/g1' }], activity: [{ reference: { reference: 'Task/t1' } }], meta: { lastUpdated: '2026-03-04T00:00:00.000Z' } });
  t.same(schemaErrors(plan), []);
  const empty = planToCarePlan({ personId: PID, createdAt: at, hasTeam: false, goals: [], tasks: [] });
  t.notOk(empty.goal);
  t.notOk(empty.careTeam);
  t.not(empty.meta!.versionId, plan.meta!.versionId);
});

t.test('_lastUpdated: prefixes, precision, refusals', async (t) => {
  t.same(parseLastUpdated(undefined), []);
  t.same(parseLastUpdated('gt2026-03-02T09:00:00Z'), [{ op: '>', at: new Date('2026-03-02T09:00:00Z') }]);
  t.same(parseLastUpdated('gt2026-03-02'), [{ op: '>=', at: new Date('2026-03-03T00:00:00Z') }]);
  t.same(parseLastUpdated(['ge2026-03', 'lt2027']), [{ op: '>=', at: new Date('2026-03-01T00:00:00Z') }, { op: '<', at: new Date('2027-01-01T00:00:00Z') }]);
  t.same(parseLastUpdated('le2026'), [{ op: '<', at: new Date('2027-01-01T00:00:00Z') }]);
  t.same(parseLastUpdated('2026-03-02T09:00:00+01:00'), [{ op: '>=', at: new Date('2026-03-02T08:00:00Z') }, { op: '<=', at: new Date('2026-03-02T08:00:00Z') }]);
  for (const bad of ['yesterday', 'gt2026-02-30', '2026-03-02T09:00:00', 'gt0999-01-01', 'ne2026', '2026-13', 'gt2026-03-02T25:00:00Z']) {
    t.throws(() => parseLastUpdated(bad), { name: 'AppError', status: 400 } as never, bad);
  }
});

t.test('Consent: one per grant record (permit, actor, actions per category) and one per wish statement (adr)', async (t) => {
  const grant = (change: 'granted' | 'changed' | 'revoked', scopes: string[]) => ({
    grant: {
      id: '0195f3a0-6666-7000-8000-000000000001', grantId: '0195f3a0-6666-7000-8000-000000000001', personId: PID, memberId: member(2, 'informal_carer').memberId,
      memberDisplayName: 'Mieke', change, scopes: scopes as never, previousScopes: null, validUntil: null, changedBy: { name: 'Jozef' }, changedAt: at,
    },
    memberKind: 'informal_carer' as const,
    active: change !== 'revoked',
    end: change === 'revoked' ? at : null,
    lastUpdated: at,
  });
  const consent = grantToConsent(grant('changed', ['tasks:read', 'tasks:write', 'notes:read']));
  t.match(consent, {
    status: 'active', scope: { coding: [{ code: 'patient-privacy' }] }, policyRule: { coding: [{ code: 'OPTIN' }] },
    provision: { type: 'permit', period: { start: at }, actor: [{ reference: { type: 'RelatedPerson', display: 'Mieke' } }], action: [{ coding: [{ code: 'access' }] }, { coding: [{ code: 'correct' }] }] },
  });
  t.same(consent.provision!.provision!.map((p) => p.code![0]!.coding![0]!.code), ['tasks', 'notes'], 'categories in the order of the scopes list');
  const revoked = grantToConsent(grant('revoked', []));
  t.match(revoked, { status: 'inactive', provision: { period: { end: at } } });
  t.notOk(revoked.provision!.action);
  const wishes = { personId: PID, version: 3, updatedAt: at, updatedBy: { name: 'Jozef', role: 'person', memberId: null }, statements: [{ topic: 'reanimatie', statement: 'Niet reanimeren.' }] };
  const wish = wishToConsent(wishes, 1);
  t.match(wish, { id: `${PID}-w1`, meta: { versionId: '3' }, scope: { coding: [{ code: 'adr' }] }, sourceAttachment: { title: 'reanimatie' } });
  for (const c of [consent, revoked, wish]) t.same(schemaErrors(c), []);
});

t.test('DocumentReference, Appointment, RelatedPerson, Provenance', async (t) => {
  const plan = { personId: PID, version: 2, updatedAt: at, updatedBy: { name: null, role: 'person', memberId: null }, warningSigns: ['Slaapt slecht'], whatHelps: ['Wandelen'], contacts: [{ name: 'Mieke', role: 'dochter', phone: '+32 470 12 34 56' }, { name: 'Huisarts', role: null, phone: null }] };
  t.equal(safetyPlanText(plan), 'Warning signs:\n- Slaapt slecht\n\nWhat helps:\n- Wandelen\n\nWhom to call:\n- Mieke (dochter): +32 470 12 34 56\n- Huisarts');
  const document = safetyPlanToDocumentReference(plan);
  t.notOk(document.author, 'no author without a name');
  t.same(schemaErrors(document), []);

  const meeting = {
    id: '0195f3a0-7777-7000-8000-000000000001', meetingId: '0195f3a0-7777-7000-8000-000000000001', personId: PID, title: 'Overleg', startsAt: at, endsAt: '2026-03-02T10:00:00.000Z',
    videoUrl: null, location: 'Thuis', agenda: null, participantMemberIds: [member(1, 'professional').memberId], status: 'cancelled' as const, version: 2, createdAt: at, updatedAt: at,
  };
  const appointment = meetingToAppointment(meeting, new Map([[member(1, 'professional').memberId, member(1, 'professional')]]));
  t.match(appointment, { status: 'cancelled', participant: [{ actor: { type: 'Practitioner', display: 'Lid 1' }, status: 'declined' }, { actor: { reference: '#location' } }] });
  t.notOk(appointment.extension);
  t.notOk(appointment.comment);
  t.same(schemaErrors(appointment), []);

  const rep = { id: '0195f3a0-8888-7000-8000-000000000001', representativeId: '0195f3a0-8888-7000-8000-000000000001', personId: PID, displayName: 'Els', level: 'limited' as const, basis: 'organisation_mandate' as const, validUntil: '2026-03-01T00:00:00.000Z', status: 'active' as const, createdAt: at, acceptedAt: null, endedAt: null };
  const related = representativeToRelatedPerson(rep, new Date(at));
  t.match(related, { active: false, relationship: [{ coding: [{ code: 'POWATT' }] }], period: { start: at, end: '2026-03-01T00:00:00.000Z' } });
  t.same(schemaErrors(related), []);

  const base = { kind: 'goal' as const, personId: PID, resourceId: '0195f3a0-3333-7000-8000-000000000001', version: 2, recorded: at, targets: ['Goal/0195f3a0-3333-7000-8000-000000000001/_history/2'] };
  const byRep = versionToProvenance({ ...base, author: { name: null, role: 'representative', memberId: null } });
  t.match(byRep, { id: 'goal-0195f3a0-3333-7000-8000-000000000001-2', activity: { coding: [{ code: 'UPDATE' }] }, agent: [{ who: { type: 'RelatedPerson', display: 'representative' }, onBehalfOf: { reference: `Patient/${PID}` } }] });
  const byMember = versionToProvenance({ ...base, version: 1, author: { name: 'Dr. J', role: 'member', memberId: member(1, 'professional').memberId } });
  t.match(byMember, { activity: { coding: [{ code: 'CREATE' }] }, agent: [{ who: { identifier: { value: member(1, 'professional').memberId }, display: 'Dr. J' } }] });
  t.notOk(byMember.agent[0]!.onBehalfOf);
  const byEmergency = versionToProvenance({ ...base, author: { name: null, role: 'emergency', memberId: null } });
  t.match(byEmergency.agent[0]!.who, { display: 'emergency' });
  for (const p of [byRep, byMember, byEmergency]) t.same(schemaErrors(p), []);

  const note: Note = {
    id: '0195f3a0-5555-7000-8000-000000000001', noteId: '0195f3a0-5555-7000-8000-000000000001', personId: PID, version: 2, body: 'Nieuw.', phase: 'info', visibility: 'team', visibleTo: [], about: null,
    author: { name: null, role: 'steward', memberId: null }, retracted: false, createdAt: at, updatedAt: '2026-03-03T00:00:00.000Z',
  };
  const old = noteVersionToCommunication(note, { noteId: note.id, version: 1, body: 'Oud.', phase: 'acute', retracted: false, createdAt: at });
  t.match(old, { meta: { versionId: '1', lastUpdated: at }, priority: 'urgent', payload: [{ contentString: 'Oud.' }], sender: { display: 'steward' } });
  const bundle = historyBundle('https://kring.example/fhir/R4', [noteToCommunication(note), old], { self: 'https://kring.example/fhir/R4/Communication/x/_history' });
  t.match(bundle.entry, [{ request: { method: 'PUT' }, response: { etag: 'W/"2"' } }, { request: { method: 'POST', url: 'Communication' }, response: { status: '201 Created' } }]);
  t.same(schemaErrors(bundle), []);
});

t.test('Kring\'s own canonical URLs: derived from the constants, each once', async (t) => {
  const canonicals = kringCanonicals();
  t.ok(canonicals.length >= 10);
  t.equal(new Set(canonicals.map((c) => c.url)).size, canonicals.length);
  t.ok(canonicals.every((c) => c.url.startsWith('https://kring.dev/fhir/') && ['CodeSystem', 'NamingSystem', 'StructureDefinition'].includes(c.kind)));
});
