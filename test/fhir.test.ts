// The FHIR R4 facade end to end: metadata, read, vread and history, search parameters and paging,
// $everything, scopes, errors as OperationOutcome, and every resource valid for both validators.
import t from 'tap';
import { insertNote } from '../src/modules/notes/notes.repository.js';
import { buildTestApp } from './helpers/app.js';
import { newId } from '../src/lib/ids.js';
import { caller, citizen, citizenWithPlan, createPersonAs, professional, type Caller } from './helpers/factories.js';
import { validationErrors } from './helpers/fhir.js';
import { accept, addRepresentative, inviteMember, joinedCarer } from './helpers/team.js';

const CATEGORIES = ['profile', 'team', 'goals', 'tasks', 'notes', 'wishes', 'safety_plan', 'meetings'];
const ALL = CATEGORIES.flatMap((c) => [`${c}:read`, `${c}:write`]);

interface Entry {
  fullUrl?: string;
  resource: { resourceType: string; id: string; meta?: { versionId?: string; lastUpdated?: string; security?: Array<{ code: string }> }; [k: string]: unknown };
  search?: { mode: string };
}
interface BundleBody {
  resourceType: string;
  type: string;
  total?: number;
  entry: Entry[];
  link: Array<{ relation: string; url: string }>;
}

