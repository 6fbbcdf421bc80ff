// The FHIR R4 facade end to end: metadata, read, search, $everything, scopes, errors as OperationOutcome, schema validity.
import t from 'tap';
import { buildTestApp } from './helpers/app.js';
import { citizen, citizenWithPlan, professional, type Caller } from './helpers/factories.js';
import { schemaErrors } from './helpers/fhir.js';
import { accept, inviteMember, joinedCarer } from './helpers/team.js';

const ALL = ['profile', 'team', 'goals', 'tasks', 'notes'].flatMap((c) => [`${c}:read`, `${c}:write`]);

t.test('FHIR R4 facade', async (t) => {
  const { app, database } = await buildTestApp(t, { env: { RATE_LIMIT_PER_MINUTE: '100000' } });
  const get = (url: string, who?: Caller) => app.inject({ method: 'GET', url, headers: who?.headers ?? {} });

  // A realistic plan: a GP, a home nurse's organisation, a daughter who only sees tasks, goals of
  // every status, tasks, notes of each visibility and a retracted one.
  const { who: person, person: plan } = await citizenWithPlan(app);
  const post = async (path: string, payload: Record<string, unknown>, as: Caller = person) => {
    const res = await app.inject({ method: 'POST', url: `/v1/persons/${plan.id}/${path}`, headers: as.headers, payload });
    if (res.statusCode !== 201) throw new Error(`${path}: ${res.statusCode} ${res.body}`);
    return res.json();
  };
  await app.inject({ method: 'PATCH', url: `/v1/persons/${plan.id}`, headers: person.headers, payload: { gender: 'non-binair', language: 'nl', interpreterNeeded: false, birthDate: '1941-02-11' } });
  const gp = professional('Dr. Lies Janssens');
  const gpInvite = await inviteMember(app, person, plan.id, { kind: 'professional', displayName: 'Dr. Lies Janssens', nihii: gp.claims.nihii, discipline: { code: 'gp', display: 'Huisarts' }, function: 'coordinator', scopes: ALL });
  await accept(app, gp, gpInvite.inviteCode);
  const daughter = await joinedCarer(app, person, plan.id, ['tasks:read']);
  const leaving = await joinedCarer(app, person, plan.id, ALL);
  await app.inject({ method: 'DELETE', url: `/v1/persons/${plan.id}/team/${leaving.memberId}`, headers: person.headers });

  const life = await post('life-goals', { title: 'Thuis blijven wonen', description: 'Met mijn kat, in mijn eigen huis.' });
  const achieved = await post('life-goals', { title: 'Kleindochter zien trouwen', status: 'achieved' });
  await post('life-goals', { title: 'Weer fietsen', status: 'let_go' });
  const careGoals: Array<{ id: string }> = [];
  for (const status of ['proposed', 'active', 'achieved', 'not_achieved', 'cancelled']) {
    careGoals.push(await post('care-goals', { title: `Veilig wassen (${status})`, lifeGoalIds: [life.id, achieved.id], status, reviewDate: '2026-06-01' }));
  }
  const task = await post('tasks', { title: 'Steunkousen aantrekken', assigneeMemberId: daughter.memberId, careGoalId: careGoals[1]!.id, due: '2026-03-10' });
  await post('tasks', { title: 'Medicatie ophalen', assigneeMemberId: gpInvite.memberId, due: '2026-03-05T10:00:00Z', status: 'done' });
  const teamNote = await post('notes', { body: 'Goed geslapen.', phase: 'info', about: { type: 'life_goal', id: life.id } });
  const proNote = await post('notes', { body: 'Decubitus graad 1 hiel links.', phase: 'acute', visibility: 'professionals' }, gp);
  const retracted = await post('notes', { body: 'Verkeerde patiënt.', phase: 'follow_up' }, gp);
  t.equal((await app.inject({ method: 'DELETE', url: `/v1/persons/${plan.id}/notes/${retracted.id}`, headers: { ...gp.headers, 'if-match': '"1"' } })).statusCode, 200);

  t.test('metadata: a CapabilityStatement without a token, generated from the route table', async (t) => {
    const res = await get('/fhir/R4/metadata');
    t.equal(res.statusCode, 200);
    t.match(res.headers['content-type'], /^application\/fhir\+json/);
    const cs = res.json();
    t.equal(cs.resourceType, 'CapabilityStatement');
    t.equal(cs.fhirVersion, '4.0.1');
    t.same(cs.rest[0].resource.map((r: { type: string }) => r.type), ['Patient', 'CarePlan', 'CareTeam', 'Goal', 'Task', 'Communication']);
    t.ok(cs.rest[0].resource.find((r: { type: string }) => r.type === 'Patient').operation.some((o: { name: string }) => o.name === 'everything'));
    t.same(schemaErrors(cs), []);
  });

  t.test('read: each type, with ETag and meta, valid against the R4 schema', async (t) => {
    const ids: Array<[string, string]> = [
      ['Patient', plan.id], ['CarePlan', plan.id], ['CareTeam', plan.id], ['Goal', life.id], ['Goal', careGoals[3]!.id],
      ['Task', task.id], ['Communication', teamNote.id], ['Communication', proNote.id], ['Communication', retracted.id],
    ];
    for (const [type, id] of ids) {
      const res = await get(`/fhir/R4/${type}/${id}`, person);
      t.equal(res.statusCode, type === 'Communication' && id === proNote.id ? 404 : 200, `${type}/${id} as the person`);
      if (res.statusCode !== 200) continue;
      const body = res.json();
      t.equal(body.resourceType, type);
      t.match(res.headers['content-type'], /^application\/fhir\+json/);
      t.equal(res.headers.etag, `W/"${body.meta.versionId}"`);
      t.ok(body.meta.lastUpdated);
      t.same(schemaErrors(body), [], `${type} validates`);
    }
    const patient = (await get(`/fhir/R4/Patient/${plan.id}`, person)).json();
    t.match(patient.identifier[0], { use: 'official', system: 'https://www.ehealth.fgov.be/standards/fhir/core/NamingSystem/ssin', value: person.claims.insz });
    t.equal(patient.gender, 'other');
    t.match(patient.extension, [{ valueBoolean: false }, { url: 'http://hl7.org/fhir/StructureDefinition/patient-genderIdentity', valueCodeableConcept: { text: 'non-binair' } }]);
    const team = (await get(`/fhir/R4/CareTeam/${plan.id}`, person)).json();
    const practitioner = team.contained.find((c: { resourceType: string }) => c.resourceType === 'Practitioner');
    t.match(practitioner.identifier, [{}, { system: 'https://www.ehealth.fgov.be/standards/fhir/core/NamingSystem/nihdi', value: gp.claims.nihii }]);
    t.ok(team.participant.some((p: { period: { end?: string } }) => p.period.end), 'the member who left keeps an end');
    const careGoal = (await get(`/fhir/R4/Goal/${careGoals[3]!.id}`, person)).json();
    t.equal(careGoal.lifecycleStatus, 'completed');
    t.equal(careGoal.achievementStatus.coding[0].code, 'not-achieved');
    t.equal(careGoal.extension.length, 2, 'one goal-relationship per life goal');
    const gone = (await get(`/fhir/R4/Communication/${retracted.id}`, person)).json();
    t.equal(gone.status, 'entered-in-error');
    t.notOk(gone.payload);
    const restricted = (await get(`/fhir/R4/Communication/${proNote.id}`, gp)).json();
    t.match(restricted, { priority: 'urgent', meta: { security: [{ code: 'R' }] }, payload: [{ contentString: 'Decubitus graad 1 hiel links.' }] });
  });

  t.test('search: searchset Bundles, paging, _lastUpdated, and valid entries', async (t) => {
    const res = await get(`/fhir/R4/Goal?patient=${plan.id}&_count=3`, person);
    t.equal(res.statusCode, 200);
    const first = res.json();
    t.equal(first.type, 'searchset');
    t.equal(first.entry.length, 3);
    const next = first.link.find((l: { relation: string }) => l.relation === 'next').url;
    const seen = first.entry.map((e: { resource: { id: string } }) => e.resource.id);
    let url: string | undefined = next;
    while (url) {
      const page = (await get(new URL(url).pathname + new URL(url).search, person)).json();
      seen.push(...page.entry.map((e: { resource: { id: string } }) => e.resource.id));
      url = page.link.find((l: { relation: string }) => l.relation === 'next')?.url;
    }
    t.equal(seen.length, 8, 'three life goals and five care goals');
    t.equal(new Set(seen).size, 8, 'nothing repeated');
    t.same(schemaErrors(first), []);

    const before = (await get(`/fhir/R4/Task?patient=${plan.id}`, person)).json();
    t.equal(before.entry.length, 2);
    const since = new Date().toISOString();
    await new Promise((r) => setTimeout(r, 5));
    await app.inject({ method: 'PATCH', url: `/v1/persons/${plan.id}/tasks/${task.id}`, headers: person.headers, payload: { status: 'in_progress' } });
    const changed = (await get(`/fhir/R4/Task?patient=Patient/${plan.id}&_lastUpdated=gt${since}`, person)).json();
    t.same(changed.entry.map((e: { resource: { id: string; status: string } }) => [e.resource.id, e.resource.status]), [[task.id, 'in-progress']]);

    const byInsz = (await get(`/fhir/R4/Patient?identifier=https://www.ehealth.fgov.be/standards/fhir/core/NamingSystem/ssin|${person.claims.insz}`, gp)).json();
    t.equal(byInsz.entry.length, 1);
    const notes = (await get(`/fhir/R4/Communication?patient=${plan.id}`, person)).json();
    t.equal(notes.entry.length, 2, 'the professional-only note stays hidden from the person');
    t.equal((await get(`/fhir/R4/Communication?patient=${plan.id}`, gp)).json().entry.length, 3);
  });

  t.test('$everything: the whole plan the caller may read', async (t) => {
    const res = await get(`/fhir/R4/Patient/${plan.id}/$everything`, gp);
    t.equal(res.statusCode, 200);
    const bundle = res.json();
    const types = bundle.entry.map((e: { resource: { resourceType: string } }) => e.resource.resourceType);
    t.same([...new Set(types)], ['Patient', 'CarePlan', 'CareTeam', 'Goal', 'Task', 'Communication']);
    t.equal(types.filter((x: string) => x === 'Goal').length, 8);
    t.same(schemaErrors(bundle), []);
    const carePlan = bundle.entry[1].resource;
    t.equal(carePlan.goal.length, 8);
    t.equal(carePlan.activity.length, 2);
  });

  t.test('a member with only tasks:read gets Tasks and nothing else', async (t) => {
    const who = daughter.who;
    t.equal((await get(`/fhir/R4/Task?patient=${plan.id}`, who)).json().entry.length, 2);
    t.equal((await get(`/fhir/R4/Task/${task.id}`, who)).statusCode, 200);
    for (const type of ['Goal', 'Communication', 'CareTeam']) {
      const res = await get(`/fhir/R4/${type}?patient=${plan.id}`, who);
      t.equal(res.statusCode, 200);
      t.equal(res.json().entry.length, 0, `${type} search is empty`);
    }
    t.equal((await get(`/fhir/R4/Patient?_id=${plan.id}`, who)).json().entry.length, 0);
    const forbidden = await get(`/fhir/R4/Goal/${life.id}`, who);
    t.equal(forbidden.statusCode, 403);
    t.equal(forbidden.json().issue[0].code, 'forbidden');
    t.equal((await get(`/fhir/R4/Patient/${plan.id}`, who)).statusCode, 403);
    const everything = (await get(`/fhir/R4/Patient/${plan.id}/$everything`, who)).json();
    t.same([...new Set(everything.entry.map((e: { resource: { resourceType: string } }) => e.resource.resourceType))], ['CarePlan', 'Task']);
    t.notOk(everything.entry[0].resource.goal, 'no Goal through CarePlan.goal either');
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
    for (const type of ['Task', 'Goal', 'CarePlan', 'CareTeam', 'Communication']) {
      const res = await get(`/fhir/R4/${type}?patient=${plan.id}`, stranger);
      t.equal(res.statusCode, 200);
      t.equal(res.json().entry.length, 0);
    }
    t.equal((await get(`/fhir/R4/Patient/${plan.id}/$everything`, stranger)).statusCode, 404);
  });

  t.test('errors are OperationOutcome: bad input 400, no token 401, writes 405', async (t) => {
    const cases: Array<[string, number, string]> = [
      [`/fhir/R4/Task?patient=${plan.id}&_summary=true`, 400, 'not-supported'],
      [`/fhir/R4/Task?patient=${plan.id}&_count=500`, 400, 'invalid'],
      [`/fhir/R4/Task?patient=${plan.id}&_lastUpdated=yesterday`, 400, 'invalid'],
      [`/fhir/R4/Task?patient=${plan.id}&_lastUpdated=gt2026-02-31`, 400, 'invalid'],
      [`/fhir/R4/Task?patient=${plan.id}&_cursor=nope`, 400, 'invalid'],
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
    const count = async () => Number((await database.db.selectFrom('audit_entries').select((eb) => eb.fn.countAll().as('n')).where('person_id', '=', plan.id).executeTakeFirstOrThrow()).n);
    for (const url of [`/fhir/R4/Patient/${plan.id}`, `/fhir/R4/Task/${task.id}`, `/fhir/R4/Goal?patient=${plan.id}`, `/fhir/R4/Patient/${plan.id}/$everything`]) {
      const before = await count();
      t.equal((await get(url, gp)).statusCode, 200);
      t.ok((await count()) > before, `${url} wrote an audit entry`);
    }
  });
});
