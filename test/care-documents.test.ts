// Care documents: advance care planning wishes and the safety plan, versioned with If-Match.
import t from 'tap';
import { buildTestApp } from './helpers/app.js';
import { movableClock } from './helpers/clock.js';
import { caller, citizen, citizenWithPlan, professional } from './helpers/factories.js';
import { addRepresentative, accept, joinedCarer } from './helpers/team.js';

const WISH = 'Ik wil niet meer naar het ziekenhuis, liever thuis sterven.';
const SIGN = 'Trekt zich terug en eet niet meer';

t.test('care documents', async (t) => {
  const clock = movableClock(new Date('2026-05-04T08:00:00Z'));
  const { app, database } = await buildTestApp(t, { clock });
  const db = database.db;

  t.test('wishes: the first version without If-Match, then every version needs the current one', async (t) => {
    const { who, person } = await citizenWithPlan(app);
    const url = `/v1/persons/${person.id}/wishes`;

    const none = await app.inject({ method: 'GET', url, headers: who.headers });
    t.equal(none.statusCode, 404);
    t.match(none.json(), { status: 404, detail: /No wishes have been recorded/ });
    t.equal((await app.inject({ method: 'GET', url: `${url}/versions`, headers: who.headers })).json().items.length, 0, 'no versions yet');

    const body = { statements: [{ topic: 'Ziekenhuisopname', statement: WISH }] };
    const early = await app.inject({ method: 'PUT', url, headers: { ...who.headers, 'if-match': '"1"' }, payload: body });
    t.equal(early.statusCode, 412, 'If-Match on a document that does not exist yet');
    const star = await app.inject({ method: 'PUT', url, headers: { ...who.headers, 'if-match': '*' }, payload: body });
    t.equal(star.statusCode, 412, 'If-Match: * needs a current version too');

    const first = await app.inject({ method: 'PUT', url, headers: who.headers, payload: body });
    t.equal(first.statusCode, 201);
    t.equal(first.headers.etag, '"1"');
    t.same(first.json(), {
      personId: person.id,
      statements: body.statements,
      version: 1,
      updatedAt: '2026-05-04T08:00:00.000Z',
      updatedBy: { name: 'An Peeters', role: 'person', memberId: null },
    });

    const missing = await app.inject({ method: 'PUT', url, headers: who.headers, payload: body });
    t.equal(missing.statusCode, 428);
    t.equal(missing.headers['content-type'], 'application/problem+json; charset=utf-8');
    const stale = await app.inject({ method: 'PUT', url, headers: { ...who.headers, 'if-match': '"7"' }, payload: body });
    t.equal(stale.statusCode, 412);
    const weak = await app.inject({ method: 'PUT', url, headers: { ...who.headers, 'if-match': 'W/"1"' }, payload: body });
    t.equal(weak.statusCode, 412, 'a weak tag never matches');

    clock.advance(60_000);
    const carer = await joinedCarer(app, who, person.id, ['wishes:write']);
    const second = await app.inject({
      method: 'PUT',
      url,
      headers: { ...carer.who.headers, 'if-match': '"1"' },
      payload: { statements: [...body.statements, { topic: 'Reanimatie', statement: 'Niet reanimeren.' }] },
    });
    t.equal(second.statusCode, 200);
    t.equal(second.headers.etag, '"2"');
    t.match(second.json(), { version: 2, updatedBy: { name: 'Mieke Peeters', role: 'member', memberId: carer.memberId } });

    const current = await app.inject({ method: 'GET', url, headers: carer.who.headers });
    t.equal(current.statusCode, 200);
    t.equal(current.headers.etag, '"2"');
    t.same(current.json(), second.json(), 'GET shows what PUT answered');

    const versions = await app.inject({ method: 'GET', url: `${url}/versions`, headers: who.headers });
    t.equal(versions.statusCode, 200);
    t.match(versions.json(), {
      items: [
        { version: 1, changedFields: ['statements'], changedBy: { role: 'person', memberId: null }, changedAt: '2026-05-04T08:00:00.000Z', snapshot: first.json() },
        { version: 2, changedFields: ['statements'], changedBy: { role: 'member', memberId: carer.memberId }, changedAt: '2026-05-04T08:01:00.000Z' },
      ],
      nextCursor: null,
    });

    const page1 = await app.inject({ method: 'GET', url: `${url}/versions?limit=1`, headers: who.headers });
    t.equal(page1.json().items.length, 1);
    t.type(page1.json().nextCursor, 'string');
    const page2 = await app.inject({ method: 'GET', url: `${url}/versions?limit=1&cursor=${page1.json().nextCursor}`, headers: who.headers });
    t.same(page2.json().items.map((i: { version: number }) => i.version), [2]);
    t.equal(page2.json().nextCursor, null);

    const v1 = await app.inject({ method: 'GET', url: `${url}/versions/1`, headers: who.headers });
    t.equal(v1.statusCode, 200);
    t.same(v1.json(), first.json(), 'version 1 as it was written');
    const v2 = await app.inject({ method: 'GET', url: `${url}/versions/2`, headers: who.headers });
    t.same(v2.json(), second.json());
    t.equal((await app.inject({ method: 'GET', url: `${url}/versions/3`, headers: who.headers })).statusCode, 404);
    t.equal((await app.inject({ method: 'GET', url: `${url}/versions/0`, headers: who.headers })).statusCode, 400);

    const events = await db.selectFrom('outbox_events').select(['type', 'data']).where('person_id', '=', person.id).where('type', '=', 'wishes.updated').orderBy('seq').execute();
    t.same(events.map((e) => e.data), [
      { resourceType: 'wishes', resourceId: person.id, version: 1 },
      { resourceType: 'wishes', resourceId: person.id, version: 2 },
    ], 'thin events: which version to fetch, nothing more');
    t.notOk(JSON.stringify(events).includes('ziekenhuis'), 'no wishes text in events');

    const audit = await db.selectFrom('audit_entries').select(['action', 'resource_type', 'actor_role']).where('person_id', '=', person.id).where('resource_type', 'like', 'wishes%').orderBy('seq').execute();
    // Failed attempts (404, 412, 428, 400) roll back with their transaction and leave no entry.
    t.same(audit.map((a) => `${a.action} ${a.resource_type}`), [
      'list wishes_history',
      'create wishes',
      'update wishes',
      'read wishes',
      'list wishes_history',
      'list wishes_history',
      'list wishes_history',
      'read wishes_history',
      'read wishes_history',
    ], 'every read and write is audited');
  });

  t.test('safety plan: optional contact fields, changed fields per version', async (t) => {
    const { who, person } = await citizenWithPlan(app);
    const url = `/v1/persons/${person.id}/safety-plan`;
    const plan = {
      warningSigns: [SIGN, 'Slaapt overdag'],
      whatHelps: ['Wandelen met de hond'],
      contacts: [{ name: 'Mieke', role: 'dochter', phone: '+32 470 12 34 56' }, { name: 'Huisarts Janssens' }],
    };
    const first = await app.inject({ method: 'PUT', url, headers: who.headers, payload: plan });
    t.equal(first.statusCode, 201);
    t.same(first.json().contacts, [
      { name: 'Mieke', role: 'dochter', phone: '+32 470 12 34 56' },
      { name: 'Huisarts Janssens', role: null, phone: null },
    ]);
    const second = await app.inject({
      method: 'PUT',
      url,
      headers: { ...who.headers, 'if-match': first.headers.etag as string },
      payload: { ...plan, contacts: [...plan.contacts, { name: 'Crisislijn', phone: '1813' }] },
    });
    t.equal(second.statusCode, 200);
    t.equal(second.json().version, 2);
    const versions = await app.inject({ method: 'GET', url: `${url}/versions`, headers: who.headers });
    t.same(versions.json().items.map((i: { changedFields: string[] }) => i.changedFields), [['warningSigns', 'whatHelps', 'contacts'], ['contacts']]);
    const v1 = await app.inject({ method: 'GET', url: `${url}/versions/1`, headers: who.headers });
    t.equal(v1.json().contacts.length, 2, 'version 1 is kept as it was');

    const events = await db.selectFrom('outbox_events').select(['type', 'data']).where('person_id', '=', person.id).where('type', '=', 'safety_plan.updated').orderBy('seq').execute();
    t.same(events.map((e) => e.data), [
      { resourceType: 'safety_plan', resourceId: person.id, version: 1 },
      { resourceType: 'safety_plan', resourceId: person.id, version: 2 },
    ]);
    t.notOk(JSON.stringify(events).match(/Wandelen|Mieke|Crisislijn|eet niet/), 'no plan text in events');

    const empty = await app.inject({ method: 'PUT', url, headers: { ...who.headers, 'if-match': '"2"' }, payload: { warningSigns: [], whatHelps: [], contacts: [] } });
    t.equal(empty.statusCode, 200, 'an emptied plan is a version too');
  });

  t.test('malformed input is 400 with the failing paths', async (t) => {
    const { who, person } = await citizenWithPlan(app);
    const wishes = `/v1/persons/${person.id}/wishes`;
    const plan = `/v1/persons/${person.id}/safety-plan`;
    const cases: Array<[string, unknown, string]> = [
      [wishes, { statements: [{ topic: '  ', statement: 'x' }] }, 'statements.0.topic'],
      [wishes, { statements: [{ topic: 'a' }] }, 'statements.0.statement'],
      [wishes, { statements: [{ topic: 'a', statement: 'x'.repeat(2001) }] }, 'statements.0.statement'],
      [wishes, { statements: Array.from({ length: 101 }, () => ({ topic: 'a', statement: 'b' })) }, 'statements'],
      [wishes, { statements: [], extra: true }, 'body'],
      [wishes, {}, 'statements'],
      [plan, { warningSigns: ['a'], contacts: [] }, 'whatHelps'],
      [plan, { warningSigns: [''], whatHelps: [], contacts: [] }, 'warningSigns.0'],
      [plan, { warningSigns: [], whatHelps: [], contacts: [{ name: 'Mieke', phone: 'bel me' }] }, 'contacts.0.phone'],
      [plan, { warningSigns: [], whatHelps: [], contacts: [{ phone: '1813' }] }, 'contacts.0.name'],
    ];
    for (const [url, payload, path] of cases) {
      const res = await app.inject({ method: 'PUT', url, headers: who.headers, payload: payload as object });
      t.equal(res.statusCode, 400, `${url.split('/').pop()} ${JSON.stringify(payload).slice(0, 60)}`);
      t.ok(res.json().errors.some((e: { path: string }) => e.path === path), `path ${path}`);
    }
    const badTag = await app.inject({ method: 'PUT', url: wishes, headers: { ...who.headers, 'if-match': 'version one' }, payload: { statements: [] } });
    t.equal(badTag.statusCode, 400);
    t.match(badTag.json().errors, [{ path: 'If-Match' }]);
    const badPerson = await app.inject({ method: 'GET', url: '/v1/persons/not-a-uuid/wishes', headers: who.headers });
    t.equal(badPerson.statusCode, 400);
    t.match(badPerson.json().errors, [{ path: 'params.personId' }]);
    const notJson = await app.inject({ method: 'PUT', url: wishes, headers: { ...who.headers, 'content-type': 'application/json' }, payload: '{"statements": [' });
    t.equal(notJson.statusCode, 400);
    t.equal((await app.inject({ method: 'GET', url: wishes, headers: who.headers })).statusCode, 404, 'nothing was written');
  });

  t.test('who reads and writes: scopes, limited representatives, emergency access', async (t) => {
    const { who, person } = await citizenWithPlan(app);
    const wishes = `/v1/persons/${person.id}/wishes`;
    const plan = `/v1/persons/${person.id}/safety-plan`;

    const noScope = await joinedCarer(app, who, person.id, ['team:read']);
    t.equal((await app.inject({ method: 'GET', url: wishes, headers: noScope.who.headers })).statusCode, 403, 'related without the scope: 403 even before a version exists');
    t.equal((await app.inject({ method: 'GET', url: wishes, headers: citizen().headers })).statusCode, 404, 'unrelated: 404');

    await app.inject({ method: 'PUT', url: wishes, headers: who.headers, payload: { statements: [{ topic: 'Opname', statement: WISH }] } });
    await app.inject({ method: 'PUT', url: plan, headers: who.headers, payload: { warningSigns: [SIGN], whatHelps: [], contacts: [] } });

    const reader = await joinedCarer(app, who, person.id, ['wishes:read', 'safety_plan:read']);
    t.equal((await app.inject({ method: 'GET', url: wishes, headers: reader.who.headers })).statusCode, 200);
    t.equal((await app.inject({ method: 'PUT', url: wishes, headers: { ...reader.who.headers, 'if-match': '"1"' }, payload: { statements: [] } })).statusCode, 403);
    const planWriter = await joinedCarer(app, who, person.id, ['safety_plan:write']);
    t.equal((await app.inject({ method: 'GET', url: wishes, headers: planWriter.who.headers })).statusCode, 403, 'scopes are per document');
    t.equal((await app.inject({ method: 'PUT', url: plan, headers: { ...planWriter.who.headers, 'if-match': '"1"' }, payload: { warningSigns: [], whatHelps: ['Rust'], contacts: [] } })).statusCode, 200);

    const limited = await addRepresentative(app, who, person.id, { displayName: 'Bart', level: 'limited', basis: 'chosen' });
    const bart = caller({ sub: `bart-cd-${process.pid}`, name: 'Bart' });
    await accept(app, bart, limited.inviteCode);
    t.equal((await app.inject({ method: 'GET', url: wishes, headers: bart.headers })).statusCode, 200, 'a limited representative reads');
    t.equal((await app.inject({ method: 'PUT', url: wishes, headers: { ...bart.headers, 'if-match': '"1"' }, payload: { statements: [] } })).statusCode, 403, 'but does not write');

    const doctor = professional('Dr. Van Wacht');
    const opened = await app.inject({ method: 'POST', url: '/v1/emergency-access', headers: doctor.headers, payload: { insz: who.claims.insz, reason: 'Nachtelijke oproep, verward' } });
    t.equal(opened.statusCode, 201);
    const read = await app.inject({ method: 'GET', url: wishes, headers: doctor.headers });
    t.equal(read.statusCode, 200, 'the on-call doctor reads the wishes');
    t.equal(read.json().statements[0].statement, WISH);
    t.equal((await app.inject({ method: 'GET', url: plan, headers: doctor.headers })).statusCode, 200, 'and the safety plan');
    t.equal((await app.inject({ method: 'GET', url: `${plan}/versions`, headers: doctor.headers })).statusCode, 200);
    t.equal((await app.inject({ method: 'PUT', url: wishes, headers: { ...doctor.headers, 'if-match': '"1"' }, payload: { statements: [] } })).statusCode, 403, 'but never writes');
    const audited = await db.selectFrom('audit_entries').select(['actor_role', 'action']).where('person_id', '=', person.id).where('resource_type', '=', 'wishes').where('actor_sub', '=', doctor.claims.sub).execute();
    t.same(audited, [{ actor_role: 'emergency', action: 'read' }], 'the emergency read is in the access log');
  });

  t.test('racing first versions: one is written, the other is asked for If-Match', async (t) => {
    const { who, person } = await citizenWithPlan(app);
    const url = `/v1/persons/${person.id}/wishes`;
    const put = (headers: Record<string, string> = {}) =>
      app.inject({ method: 'PUT', url, headers: { ...who.headers, ...headers }, payload: { statements: [{ topic: 't', statement: 's' }] } });
    const firsts = await Promise.all([put(), put()]);
    t.same(firsts.map((r) => r.statusCode).sort(), [201, 428]);
    const revisions = await Promise.all([put({ 'if-match': '"1"' }), put({ 'if-match': '"1"' })]);
    t.same(revisions.map((r) => r.statusCode).sort(), [200, 412]);
    const versions = await app.inject({ method: 'GET', url: `${url}/versions`, headers: who.headers });
    t.same(versions.json().items.map((i: { version: number }) => i.version), [1, 2], 'no version lost, none doubled');
  });
});
