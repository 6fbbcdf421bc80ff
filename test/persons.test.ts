import t from 'tap';
import { buildTestApp } from './helpers/app.js';
import { caller, citizen, citizenWithPlan, createPersonAs, makeInsz, professional } from './helpers/factories.js';

const PROBLEM_TYPE = 'application/problem+json; charset=utf-8';

t.test('persons', async (t) => {
  const { app, database } = await buildTestApp(t);

  t.test('a citizen starts their own plan', async (t) => {
    const an = citizen(makeInsz('1985-07-30'));
    const res = await app.inject({
      method: 'POST',
      url: '/v1/persons',
      headers: an.headers,
      payload: {
        identifier: { system: 'insz', value: an.claims.insz },
        givenName: 'An',
        familyName: 'Peeters',
        gender: 'vrouw',
        language: 'nl',
        interpreterNeeded: false,
      },
    });
    t.equal(res.statusCode, 201);
    const person = res.json();
    t.match(person, {
      id: String,
      personId: person.id,
      identifier: { system: 'insz', value: an.claims.insz },
      givenName: 'An',
      familyName: 'Peeters',
      birthDate: '1985-07-30',
      gender: 'vrouw',
      language: 'nl',
      allowEmergencyAccess: true,
      claimed: true,
      steward: null,
      version: 1,
    });
    t.equal(res.headers.location, `/v1/persons/${person.id}`);
    t.equal(res.headers.etag, '"1"');

    const again = await app.inject({ method: 'GET', url: `/v1/persons/${person.id}`, headers: an.headers });
    t.equal(again.statusCode, 200);
    t.equal(again.json().givenName, 'An');
    t.equal(again.headers.etag, '"1"');
  });

  t.test('a second plan for the same INSZ is a conflict', async (t) => {
    const { who } = await citizenWithPlan(app);
    const res = await app.inject({
      method: 'POST',
      url: '/v1/persons',
      headers: professional().headers,
      payload: { identifier: { system: 'insz', value: who.claims.insz }, givenName: 'An', familyName: 'P' },
    });
    t.equal(res.statusCode, 409);
    t.equal(res.headers['content-type'], PROBLEM_TYPE);
    t.match(res.json(), { type: /conflict$/, title: 'Conflict', status: 409, detail: String });
  });

  t.test('an invalid INSZ is 422 with the failing path', async (t) => {
    const who = caller({ sub: 'c-invalid', insz: '85073003329' });
    const res = await app.inject({
      method: 'POST',
      url: '/v1/persons',
      headers: who.headers,
      payload: { identifier: { system: 'insz', value: '85073003329' }, givenName: 'A', familyName: 'B' },
    });
    t.equal(res.statusCode, 422);
    t.equal(res.headers['content-type'], PROBLEM_TYPE);
    t.match(res.json(), { status: 422, errors: [{ path: 'identifier.value', message: String }] });
  });

  t.test('a malformed body is 400 listing every failing path', async (t) => {
    const an = citizen();
    const res = await app.inject({
      method: 'POST',
      url: '/v1/persons',
      headers: an.headers,
      payload: { identifier: { system: 'ssn', value: '' }, givenName: 7, birthDate: '30/07/1985' },
    });
    t.equal(res.statusCode, 400);
    t.equal(res.headers['content-type'], PROBLEM_TYPE);
    const body = res.json();
    const paths = body.errors.map((e: { path: string }) => e.path).sort();
    t.same(paths, ['birthDate', 'familyName', 'givenName', 'identifier.system', 'identifier.value']);
    t.notMatch(res.body, /stack|at .*\.ts/);

    const notJson = await app.inject({
      method: 'POST',
      url: '/v1/persons',
      headers: { ...an.headers, 'content-type': 'application/json' },
      payload: '{"identifier":',
    });
    t.equal(notJson.statusCode, 400);
    t.equal(notJson.headers['content-type'], PROBLEM_TYPE);

    const unknownField = await app.inject({
      method: 'POST',
      url: '/v1/persons',
      headers: an.headers,
      payload: { identifier: { system: 'insz', value: an.claims.insz }, givenName: 'A', familyName: 'B', isAdmin: true },
    });
    t.equal(unknownField.statusCode, 400, 'unknown fields are refused, not silently dropped');
  });

  t.test('a citizen cannot start a plan for another INSZ', async (t) => {
    const an = citizen();
    const res = await app.inject({
      method: 'POST',
      url: '/v1/persons',
      headers: an.headers,
      payload: { identifier: { system: 'insz', value: makeInsz('1950-01-01') }, givenName: 'X', familyName: 'Y' },
    });
    t.equal(res.statusCode, 403);
    t.equal(res.headers['content-type'], PROBLEM_TYPE);
  });

  t.test('people without an INSZ are served: passport and other identifiers', async (t) => {
    const undocumented = caller({ sub: 'no-insz-1', name: 'Amal' });
    const own = await app.inject({
      method: 'POST',
      url: '/v1/persons',
      headers: undocumented.headers,
      payload: { identifier: { system: 'other', value: 'medical-card-Antwerpen-4411' }, givenName: 'Amal', familyName: 'H.', gender: 'non-binary' },
    });
    t.equal(own.statusCode, 201);
    t.equal(own.json().claimed, true);
    t.equal(own.json().gender, 'non-binary', 'gender as the person states it');

    const pro = professional();
    const byPro = await createPersonAs(app, pro, {
      identifier: { system: 'passport', value: 'P1234567' },
      givenName: 'Marek',
      familyName: 'K.',
    });
    t.equal(byPro.claimed, false);
  });

  t.test('a professional starts a plan, steers it, and the person claims it', async (t) => {
    const pro = professional('Dr. Lies Janssens');
    const insz = makeInsz('1941-02-11');
    const person = await createPersonAs(app, pro, {
      identifier: { system: 'insz', value: insz },
      givenName: 'Jozef',
      familyName: 'Claes',
      language: 'nl',
    });
    t.match(person, { claimed: false, steward: { name: 'Dr. Lies Janssens' } });

    const stewardRead = await app.inject({ method: 'GET', url: `/v1/persons/${person.id}`, headers: pro.headers });
    t.equal(stewardRead.statusCode, 200, 'the steward reads the plan');
    const stewardPatch = await app.inject({
      method: 'PATCH',
      url: `/v1/persons/${person.id}`,
      headers: pro.headers,
      payload: { interpreterNeeded: true },
    });
    t.equal(stewardPatch.statusCode, 200, 'the steward changes details on the person\'s behalf');
    t.equal(stewardPatch.json().version, 2);

    const stewardClaim = await app.inject({ method: 'POST', url: `/v1/persons/${person.id}/claim`, headers: pro.headers });
    t.equal(stewardClaim.statusCode, 403, 'only the person claims');

    const jozef = caller({ sub: 'jozef-login', insz, name: 'Jozef Claes' });
    const before = await app.inject({ method: 'GET', url: `/v1/persons/${person.id}`, headers: jozef.headers });
    t.equal(before.statusCode, 200, 'the person always sees their own plan');

    const claim = await app.inject({ method: 'POST', url: `/v1/persons/${person.id}/claim`, headers: jozef.headers });
    t.equal(claim.statusCode, 200);
    t.match(claim.json(), { claimed: true, steward: null, version: 3 });

    const again = await app.inject({ method: 'POST', url: `/v1/persons/${person.id}/claim`, headers: jozef.headers });
    t.equal(again.statusCode, 409);

    const stewardAfter = await app.inject({ method: 'GET', url: `/v1/persons/${person.id}`, headers: pro.headers });
    t.equal(stewardAfter.statusCode, 200, 'after the claim the former steward stays on the team as coordinator');
    const stewardPatchAfter = await app.inject({
      method: 'PATCH',
      url: `/v1/persons/${person.id}`,
      headers: pro.headers,
      payload: { interpreterNeeded: false },
    });
    t.equal(stewardPatchAfter.statusCode, 403, '...but no longer controls the plan');

    // The person logs in later with the same sub but without an insz claim: still theirs.
    const sameSub = caller({ sub: 'jozef-login' });
    const bySub = await app.inject({ method: 'GET', url: `/v1/persons/${person.id}`, headers: sameSub.headers });
    t.equal(bySub.statusCode, 200);
  });

  t.test('access to a person: the person, another citizen, a professional outside, anonymous, forged', async (t) => {
    const { who, person } = await citizenWithPlan(app);
    const url = `/v1/persons/${person.id}`;
    const cases: Array<[string, Record<string, string>, number]> = [
      ['the person', who.headers, 200],
      ['another citizen', citizen().headers, 404],
      ['a professional outside the team', professional().headers, 404],
      ['anonymous', {}, 401],
      ['a forged token', { authorization: `Bearer ${who.token.slice(0, -4)}abcd` }, 401],
    ];
    for (const [label, headers, status] of cases) {
      for (const [method, payload] of [['GET', undefined], ['PATCH', { gender: 'v' }]] as const) {
        const res = await app.inject({ method, url, headers, ...(payload ? { payload } : {}) });
        t.equal(res.statusCode, status, `${method} by ${label}`);
        if (status >= 400) t.equal(res.headers['content-type'], PROBLEM_TYPE);
      }
      const claim = await app.inject({ method: 'POST', url: `${url}/claim`, headers });
      t.equal(claim.statusCode, status === 200 ? 409 : status, `claim by ${label}`);
    }
    const unknown = await app.inject({ method: 'GET', url: '/v1/persons/01900000-0000-7000-8000-000000000000', headers: who.headers });
    t.equal(unknown.statusCode, 404, 'an unknown id looks exactly like one without relation');
    t.same(unknown.json(), (await app.inject({ method: 'GET', url, headers: citizen().headers })).json());
    const badId = await app.inject({ method: 'GET', url: '/v1/persons/not-a-uuid', headers: who.headers });
    t.equal(badId.statusCode, 400);
  });

  t.test('PATCH honours If-Match and validates', async (t) => {
    const { who, person } = await citizenWithPlan(app);
    const url = `/v1/persons/${person.id}`;
    const ok = await app.inject({ method: 'PATCH', url, headers: { ...who.headers, 'if-match': '"1"' }, payload: { language: 'fr', allowEmergencyAccess: false } });
    t.equal(ok.statusCode, 200);
    t.match(ok.json(), { language: 'fr', allowEmergencyAccess: false, version: 2 });
    t.equal(ok.headers.etag, '"2"');
    const stale = await app.inject({ method: 'PATCH', url, headers: { ...who.headers, 'if-match': '"1"' }, payload: { language: 'de' } });
    t.equal(stale.statusCode, 412);
    t.equal(stale.headers['content-type'], PROBLEM_TYPE);
    const clear = await app.inject({ method: 'PATCH', url, headers: who.headers, payload: { language: null } });
    t.equal(clear.json().language, null);
    const bad = await app.inject({ method: 'PATCH', url, headers: who.headers, payload: { language: 'xx' } });
    t.equal(bad.statusCode, 400);
    const future = await app.inject({ method: 'PATCH', url, headers: who.headers, payload: { birthDate: '2999-01-01' } });
    t.equal(future.statusCode, 422);
    const identifier = await app.inject({ method: 'PATCH', url, headers: who.headers, payload: { identifier: { system: 'other', value: 'x' } } });
    t.equal(identifier.statusCode, 400, 'the identifier cannot be changed');
  });

  t.test('the list holds exactly the plans the caller may see, paginated', async (t) => {
    const pro = professional();
    const created: string[] = [];
    for (let i = 0; i < 5; i++) {
      const p = await createPersonAs(app, pro, { identifier: { system: 'insz', value: makeInsz('1950-05-05') }, givenName: `P${i}`, familyName: 'X' });
      created.push(p.id);
    }
    const first = await app.inject({ method: 'GET', url: '/v1/persons?limit=2', headers: pro.headers });
    t.equal(first.statusCode, 200);
    t.equal(first.json().items.length, 2);
    t.type(first.json().nextCursor, 'string');
    const seen: string[] = first.json().items.map((p: { id: string }) => p.id);
    let cursor: string | null = first.json().nextCursor;
    while (cursor) {
      const next = await app.inject({ method: 'GET', url: `/v1/persons?limit=2&cursor=${cursor}`, headers: pro.headers });
      seen.push(...next.json().items.map((p: { id: string }) => p.id));
      cursor = next.json().nextCursor;
    }
    t.same(seen, created, 'every plan once, in creation order');

    const other = await app.inject({ method: 'GET', url: '/v1/persons', headers: citizen().headers });
    t.same(other.json(), { items: [], nextCursor: null }, 'someone unrelated sees nothing');

    const badCursor = await app.inject({ method: 'GET', url: '/v1/persons?cursor=garbage', headers: pro.headers });
    t.equal(badCursor.statusCode, 400);
    const badLimit = await app.inject({ method: 'GET', url: '/v1/persons?limit=500', headers: pro.headers });
    t.equal(badLimit.statusCode, 400);
  });

  t.test('Idempotency-Key: a replay returns the first answer; another body with the key is 422', async (t) => {
    const an = citizen();
    const body = { identifier: { system: 'insz', value: an.claims.insz }, givenName: 'An', familyName: 'P' };
    const headers = { ...an.headers, 'idempotency-key': 'create-an-1' };
    const first = await app.inject({ method: 'POST', url: '/v1/persons', headers, payload: body });
    t.equal(first.statusCode, 201);
    const replay = await app.inject({ method: 'POST', url: '/v1/persons', headers, payload: { familyName: 'P', givenName: 'An', identifier: { value: an.claims.insz, system: 'insz' } } });
    t.equal(replay.statusCode, 201, 'same status');
    t.equal(replay.body, first.body, 'same body');
    t.equal(replay.headers.location, first.headers.location);
    t.equal(replay.headers['idempotent-replayed'], 'true');
    const different = await app.inject({ method: 'POST', url: '/v1/persons', headers, payload: { ...body, givenName: 'Anna' } });
    t.equal(different.statusCode, 422);
    const noKey = await app.inject({ method: 'POST', url: '/v1/persons', headers: an.headers, payload: body });
    t.equal(noKey.statusCode, 409, 'without the key it is a second plan');
    const otherCaller = await app.inject({ method: 'POST', url: '/v1/persons', headers: { ...citizen().headers, 'idempotency-key': 'create-an-1' }, payload: body });
    t.equal(otherCaller.statusCode, 403, 'keys are per caller: another caller\'s key is not a replay');
    const persons = await database.db.selectFrom('persons').select('person_id').where('identifier_value', '=', an.claims.insz!).execute();
    t.equal(persons.length, 1, 'exactly one plan was written');
  });

  t.test('every write and read is audited, writes record their thin event', async (t) => {
    const { who, person } = await citizenWithPlan(app);
    await app.inject({ method: 'GET', url: `/v1/persons/${person.id}`, headers: who.headers });
    await app.inject({ method: 'PATCH', url: `/v1/persons/${person.id}`, headers: who.headers, payload: { givenName: 'Anneke' } });
    const audit = await database.db.selectFrom('audit_entries').selectAll().where('person_id', '=', person.id).orderBy('seq').execute();
    t.same(audit.map((a) => a.action), ['create', 'read', 'update']);
    t.same(audit.map((a) => a.actor_sub), [who.claims.sub, who.claims.sub, who.claims.sub]);
    t.equal(audit[1]!.prev_hash, audit[0]!.hash, 'entries are chained');
    const events = await database.db.selectFrom('outbox_events').selectAll().where('person_id', '=', person.id).execute();
    t.equal(events.length, 1);
    t.match(events[0], { type: 'person.updated', data: { resourceType: 'person', resourceId: person.id, version: 2, changed: ['givenName'] } });
    t.notMatch(JSON.stringify(events[0]!.data), /Anneke/, 'no free text in events');
  });
});
