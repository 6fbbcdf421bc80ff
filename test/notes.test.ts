// Versioned notes: author-only revision, no version lost, visibility, concurrency.
import t from 'tap';
import { buildTestApp } from './helpers/app.js';
import { caller, citizenWithPlan, professional } from './helpers/factories.js';
import { accept, inviteMember, joinedCarer } from './helpers/team.js';

const ALL_NOTES = ['notes:read', 'notes:write'];

t.test('notes', async (t) => {
  const { app, database } = await buildTestApp(t, { env: { NOTE_BODY_MAX_BYTES: '2000' } });

  async function planWithTeam() {
    const { who, person } = await citizenWithPlan(app);
    const nurse = professional('Verpleegkundige Sara');
    const invitation = await inviteMember(app, who, person.id, { kind: 'professional', displayName: 'Sara (thuisverpleging)', nihii: nurse.claims.nihii, scopes: ALL_NOTES });
    await accept(app, nurse, invitation.inviteCode);
    const carer = await joinedCarer(app, who, person.id, ALL_NOTES);
    return { who, person, nurse, nurseMemberId: invitation.memberId, carer };
  }

  const post = (who: { headers: Record<string, string> }, personId: string, payload: Record<string, unknown>) =>
    app.inject({ method: 'POST', url: `/v1/persons/${personId}/notes`, headers: who.headers, payload });

  t.test('only the author revises; revisions and retraction keep every version', async (t) => {
    const { who, person, nurse, carer } = await planWithTeam();
    const created = await post(nurse, person.id, { body: 'Wonde linkerbeen verzorgd.', phase: 'follow_up' });
    t.equal(created.statusCode, 201);
    const note = created.json();
    t.match(note, { version: 1, body: 'Wonde linkerbeen verzorgd.', phase: 'follow_up', visibility: 'team', author: { name: 'Sara (thuisverpleging)', role: 'member' } });
    const url = `/v1/persons/${person.id}/notes/${note.id}`;

    for (const [label, other] of [['the person', who], ['another member', carer.who]] as const) {
      const res = await app.inject({ method: 'PUT', url, headers: { ...other.headers, 'if-match': '"1"' }, payload: { body: 'Gewijzigd' } });
      t.equal(res.statusCode, 403, `${label} cannot revise someone else's note`);
      const del = await app.inject({ method: 'DELETE', url, headers: { ...other.headers, 'if-match': '"1"' } });
      t.equal(del.statusCode, 403, `${label} cannot retract it`);
    }
    const noIfMatch = await app.inject({ method: 'PUT', url, headers: nurse.headers, payload: { body: 'Wonde genezen.' } });
    t.equal(noIfMatch.statusCode, 428);
    const revised = await app.inject({ method: 'PUT', url, headers: { ...nurse.headers, 'if-match': '"1"' }, payload: { body: 'Wonde bijna genezen.', phase: 'info' } });
    t.equal(revised.statusCode, 200);
    t.match(revised.json(), { version: 2, body: 'Wonde bijna genezen.', phase: 'info' });
    t.equal(revised.headers.etag, '"2"');
    const stale = await app.inject({ method: 'PUT', url, headers: { ...nurse.headers, 'if-match': '"1"' }, payload: { body: 'x' } });
    t.equal(stale.statusCode, 412);

    const retracted = await app.inject({ method: 'DELETE', url, headers: { ...nurse.headers, 'if-match': '"2"' } });
    t.equal(retracted.statusCode, 200);
    t.match(retracted.json(), { version: 3, body: null, retracted: true });
    const afterRetraction = await app.inject({ method: 'PUT', url, headers: { ...nurse.headers, 'if-match': '"3"' }, payload: { body: 'terug' } });
    t.equal(afterRetraction.statusCode, 409);

    const versions = await app.inject({ method: 'GET', url: `${url}/versions`, headers: who.headers });
    t.same(
      versions.json().items.map((v: { version: number; body: string | null; retracted: boolean }) => [v.version, v.body, v.retracted]),
      [[1, 'Wonde linkerbeen verzorgd.', false], [2, 'Wonde bijna genezen.', false], [3, null, true]],
      'no version is lost',
    );
    const v1 = await app.inject({ method: 'GET', url: `${url}/versions/1`, headers: carer.who.headers });
    t.equal(v1.json().body, 'Wonde linkerbeen verzorgd.');
    t.equal((await app.inject({ method: 'GET', url: `${url}/versions/9`, headers: who.headers })).statusCode, 404);

    const events = await database.db.selectFrom('outbox_events').select(['type', 'data']).where('person_id', '=', person.id).where('type', 'like', 'note.%').orderBy('seq').execute();
    t.same(events.map((e) => e.type), ['note.created', 'note.revised', 'note.retracted']);
    t.notMatch(JSON.stringify(events), /Wonde/, 'no note body in any event');
  });

  t.test('two concurrent revisions: exactly one wins', async (t) => {
    const { person, nurse } = await planWithTeam();
    const note = (await post(nurse, person.id, { body: 'Start', phase: 'info' })).json();
    const url = `/v1/persons/${person.id}/notes/${note.id}`;
    const results = await Promise.all(
      [1, 2, 3].map((i) => app.inject({ method: 'PUT', url, headers: { ...nurse.headers, 'if-match': '"1"' }, payload: { body: `Versie ${i}` } })),
    );
    t.same(results.map((r) => r.statusCode).sort(), [200, 412, 412]);
    const versions = await app.inject({ method: 'GET', url: `${url}/versions`, headers: nurse.headers });
    t.equal(versions.json().items.length, 2);
  });

  t.test('visibility: professionals-only notes are hidden from the person and informal carers', async (t) => {
    const { who, person, nurse, carer } = await planWithTeam();
    const secret = (await post(nurse, person.id, { body: 'Vermoeden van misbruik door familie.', phase: 'acute', visibility: 'professionals' })).json();
    const gp = professional('Dr. Huisarts');
    const gpInvite = await inviteMember(app, who, person.id, { kind: 'professional', displayName: 'Dr. Huisarts', nihii: gp.claims.nihii, scopes: ['notes:read'] });
    await accept(app, gp, gpInvite.inviteCode);
    const org = await inviteMember(app, who, person.id, { kind: 'organisation', displayName: 'Thuiszorg', organisationId: 'org-notes', scopes: ['notes:read'] });
    await accept(app, caller({ sub: 'org-notes-admin', org: 'org-notes' }), org.inviteCode);
    const staff = caller({ sub: 'org-notes-staff', org: 'org-notes' });

    const url = `/v1/persons/${person.id}/notes/${secret.id}`;
    t.equal((await app.inject({ method: 'GET', url, headers: gp.headers })).statusCode, 200, 'a professional member reads it');
    t.equal((await app.inject({ method: 'GET', url, headers: staff.headers })).statusCode, 200, 'organisation staff read it');
    t.equal((await app.inject({ method: 'GET', url, headers: who.headers })).statusCode, 404, 'the person does not see it');
    t.equal((await app.inject({ method: 'GET', url, headers: carer.who.headers })).statusCode, 404, 'an informal carer does not see it');
    const personList = await app.inject({ method: 'GET', url: `/v1/persons/${person.id}/notes`, headers: who.headers });
    t.notOk(personList.json().items.some((n: { id: string }) => n.id === secret.id));
    t.equal((await app.inject({ method: 'GET', url: `${url}/versions`, headers: carer.who.headers })).statusCode, 404);
  });

  t.test('visibility: notes for listed members', async (t) => {
    const { who, person, nurse, nurseMemberId, carer } = await planWithTeam();
    const other = await joinedCarer(app, who, person.id, ALL_NOTES);
    const res = await post(carer.who, person.id, { body: 'Sleutel ligt bij de buren.', phase: 'info', visibility: 'members', visibleTo: [nurseMemberId] });
    t.equal(res.statusCode, 201);
    const url = `/v1/persons/${person.id}/notes/${res.json().id}`;
    t.equal((await app.inject({ method: 'GET', url, headers: nurse.headers })).statusCode, 200, 'a listed member');
    t.equal((await app.inject({ method: 'GET', url, headers: carer.who.headers })).statusCode, 200, 'the author');
    t.equal((await app.inject({ method: 'GET', url, headers: who.headers })).statusCode, 200, 'a controller');
    t.equal((await app.inject({ method: 'GET', url, headers: other.who.headers })).statusCode, 404, 'an unlisted member');

    const noList = await post(carer.who, person.id, { body: 'x', phase: 'info', visibility: 'members' });
    t.equal(noList.statusCode, 422);
    const stranger = await post(carer.who, person.id, { body: 'x', phase: 'info', visibility: 'members', visibleTo: ['01900000-0000-7000-8000-000000000000'] });
    t.equal(stranger.statusCode, 422);
    t.match(stranger.json().errors, [{ path: 'visibleTo.0' }]);
  });

  t.test('a former member reads only the notes they wrote', async (t) => {
    const { who, person, nurse, carer } = await planWithTeam();
    const own = (await post(carer.who, person.id, { body: 'Mama at goed vandaag.', phase: 'info' })).json();
    const others = (await post(nurse, person.id, { body: 'Bloeddruk 14/9.', phase: 'follow_up' })).json();
    await app.inject({ method: 'DELETE', url: `/v1/persons/${person.id}/team/${carer.memberId}/grant`, headers: who.headers });
    const list = await app.inject({ method: 'GET', url: `/v1/persons/${person.id}/notes`, headers: carer.who.headers });
    t.equal(list.statusCode, 200);
    t.same(list.json().items.map((n: { id: string }) => n.id), [own.id]);
    t.equal((await app.inject({ method: 'GET', url: `/v1/persons/${person.id}/notes/${others.id}`, headers: carer.who.headers })).statusCode, 404);
    const revise = await app.inject({ method: 'PUT', url: `/v1/persons/${person.id}/notes/${own.id}`, headers: { ...carer.who.headers, 'if-match': '"1"' }, payload: { body: 'x' } });
    t.equal(revise.statusCode, 403, 'reading is all that is left');
    await app.inject({ method: 'DELETE', url: `/v1/persons/${person.id}/team/${carer.memberId}`, headers: who.headers });
    const afterEnd = await app.inject({ method: 'GET', url: `/v1/persons/${person.id}/notes`, headers: carer.who.headers });
    t.same(afterEnd.json().items.map((n: { id: string }) => n.id), [own.id], 'also after the membership ended');
  });

  t.test('bad input never writes and never errors with 500', async (t) => {
    const { person, nurse } = await planWithTeam();
    const cases: Array<[Record<string, unknown>, number, string]> = [
      [{ body: '', phase: 'info' }, 400, 'body'],
      [{ body: '   ', phase: 'info' }, 400, 'body'],
      [{ body: 'x' }, 400, 'phase'],
      [{ body: 'x', phase: 'urgent' }, 400, 'phase'],
      [{ body: 'x'.repeat(2001), phase: 'info' }, 422, 'body'],
      [{ body: 'x', phase: 'info', about: { type: 'life_goal', id: '01900000-0000-7000-8000-000000000000' } }, 422, 'about.id'],
      [{ body: 'x', phase: 'info', about: { type: 'meeting', id: '01900000-0000-7000-8000-000000000000' } }, 400, 'about.type'],
    ];
    for (const [payload, status, path] of cases) {
      const res = await post(nurse, person.id, payload);
      t.equal(res.statusCode, status, JSON.stringify(payload).slice(0, 60));
      t.ok(res.json().errors?.some((e: { path: string }) => e.path === path), `path ${path}`);
    }
    const count = await database.db.selectFrom('notes').select((eb) => eb.fn.countAll<number>().as('n')).where('person_id', '=', person.id).executeTakeFirst();
    t.equal(Number(count?.n), 0, 'nothing was written');
  });

  t.test('notes about a goal; filters by phase and since', async (t) => {
    const { who, person, nurse } = await planWithTeam();
    const goal = await app.inject({ method: 'POST', url: `/v1/persons/${person.id}/life-goals`, headers: who.headers, payload: { title: 'Thuis blijven wonen' } });
    const about = await post(nurse, person.id, { body: 'Past bij het doel.', phase: 'info', about: { type: 'life_goal', id: goal.json().id } });
    t.match(about.json(), { about: { type: 'life_goal', id: goal.json().id } });
    await post(nurse, person.id, { body: 'Dringend: gevallen.', phase: 'acute' });
    const acute = await app.inject({ method: 'GET', url: `/v1/persons/${person.id}/notes?phase=acute`, headers: who.headers });
    t.same(acute.json().items.map((n: { phase: string }) => n.phase), ['acute']);
    const future = await app.inject({ method: 'GET', url: `/v1/persons/${person.id}/notes?since=2999-01-01T00:00:00Z`, headers: who.headers });
    t.same(future.json().items, []);
  });
});