t.test('FHIR R4 facade', async (t) => {
  const { app, database } = await buildTestApp(t, { env: { RATE_LIMIT_PER_MINUTE: '100000' } });
  const get = (url: string, who?: Caller) => app.inject({ method: 'GET', url, headers: who?.headers ?? {} });
  const bundle = async (url: string, who: Caller): Promise<BundleBody> => {
    const res = await get(url, who);
    if (res.statusCode !== 200) throw new Error(`${url}: ${res.statusCode} ${res.body}`);
    return res.json();
  };
  /** Every entry of a search, following link next to the end. */
  const everyPage = async (url: string, who: Caller): Promise<{ entries: Entry[]; pages: number }> => {
    const entries: Entry[] = [];
    let next: string | undefined = url;
    let pages = 0;
    while (next) {
      const page = await bundle(next, who);
      pages += 1;
      entries.push(...page.entry.filter((e) => e.search?.mode !== 'outcome'));
      const link = page.link.find((l) => l.relation === 'next')?.url;
      next = link ? new URL(link).pathname + new URL(link).search : undefined;
    }
    return { entries, pages };
  };
  const ids = (entries: Entry[]) => entries.map((e) => e.resource.id);
  const types = (entries: Entry[]) => [...new Set(entries.map((e) => e.resource.resourceType))];

  // A realistic plan, built once: a GP (coordinator), a home-care organisation, a daughter who only
  // sees tasks, a neighbour without goals, a carer who left, goals of every status, tasks, notes of
  // each visibility and a retracted one, wishes and a safety plan in two versions, meetings,
  // representatives and grant changes.
  const { who: person, person: plan } = await citizenWithPlan(app);
  const send = async (method: 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, payload?: Record<string, unknown>, as: Caller = person, ifMatch?: string) => {
    const res = await app.inject({ method, url: `/v1/persons/${plan.id}/${path}`, headers: { ...as.headers, ...(ifMatch ? { 'if-match': `"${ifMatch}"` } : {}) }, ...(payload ? { payload } : {}) });
    if (res.statusCode >= 300) throw new Error(`${method} ${path}: ${res.statusCode} ${res.body}`);
    return res.json();
  };
  const post = (path: string, payload: Record<string, unknown>, as: Caller = person) => send('POST', path, payload, as);
  await send('PATCH', '', { gender: 'non-binair', language: 'nl', interpreterNeeded: false, birthDate: '1941-02-11' });
  const gp = professional('Dr. Lies Janssens');
  const gpInvite = await inviteMember(app, person, plan.id, { kind: 'professional', displayName: 'Dr. Lies Janssens', nihii: gp.claims.nihii, discipline: { code: 'gp', display: 'Huisarts' }, function: 'coordinator', scopes: ALL });
  await accept(app, gp, gpInvite.inviteCode);
  const homeCare = await inviteMember(app, person, plan.id, { kind: 'organisation', displayName: 'Thuiszorg Gent', organisationId: `org-${process.pid}`, discipline: 'home_nurse', scopes: ['tasks:read', 'notes:read', 'meetings:read'] });
  await accept(app, caller({ sub: `org-admin-${process.pid}`, org: `org-${process.pid}` }), homeCare.inviteCode);
  const nurse = caller({ sub: `nurse-${process.pid}`, org: `org-${process.pid}`, name: 'Sofie' });
  // Invited, never joined: not a participant of the CareTeam yet.
  await inviteMember(app, person, plan.id, { kind: 'volunteer', displayName: 'Buurman Jef', scopes: ['tasks:read'] });
  const daughter = await joinedCarer(app, person, plan.id, ['tasks:read']);
  const neighbour = await joinedCarer(app, person, plan.id, ['tasks:read', 'notes:read', 'meetings:read', 'team:read']);
  const leaving = await joinedCarer(app, person, plan.id, ALL);
  await send('DELETE', `team/${leaving.memberId}`);
  // Grant history: granted, changed, revoked.
  await send('PUT', `team/${daughter.memberId}/grant`, { scopes: ['tasks:read', 'tasks:write'] });
  await send('PUT', `team/${daughter.memberId}/grant`, { scopes: ['tasks:read'] });
  const revoked = await joinedCarer(app, person, plan.id, ['notes:read']);
  await send('DELETE', `team/${revoked.memberId}/grant`);

  const life = await post('life-goals', { title: 'Thuis blijven wonen', description: 'Met mijn kat, in mijn eigen huis.' });
  await send('PATCH', `life-goals/${life.id}`, { title: 'Thuis blijven wonen, met hulp' }, person, '1');
  const achieved = await post('life-goals', { title: 'Kleindochter zien trouwen', status: 'achieved' });
  await post('life-goals', { title: 'Weer fietsen', status: 'let_go' });
  const careGoals: Array<{ id: string }> = [];
  for (const status of ['proposed', 'active', 'achieved', 'not_achieved', 'cancelled']) {
    careGoals.push(await post('care-goals', { title: `Veilig wassen (${status})`, lifeGoalIds: [life.id, achieved.id], status, reviewDate: '2026-06-01' }));
  }
  const task = await post('tasks', { title: 'Steunkousen aantrekken', assigneeMemberId: daughter.memberId, careGoalId: careGoals[1]!.id, due: '2026-03-10' });
  const doneTask = await post('tasks', { title: 'Medicatie ophalen', assigneeMemberId: gpInvite.memberId, due: '2026-03-05T10:00:00Z', status: 'done' });
  const teamNote = await post('notes', { body: 'Goed geslapen.', phase: 'info', about: { type: 'life_goal', id: life.id } });
  await send('PUT', `notes/${teamNote.id}`, { body: 'Goed geslapen, zonder pijn.' }, person, '1');
  const proNote = await post('notes', { body: 'Decubitus graad 1 hiel links.', phase: 'acute', visibility: 'professionals' }, gp);
  const addressed = await post('notes', { body: 'Sleutel ligt bij de buren.', phase: 'follow_up', visibility: 'members', visibleTo: [neighbour.memberId] });
  const retracted = await post('notes', { body: 'Verkeerde patiënt.', phase: 'follow_up' }, gp);
  await send('DELETE', `notes/${retracted.id}`, undefined, gp, '1');
  await send('PUT', 'wishes', { statements: [{ topic: 'ziekenhuisopname', statement: 'Liefst geen ziekenhuisopname meer.' }] });
  await send('PUT', 'wishes', { statements: [{ topic: 'ziekenhuisopname', statement: 'Geen ziekenhuisopname meer.' }, { topic: 'reanimatie', statement: 'Niet reanimeren.' }] }, person, '1');
  await send('PUT', 'safety-plan', { warningSigns: ['Slaapt slecht'], whatHelps: ['Wandelen'], contacts: [{ name: 'Dr. Janssens', role: 'huisarts', phone: '+32 9 123 45 67' }] });
  await send('PUT', 'safety-plan', { warningSigns: ['Slaapt slecht', 'Eet niet'], whatHelps: ['Wandelen', 'Muziek'], contacts: [{ name: 'Dr. Janssens' }] }, person, '1');
  const meeting = await post('meetings', { title: 'Overleg thuiszorg', startsAt: '2026-04-01T09:00:00Z', endsAt: '2026-04-01T10:00:00Z', videoUrl: 'https://meet.example.org/kring-overleg', participantMemberIds: [gpInvite.memberId, homeCare.memberId], agenda: 'Wassen en steunkousen' });
  const cancelled = await post('meetings', { title: 'Huisbezoek', startsAt: '2026-05-01T14:00:00Z', endsAt: '2026-05-01T15:00:00Z', location: 'Thuis, Kerkstraat 1', participantMemberIds: [gpInvite.memberId] });
  await send('PATCH', `meetings/${cancelled.id}`, { status: 'cancelled' });
  const fullRep = await addRepresentative(app, person, plan.id, { displayName: 'Els Claes', level: 'full', basis: 'chosen' });
  const els = caller({ sub: `els-${process.pid}`, name: 'Els Claes' });
  await accept(app, els, fullRep.inviteCode);
  const guardian = await addRepresentative(app, person, plan.id, { displayName: 'Mr. Peeters', level: 'limited', basis: 'legal', validUntil: '2030-01-01T00:00:00Z' });
  await send('DELETE', `representatives/${guardian.id}`);

  // A plan a GP started (the steward writes on the person's behalf).
  const steward = professional('Dr. Steward');
  const stewarded = await createPersonAs(app, steward, { identifier: { system: 'passport', value: `P-${process.pid}` }, givenName: 'Marek', familyName: 'K.' });
  const stewardGoal = (await app.inject({ method: 'POST', url: `/v1/persons/${stewarded.id}/life-goals`, headers: steward.headers, payload: { title: 'Werk vinden' } })).json();

  t.test('metadata: a CapabilityStatement without a token, generated from the route table', async (t) => {
    const res = await get('/fhir/R4/metadata');
    t.equal(res.statusCode, 200);
    t.match(res.headers['content-type'], /^application\/fhir\+json/);
    const cs = res.json();
    t.equal(cs.resourceType, 'CapabilityStatement');
    t.equal(cs.fhirVersion, '4.0.1');
    const resources = cs.rest[0].resource as Array<{ type: string; interaction: Array<{ code: string }>; searchParam: Array<{ name: string }>; supportedProfile?: string[]; operation?: Array<{ name: string }> }>;
    t.same(resources.map((r) => r.type), ['Patient', 'CarePlan', 'CareTeam', 'Goal', 'Task', 'Communication', 'Consent', 'DocumentReference', 'Appointment', 'RelatedPerson', 'Provenance']);
    t.ok(resources.find((r) => r.type === 'Patient')!.operation!.some((o) => o.name === 'everything'));
    const interactions = (type: string) => resources.find((r) => r.type === type)!.interaction.map((i) => i.code);
    for (const type of ['Goal', 'Communication', 'Consent', 'DocumentReference']) t.same(interactions(type), ['read', 'vread', 'history-instance', 'search-type'], type);
    t.same(interactions('Appointment'), ['read', 'search-type']);
    const params = (type: string) => resources.find((r) => r.type === type)!.searchParam.map((p) => p.name);
    t.ok(params('Task').includes('owner') && params('Task').includes('status') && params('Task').includes('patient'));
    t.ok(params('Goal').includes('category') && params('Appointment').includes('date') && params('Communication').includes('sent'));
    for (const type of resources.map((r) => r.type)) t.ok(params(type).includes('_lastUpdated') && params(type).includes('_id') && params(type).includes('_count'), `${type} common params`);
    t.notOk(resources.find((r) => r.type === 'Appointment')!.supportedProfile, 'no Belgian profile claimed where none is met');
    const canonicals = (cs.extension as Array<{ extension: Array<{ url: string; valueUri?: string; valueCode?: string }> }>).map((e) => e.extension.find((x) => x.url === 'url')!.valueUri);
    for (const url of ['https://kring.dev/fhir/CodeSystem/team-function', 'https://kring.dev/fhir/CodeSystem/note-phase', 'https://kring.dev/fhir/CodeSystem/representative-level', 'https://kring.dev/fhir/StructureDefinition/representative-level']) {
      t.ok(canonicals.includes(url), url);
    }
    t.same(validationErrors(cs), []);
  });

  t.test('read: each type, with ETag, Last-Modified and meta', async (t) => {
    const reads: Array<[string, string, Caller?]> = [
      ['Patient', plan.id], ['CarePlan', plan.id], ['CareTeam', plan.id], ['Goal', life.id], ['Goal', careGoals[3]!.id],
      ['Task', task.id], ['Communication', teamNote.id], ['Communication', proNote.id, gp], ['Communication', retracted.id],
      ['Consent', `${plan.id}-w2`], ['DocumentReference', plan.id], ['Appointment', meeting.id], ['Appointment', cancelled.id],
      ['RelatedPerson', fullRep.id], ['RelatedPerson', guardian.id], ['Provenance', `goal-${life.id}-2`], ['Provenance', `note-${teamNote.id}-2`],
      ['Provenance', `wishes-${plan.id}-2`], ['Provenance', `safetyplan-${plan.id}-1`],
    ];
    for (const [type, id, who] of reads) {
      const res = await get(`/fhir/R4/${type}/${id}`, who ?? person);
      t.equal(res.statusCode, 200, `${type}/${id}`);
      if (res.statusCode !== 200) continue;
      const body = res.json();
      t.equal(body.resourceType, type);
      t.equal(body.id, id);
      t.match(res.headers['content-type'], /^application\/fhir\+json/);
      t.equal(res.headers.etag, `W/"${body.meta.versionId}"`);
      t.equal(res.headers['last-modified'], new Date(body.meta.lastUpdated).toUTCString());
    }
    t.equal((await get(`/fhir/R4/Communication/${proNote.id}`, person)).statusCode, 404, 'the professional-only note stays hidden from the person');
    const patient = (await get(`/fhir/R4/Patient/${plan.id}`, person)).json();
    t.match(patient.identifier[0], { use: 'official', system: 'https://www.ehealth.fgov.be/standards/fhir/core/NamingSystem/ssin', value: person.claims.insz });
    t.equal(patient.gender, 'other');
    t.match(patient.extension, [{ valueBoolean: false }, { url: 'http://hl7.org/fhir/StructureDefinition/patient-genderIdentity', valueCodeableConcept: { text: 'non-binair' } }]);
    const team = (await get(`/fhir/R4/CareTeam/${plan.id}`, person)).json();
    const practitioner = team.contained.find((c: { resourceType: string }) => c.resourceType === 'Practitioner');
    t.match(practitioner.identifier, [{}, { system: 'https://www.ehealth.fgov.be/standards/fhir/core/NamingSystem/nihdi', value: gp.claims.nihii }]);
    t.ok(team.participant.some((p: { period: { end?: string } }) => p.period.end), 'the member who left keeps an end');
    const careGoal = (await get(`/fhir/R4/Goal/${careGoals[3]!.id}`, person)).json();
    t.match(careGoal, { lifecycleStatus: 'completed', achievementStatus: { coding: [{ code: 'not-achieved' }] } });
    t.equal(careGoal.extension.length, 2, 'one goal-relationship per life goal');
    const gone = (await get(`/fhir/R4/Communication/${retracted.id}`, person)).json();
    t.equal(gone.status, 'entered-in-error');
    t.notOk(gone.payload);
    t.match((await get(`/fhir/R4/Communication/${proNote.id}`, gp)).json(), { priority: 'urgent', meta: { security: [{ code: 'R' }] }, payload: [{ contentString: 'Decubitus graad 1 hiel links.' }] });

    const wish = (await get(`/fhir/R4/Consent/${plan.id}-w2`, person)).json();
    t.match(wish, { status: 'active', scope: { coding: [{ code: 'adr' }] }, sourceAttachment: { title: 'reanimatie', contentType: 'text/plain; charset=utf-8' } });
    t.equal(Buffer.from(wish.sourceAttachment.data, 'base64').toString('utf8'), 'Niet reanimeren.');
    t.equal((await get(`/fhir/R4/Consent/${plan.id}-w3`, person)).statusCode, 404);
    const document = (await get(`/fhir/R4/DocumentReference/${plan.id}`, person)).json();
    t.equal(document.meta.versionId, '2');
    t.match(document.content[0].attachment, { contentType: 'text/plain; charset=utf-8' });
    t.match(Buffer.from(document.content[0].attachment.data, 'base64').toString('utf8'), /Eet niet[\s\S]*Muziek[\s\S]*Dr\. Janssens/);
    const appointment = (await get(`/fhir/R4/Appointment/${meeting.id}`, person)).json();
    t.match(appointment, {
      status: 'booked', description: 'Overleg thuiszorg', start: '2026-04-01T09:00:00.000Z', end: '2026-04-01T10:00:00.000Z', comment: 'Wassen en steunkousen',
      extension: [{ url: 'http://hl7.org/fhir/5.0/StructureDefinition/extension-Appointment.virtualService', extension: [{ url: 'addressUrl', valueUrl: 'https://meet.example.org/kring-overleg' }] }],
    });
    t.equal(appointment.participant.length, 2);
    t.ok(appointment.participant.every((p: { status: string }) => p.status === 'needs-action'));
    const visit = (await get(`/fhir/R4/Appointment/${cancelled.id}`, person)).json();
    t.match(visit, { status: 'cancelled', contained: [{ resourceType: 'Location', name: 'Thuis, Kerkstraat 1' }] });
    const rep = (await get(`/fhir/R4/RelatedPerson/${fullRep.id}`, person)).json();
    t.match(rep, { active: true, relationship: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-RoleCode', code: 'POWATT' }] }], extension: [{ valueCoding: { code: 'full' } }, { valueCoding: { code: 'chosen' } }] });
    const ended = (await get(`/fhir/R4/RelatedPerson/${guardian.id}`, person)).json();
    t.match(ended, { active: false, relationship: [{ coding: [{ code: 'GUARD' }] }] });
    t.ok(ended.period.end < '2030-01-01', 'an ended mandate ends when it ended');
    const provenance = (await get(`/fhir/R4/Provenance/goal-${life.id}-2`, person)).json();
    t.match(provenance, { target: [{ reference: `Goal/${life.id}/_history/2` }], agent: [{ type: { coding: [{ code: 'author' }] }, who: { reference: `Patient/${plan.id}` } }] });
    t.notOk(provenance.agent[0].onBehalfOf);
    t.equal((await get(`/fhir/R4/Provenance/wishes-${plan.id}-2`, person)).json().target.length, 2, 'one target per wish statement');
    const onBehalf = (await get(`/fhir/R4/Provenance/goal-${stewardGoal.id}-1`, steward)).json();
    t.match(onBehalf, { agent: [{ onBehalfOf: { reference: `Patient/${stewarded.id}` } }] });
    for (const bad of [`goal-${life.id}-9`, `note-${proNote.id}-1`, 'nope', `goal-${task.id}-1`]) t.equal((await get(`/fhir/R4/Provenance/${bad}`, person)).statusCode, 404, bad);
  });

  t.test('vread and history: the old content stays readable', async (t) => {
    const v1 = await get(`/fhir/R4/Goal/${life.id}/_history/1`, person);
    t.equal(v1.statusCode, 200);
    t.equal(v1.json().description.text, 'Thuis blijven wonen', 'version 1 has the first words');
    t.equal(v1.headers.etag, 'W/"1"');
    t.equal((await get(`/fhir/R4/Goal/${life.id}`, person)).json().description.text, 'Thuis blijven wonen, met hulp');
    const history = await bundle(`/fhir/R4/Goal/${life.id}/_history`, person);
    t.equal(history.type, 'history');
    t.same(history.entry.map((e) => e.resource.meta!.versionId), ['2', '1'], 'newest first');
    t.match(history.entry[1], { request: { method: 'POST' }, response: { etag: 'W/"1"' } });
    const note1 = (await get(`/fhir/R4/Communication/${teamNote.id}/_history/1`, person)).json();
    t.match(note1, { payload: [{ contentString: 'Goed geslapen.' }], meta: { versionId: '1' } });
    const retractedHistory = await bundle(`/fhir/R4/Communication/${retracted.id}/_history`, gp);
    t.same(retractedHistory.entry.map((e) => e.resource.status), ['entered-in-error', 'completed'], 'the tombstone and the version before it');
    const wishV1 = (await get(`/fhir/R4/Consent/${plan.id}-w1/_history/1`, person)).json();
    t.equal(Buffer.from((wishV1.sourceAttachment as { data: string }).data, 'base64').toString(), 'Liefst geen ziekenhuisopname meer.');
    t.equal((await get(`/fhir/R4/Consent/${plan.id}-w2/_history/1`, person)).statusCode, 404, 'the second statement did not exist in version 1');
    t.same(ids((await bundle(`/fhir/R4/Consent/${plan.id}-w2/_history`, person)).entry), [`${plan.id}-w2`]);
    const planV1 = (await get(`/fhir/R4/DocumentReference/${plan.id}/_history/1`, person)).json();
    t.notMatch(Buffer.from(planV1.content[0].attachment.data, 'base64').toString(), /Eet niet/);
    const paged = await bundle(`/fhir/R4/DocumentReference/${plan.id}/_history?_count=1`, person);
    t.equal(paged.entry.length, 1);
    const rest = await everyPage(`/fhir/R4/DocumentReference/${plan.id}/_history?_count=1`, person);
    t.same(rest.entries.map((e) => e.resource.meta!.versionId), ['2', '1']);
    const grants = await bundle(`/fhir/R4/Consent?patient=${plan.id}&scope=patient-privacy`, person);
    const grantId = grants.entry[0]!.resource.id;
    t.equal((await bundle(`/fhir/R4/Consent/${grantId}/_history`, person)).entry.length, 1, 'a grant record never changes');
    const grantVersion = grants.entry[0]!.resource.meta!.versionId!;
    t.equal((await get(`/fhir/R4/Consent/${grantId}/_history/${grantVersion}`, person)).statusCode, 200);
    for (const url of [`/fhir/R4/Goal/${life.id}/_history/3`, `/fhir/R4/Goal/${life.id}/_history/x!`, `/fhir/R4/Communication/${proNote.id}/_history/1`, `/fhir/R4/Communication/${teamNote.id}/_history/9`,
      `/fhir/R4/DocumentReference/${plan.id}/_history/9`, `/fhir/R4/DocumentReference/${stewarded.id}/_history`, `/fhir/R4/Consent/${plan.id}-w1/_history/9`, `/fhir/R4/Goal/not-a-goal/_history`, `/fhir/R4/Task/${task.id}/_history`]) {
      const res = await get(url, person);
      t.equal(res.statusCode, 404, url);
      t.equal(res.json().resourceType, 'OperationOutcome');
    }
    t.equal((await get(`/fhir/R4/Goal/${life.id}/_history?_cursor=!!`, person)).statusCode, 400);
  });

  t.test('search: parameters per type, filters and paging', async (t) => {
    const first = await bundle(`/fhir/R4/Goal?patient=${plan.id}&_count=3`, person);
    t.equal(first.type, 'searchset');
    t.equal(first.entry.length, 3);
    const goals = await everyPage(`/fhir/R4/Goal?patient=${plan.id}&_count=3`, person);
    t.equal(goals.entries.length, 8, 'three life goals and five care goals');
    t.equal(new Set(ids(goals.entries)).size, 8, 'nothing repeated');
    const count = async (url: string, who: Caller = person) => (await everyPage(url, who)).entries.length;
    t.equal(await count(`/fhir/R4/Goal?patient=${plan.id}&category=what-matters`), 3);
    t.equal(await count(`/fhir/R4/Goal?patient=${plan.id}&category=https://kring.dev/fhir/CodeSystem/goal-kind|care-goal`), 5);
    t.equal(await count(`/fhir/R4/Goal?patient=${plan.id}&lifecycle-status=completed`), 3, 'one achieved life goal, achieved and not achieved care goals');
    t.equal(await count(`/fhir/R4/Goal?patient=${plan.id}&lifecycle-status=proposed`), 1);
    t.equal(await count(`/fhir/R4/Goal?patient=${plan.id}&lifecycle-status=on-hold`), 0);
    t.equal(await count(`/fhir/R4/Goal?patient=${plan.id}&_id=${life.id},${careGoals[0]!.id},nope`), 2);
    t.equal(await count(`/fhir/R4/Task?patient=${plan.id}&status=completed`), 1);
    t.equal(await count(`/fhir/R4/Task?patient=${plan.id}&owner=${daughter.memberId}`), 1);
    t.equal(await count(`/fhir/R4/Task?patient=${plan.id}&owner=Practitioner/${gpInvite.memberId}`), 1);
    t.equal(await count(`/fhir/R4/Task?patient=${plan.id}&owner=nobody`), 0);
    t.equal(await count(`/fhir/R4/Task?patient=${plan.id}&_id=${doneTask.id}`), 1);
    t.equal(await count(`/fhir/R4/Communication?patient=${plan.id}&status=entered-in-error`), 1);
    t.equal(await count(`/fhir/R4/Communication?patient=${plan.id}&status=completed`), 2, 'the team note and the addressed note (controllers see it)');
    t.equal(await count(`/fhir/R4/Communication?patient=${plan.id}&sent=lt2000-01-01`), 0);
    t.equal(await count(`/fhir/R4/Communication?patient=${plan.id}&sent=ge2000-01-01`), 3);
    t.equal(await count(`/fhir/R4/Appointment?patient=${plan.id}&date=ge2026-04-01&date=lt2026-04-02`), 1);
    t.equal(await count(`/fhir/R4/Appointment?patient=${plan.id}&status=cancelled`), 1);
    t.equal(await count(`/fhir/R4/Appointment?patient=${plan.id}&date=2026-05`), 1);
    t.equal(await count(`/fhir/R4/Consent?patient=${plan.id}&scope=adr`), 2);
    t.equal(await count(`/fhir/R4/Consent?patient=${plan.id}&status=active&scope=patient-privacy`), 5, 'GP, home care, the daughter\'s latest, the neighbour, and the invited volunteer (consent given, not yet used)');
    t.ok((await count(`/fhir/R4/Consent?patient=${plan.id}&status=inactive`)) >= 4, 'superseded, revoked and ended grants');
    t.equal(await count(`/fhir/R4/DocumentReference?patient=Patient/${plan.id}&status=current`), 1);
    t.equal(await count(`/fhir/R4/RelatedPerson?patient=${plan.id}`), 2);
    t.equal(await count(`/fhir/R4/CarePlan?patient=${plan.id}&status=active`), 1);
    t.equal(await count(`/fhir/R4/CareTeam?patient=${plan.id}&_lastUpdated=lt2000-01-01`), 0);
    const provenance = await everyPage(`/fhir/R4/Provenance?patient=${plan.id}&_count=5`, person);
    t.equal(new Set(ids(provenance.entries)).size, provenance.entries.length);
    t.ok(ids(provenance.entries).includes(`goal-${life.id}-2`));
    t.notOk(ids(provenance.entries).some((id) => id.includes(proNote.id)), 'no Provenance of a note the caller may not read');

    const before = (await bundle(`/fhir/R4/Task?patient=${plan.id}`, person)).entry.length;
    t.equal(before, 2);
    const since = new Date().toISOString();
    await new Promise((r) => setTimeout(r, 5));
    await send('PATCH', `tasks/${task.id}`, { status: 'in_progress' });
    const changed = await bundle(`/fhir/R4/Task?patient=Patient/${plan.id}&_lastUpdated=gt${since}`, person);
    t.same(changed.entry.map((e) => [e.resource.id, e.resource.status]), [[task.id, 'in-progress']], '_lastUpdated=gt returns exactly what changed');
    t.equal((await bundle(`/fhir/R4/Task?patient=${plan.id}&status=in-progress`, person)).entry.length, 1);

    const byInsz = await bundle(`/fhir/R4/Patient?identifier=https://www.ehealth.fgov.be/standards/fhir/core/NamingSystem/ssin|${person.claims.insz}`, gp);
    t.equal(byInsz.entry.length, 1);
    t.equal((await bundle(`/fhir/R4/Patient?identifier=urn:other|${person.claims.insz}`, gp)).entry.length, 0);
    t.equal((await bundle(`/fhir/R4/Patient?_id=nope`, gp)).entry.length, 0);
    t.equal((await bundle(`/fhir/R4/Patient?_id=${plan.id}`, gp)).entry.length, 1);
    t.equal(await count(`/fhir/R4/Communication?patient=${plan.id}`, person), 3, 'the professional-only note stays hidden from the person');
    t.equal(await count(`/fhir/R4/Communication?patient=${plan.id}`, gp), 3, 'the GP: team, professional and retracted, not the note addressed to the neighbour');
    t.equal(await count(`/fhir/R4/Communication?patient=${plan.id}`, nurse), 3, 'an organisation member reads professional-only notes');
    t.equal(await count(`/fhir/R4/Communication?patient=${plan.id}`, neighbour.who), 3, 'the neighbour: team, addressed and retracted');
  });

  t.test('paging through 250 notes loses and repeats nothing; _lastUpdated=gt returns exactly what changed', async (t) => {
    const { who: owner, person: big } = await citizenWithPlan(app);
    const authorSub = owner.claims.sub;
    const start = Date.now() - 3_600_000;
    await database.db.transaction().execute(async (trx) => {
      for (let i = 0; i < 250; i++) {
        const at = new Date(start + i * 1000);
        await insertNote(trx, { person_id: big.id, note_id: newId(), phase: 'info', visibility: 'team', visible_to: [], about_type: null, about_id: null, author_sub: authorSub, author_name: 'An', author_role: 'person', author_member_id: null, created_at: at, updated_at: at }, `Notitie ${i}`);
      }
    });
    const all = await everyPage(`/fhir/R4/Communication?patient=${big.id}&_count=200`, owner);
    t.equal(all.entries.length, 250);
    t.equal(all.pages, 2);
    const small = await everyPage(`/fhir/R4/Communication?patient=${big.id}&_count=7`, owner);
    t.equal(small.entries.length, 250);
    t.equal(new Set(ids(small.entries)).size, 250, 'nothing repeated');
    t.same(ids(small.entries), ids(all.entries), 'the same order whatever the page size');
    const cut = new Date(start + 239 * 1000).toISOString();
    const recent = await everyPage(`/fhir/R4/Communication?patient=${big.id}&_lastUpdated=gt${cut}&_count=4`, owner);
    t.equal(recent.entries.length, 10, 'exactly the last ten');
    const everything = await everyPage(`/fhir/R4/Patient/${big.id}/$everything?_count=60`, owner);
    t.equal(everything.entries.filter((e) => e.resource.resourceType === 'Communication').length, 250);
    t.equal(new Set(everything.entries.map((e) => `${e.resource.resourceType}/${e.resource.id}`)).size, everything.entries.length);
  });

  t.test('$everything: the whole plan the caller may read, with _since, _type and _count', async (t) => {
    const res = await get(`/fhir/R4/Patient/${plan.id}/$everything`, person);
    t.equal(res.statusCode, 200);
    const page = res.json() as BundleBody;
    t.same(types(page.entry), ['Patient', 'CarePlan', 'CareTeam', 'Goal', 'Task', 'Communication', 'Consent', 'DocumentReference', 'Appointment', 'RelatedPerson', 'Provenance']);
    const carePlan = page.entry[1]!.resource as unknown as { goal: unknown[]; activity: Array<{ reference: { reference: string } }> };
    t.equal(carePlan.goal.length, 8);
    t.same(carePlan.activity.map((a) => a.reference.reference.split('/')[0]), ['Task', 'Task', 'Appointment', 'Appointment']);
    const all = await everyPage(`/fhir/R4/Patient/${plan.id}/$everything?_count=7`, person);
    t.equal(all.entries.length, page.total, 'the pages hold exactly the total');
    t.equal(new Set(all.entries.map((e) => `${e.resource.resourceType}/${e.resource.id}`)).size, all.entries.length);
    const onlyGoals = await bundle(`/fhir/R4/Patient/${plan.id}/$everything?_type=Goal,Appointment`, person);
    t.same(types(onlyGoals.entry), ['Goal', 'Appointment']);
    const since = new Date().toISOString();
    await new Promise((r) => setTimeout(r, 5));
    await send('PATCH', `meetings/${meeting.id}`, { agenda: 'Wassen, steunkousen en medicatie' });
    const recent = await bundle(`/fhir/R4/Patient/${plan.id}/$everything?_since=${since}`, person);
    t.same(recent.entry.map((e) => `${e.resource.resourceType}/${e.resource.id}`), [`CarePlan/${plan.id}`, `Appointment/${meeting.id}`]);
    for (const url of [`/fhir/R4/Patient/${plan.id}/$everything?_type=Observation`, `/fhir/R4/Patient/${plan.id}/$everything?_since=2026-01-01`, `/fhir/R4/Patient/${plan.id}/$everything?_count=201`, `/fhir/R4/Patient/${plan.id}/$everything?_cursor=%25%25`, `/fhir/R4/Patient/${plan.id}/$everything?foo=1`]) {
      const bad = await get(url, person);
      t.equal(bad.statusCode, 400, url);
      t.equal(bad.json().resourceType, 'OperationOutcome');
    }
  });

  t.test('every resource the facade produces validates against the R4 JSON schema and FHIR.js', async (t) => {
    const resources = new Map<string, unknown>();
    const collect = (entries: Entry[]) => entries.forEach((e) => resources.set(`${e.resource.resourceType}/${e.resource.id}/${e.resource.meta?.versionId}`, e.resource));
    for (const who of [person, gp, nurse, neighbour.who]) collect((await everyPage(`/fhir/R4/Patient/${plan.id}/$everything?_count=200`, who)).entries);
    collect((await everyPage(`/fhir/R4/Patient/${stewarded.id}/$everything`, steward)).entries);
    const histories = [`Goal/${life.id}`, `Goal/${careGoals[2]!.id}`, `Communication/${teamNote.id}`, `Communication/${retracted.id}`, `Communication/${addressed.id}`, `Consent/${plan.id}-w1`, `DocumentReference/${plan.id}`];
    for (const path of histories) {
      const history = await bundle(`/fhir/R4/${path}/_history`, person);
      t.same(validationErrors(history), [], `${path}/_history as a Bundle`);
      collect(history.entry);
    }
    const kinds = new Set([...resources.values()].map((r) => (r as { resourceType: string }).resourceType));
    t.same([...kinds].sort(), ['Appointment', 'CarePlan', 'CareTeam', 'Communication', 'Consent', 'DocumentReference', 'Goal', 'Patient', 'Provenance', 'RelatedPerson', 'Task']);
    for (const [key, resource] of resources) t.same(validationErrors(resource), [], key);
    const searchset = await bundle(`/fhir/R4/Patient/${plan.id}/$everything`, person);
    t.same(validationErrors(searchset), [], 'a searchset Bundle');
    t.same(validationErrors((await get('/fhir/R4/Observation/1')).json()), [], 'an OperationOutcome');
  });

  t.test('a member with only tasks:read gets Tasks and nothing else', async (t) => {
    const who = daughter.who;
    t.equal((await bundle(`/fhir/R4/Task?patient=${plan.id}`, who)).entry.length, 2);
    t.equal((await get(`/fhir/R4/Task/${task.id}`, who)).statusCode, 200);
    for (const type of ['Goal', 'Communication', 'CareTeam', 'Consent', 'DocumentReference', 'Appointment', 'RelatedPerson', 'Provenance']) {
      const res = await get(`/fhir/R4/${type}?patient=${plan.id}`, who);
      t.equal(res.statusCode, 200);
      t.equal(res.json().entry.length, 0, `${type} search is empty`);
    }
    t.equal((await bundle(`/fhir/R4/Patient?_id=${plan.id}`, who)).entry.length, 0);
    const forbidden = await get(`/fhir/R4/Goal/${life.id}`, who);
    t.equal(forbidden.statusCode, 403);
    t.equal(forbidden.json().issue[0].code, 'forbidden');
    for (const url of [`/fhir/R4/Patient/${plan.id}`, `/fhir/R4/Goal/${life.id}/_history`, `/fhir/R4/Goal/${life.id}/_history/1`, `/fhir/R4/Consent/${plan.id}-w1`, `/fhir/R4/DocumentReference/${plan.id}`, `/fhir/R4/Appointment/${meeting.id}`, `/fhir/R4/RelatedPerson/${fullRep.id}`, `/fhir/R4/Provenance/goal-${life.id}-1`]) {
      t.equal((await get(url, who)).statusCode, 403, url);
    }
    const everything = await bundle(`/fhir/R4/Patient/${plan.id}/$everything`, who);
    t.same(types(everything.entry), ['CarePlan', 'Task']);
    t.notOk(everything.entry[0]!.resource.goal, 'no Goal through CarePlan.goal either');
  });

  t.test('a member without goals:read finds no Goal by any way; Consent of grants only for controllers', async (t) => {
    const who = neighbour.who;
    t.equal((await bundle(`/fhir/R4/Goal?patient=${plan.id}`, who)).entry.length, 0);
    t.equal((await get(`/fhir/R4/Goal/${life.id}`, who)).statusCode, 403);
    const everything = await everyPage(`/fhir/R4/Patient/${plan.id}/$everything`, who);
    t.notOk(types(everything.entries).includes('Goal'));
    t.notOk(types(everything.entries).includes('Consent'));
    t.notOk(everything.entries.find((e) => e.resource.resourceType === 'CarePlan')!.resource.goal);
    t.ok(types(everything.entries).includes('Appointment'));
    t.notOk(everything.entries.some((e) => e.resource.resourceType === 'Provenance' && e.resource.id.startsWith('goal-')));
    // The GP holds every scope, yet a grant is for controllers: no Consent but the wishes.
    const gpConsents = await bundle(`/fhir/R4/Consent?patient=${plan.id}`, gp);
    t.ok(gpConsents.entry.every((e) => (e.resource.scope as { coding: Array<{ code: string }> }).coding[0]!.code === 'adr'));
    const grantId = (await bundle(`/fhir/R4/Consent?patient=${plan.id}&scope=patient-privacy`, els)).entry[0]!.resource.id;
    t.equal((await get(`/fhir/R4/Consent/${grantId}`, els)).statusCode, 200, 'a full representative controls');
    t.equal((await get(`/fhir/R4/Consent/${grantId}`, gp)).statusCode, 403);
    t.equal((await get(`/fhir/R4/Consent/${grantId}`, citizen())).statusCode, 404);
    // Professional-only notes: marked R, and only for professional and organisation members.
    t.ok((await bundle(`/fhir/R4/Communication?patient=${plan.id}`, nurse)).entry.some((e) => e.resource.meta?.security?.[0]?.code === 'R'));
    t.notOk((await bundle(`/fhir/R4/Communication?patient=${plan.id}`, who)).entry.some((e) => e.resource.id === proNote.id));
    t.equal((await get(`/fhir/R4/Communication/${proNote.id}`, els)).statusCode, 404);
  });

  t.test('an unrelated caller: 404 on read, an empty Bundle on search, never a hint', async (t) => {
    const stranger = citizen();
    const unknown = await get(`/fhir/R4/Task/${task.id}`, stranger);
    const missing = await get('/fhir/R4/Task/0195f3a0-0000-7000-8000-000000000000', stranger);
    t.equal(unknown.statusCode, 404);
    t.equal(missing.statusCode, 404);
    t.equal(unknown.json().issue[0].code, 'not-found');
    t.equal(unknown.json().issue[0].diagnostics.replace(task.id, 'X'), missing.json().issue[0].diagnostics.replace('0195f3a0-0000-7000-8000-000000000000', 'X'));
    t.equal((await get(`/fhir/R4/Patient/not-a-uuid`, stranger)).statusCode, 404);
    for (const url of [`/fhir/R4/Consent/${plan.id}-w1`, `/fhir/R4/DocumentReference/${plan.id}`, `/fhir/R4/Appointment/${meeting.id}`, `/fhir/R4/RelatedPerson/${fullRep.id}`, `/fhir/R4/Provenance/goal-${life.id}-1`, `/fhir/R4/Goal/${life.id}/_history`, `/fhir/R4/Communication/${teamNote.id}/_history/1`]) {
      t.equal((await get(url, stranger)).statusCode, 404, url);
    }
    for (const type of ['Task', 'Goal', 'CarePlan', 'CareTeam', 'Communication', 'Consent', 'DocumentReference', 'Appointment', 'RelatedPerson', 'Provenance']) {
      const res = await get(`/fhir/R4/${type}?patient=${plan.id}`, stranger);
      t.equal(res.statusCode, 200);
      t.equal(res.json().entry.length, 0, type);
    }
    t.equal((await get(`/fhir/R4/Patient/${plan.id}/$everything`, stranger)).statusCode, 404);
  });

  t.test('errors are OperationOutcome: bad input 400, no token 401, writes 405', async (t) => {
    const cases: Array<[string, number, string]> = [
      [`/fhir/R4/Task?patient=${plan.id}&_summary=true`, 400, 'not-supported'],
      [`/fhir/R4/Appointment?patient=${plan.id}&owner=x`, 400, 'not-supported'],
      [`/fhir/R4/Task?patient=${plan.id}&_count=500`, 400, 'invalid'],
      [`/fhir/R4/Task?patient=${plan.id}&_count=201`, 400, 'invalid'],
      [`/fhir/R4/Task?patient=${plan.id}&_lastUpdated=yesterday`, 400, 'invalid'],
      [`/fhir/R4/Task?patient=${plan.id}&_lastUpdated=gt2026-02-31`, 400, 'invalid'],
      [`/fhir/R4/Appointment?patient=${plan.id}&date=soon`, 400, 'invalid'],
      [`/fhir/R4/Communication?patient=${plan.id}&sent=gt2026-13`, 400, 'invalid'],
      [`/fhir/R4/Task?patient=${plan.id}&_cursor=nope`, 400, 'invalid'],
      [`/fhir/R4/Consent?patient=${plan.id}&_cursor=%25`, 400, 'invalid'],
      ['/fhir/R4/Task', 400, 'invalid'],
      ['/fhir/R4/Observation/1', 404, 'not-found'],
    ];
    for (const [url, status, code] of cases) {
      const res = await get(url, person);
      t.equal(res.statusCode, status, url);
      t.match(res.headers['content-type'], /^application\/fhir\+json/);
      t.match(res.json(), { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code }] }, url);
    }
    const noToken = await get(`/fhir/R4/Patient/${plan.id}`);
    t.equal(noToken.statusCode, 401);
    t.match(noToken.json(), { resourceType: 'OperationOutcome', issue: [{ code: 'login' }] });
    t.equal(noToken.headers['www-authenticate'], 'Bearer');
    for (const [method, url] of [['POST', '/fhir/R4/Task'], ['PUT', `/fhir/R4/Task/${task.id}`], ['DELETE', `/fhir/R4/Patient/${plan.id}`], ['POST', '/fhir/R4'], ['PATCH', `/fhir/R4/Goal/${life.id}`]] as const) {
      const res = await app.inject({ method, url, headers: { ...person.headers, 'content-type': 'application/fhir+json' }, payload: '{"resourceType":"Task"}' });
      t.equal(res.statusCode, 405, `${method} ${url}`);
      t.match(res.json(), { resourceType: 'OperationOutcome', issue: [{ code: 'not-supported' }] });
    }
    // /v1 keeps problem+json.
    t.match((await get(`/v1/persons/${plan.id}`)).headers['content-type'], /^application\/problem\+json/);
  });

  t.test('every FHIR read is audited like the /v1 read', async (t) => {
    const entries = async () =>
      database.db.selectFrom('audit_entries').select(['seq', 'action', 'resource_type']).where('person_id', '=', plan.id).orderBy('seq', 'desc').execute();
    const reads: Array<[string, string]> = [
      [`/fhir/R4/Patient/${plan.id}`, 'person'], [`/fhir/R4/Task/${task.id}`, 'task'], [`/fhir/R4/Goal?patient=${plan.id}`, 'life_goal'],
      [`/fhir/R4/Goal/${life.id}/_history/1`, 'life_goal_history'], [`/fhir/R4/Communication/${teamNote.id}/_history/1`, 'note_version'],
      [`/fhir/R4/Consent/${plan.id}-w1`, 'wishes'], [`/fhir/R4/DocumentReference/${plan.id}/_history`, 'safety_plan_history'],
      [`/fhir/R4/Appointment/${meeting.id}`, 'meeting'], [`/fhir/R4/Appointment?patient=${plan.id}`, 'meeting'], [`/fhir/R4/RelatedPerson/${fullRep.id}`, 'representative'],
      [`/fhir/R4/RelatedPerson?patient=${plan.id}`, 'representative'], [`/fhir/R4/Provenance?patient=${plan.id}`, 'provenance'], [`/fhir/R4/Patient/${plan.id}/$everything`, 'grant'],
    ];
    for (const [url, resourceType] of reads) {
      const top = (await entries())[0]?.seq ?? 0;
      t.equal((await get(url, person)).statusCode, 200, url);
      const added = (await entries()).filter((e) => e.seq > top);
      t.ok(added.some((e) => e.resource_type === resourceType), `${url} wrote a ${resourceType} entry`);
    }
    const grantId = (await bundle(`/fhir/R4/Consent?patient=${plan.id}&scope=patient-privacy`, person)).entry[0]!.resource.id;
    const top = (await entries())[0]!.seq;
    await get(`/fhir/R4/Consent/${grantId}`, person);
    t.ok((await entries()).some((e) => e.seq > top && e.resource_type === 'grant' && e.action === 'read'));
  });
});
