// Tasks: assignment rules, the status rule, completion, versions, events and the caller's own open tasks.
import t from 'tap';
import { buildTestApp } from './helpers/app.js';
import { movableClock } from './helpers/clock.js';
import { caller, citizenWithPlan, professional, type Caller } from './helpers/factories.js';
import { accept, inviteMember, joinedCarer } from './helpers/team.js';

const TITLE = 'Steunkousen aantrekken';

t.test('tasks', async (t) => {
  const clock = movableClock(new Date('2026-06-01T08:00:00Z'));
  const { app, database } = await buildTestApp(t, { clock });
  const db = database.db;

  const post = (who: Caller, personId: string, payload: Record<string, unknown>, headers: Record<string, string> = {}) =>
    app.inject({ method: 'POST', url: `/v1/persons/${personId}/tasks`, headers: { ...who.headers, ...headers }, payload });
  const patch = (who: Caller, personId: string, taskId: string, payload: Record<string, unknown>, headers: Record<string, string> = {}) =>
    app.inject({ method: 'PATCH', url: `/v1/persons/${personId}/tasks/${taskId}`, headers: { ...who.headers, ...headers }, payload });
  const get = (who: Caller, url: string) => app.inject({ method: 'GET', url, headers: who.headers });

  async function createTask(who: Caller, personId: string, payload: Record<string, unknown>) {
    const res = await post(who, personId, payload);
    if (res.statusCode !== 201) throw new Error(`task: ${res.statusCode} ${res.body}`);
    return res.json();
  }

  async function careGoalOf(who: Caller, personId: string): Promise<string> {
    const life = await app.inject({ method: 'POST', url: `/v1/persons/${personId}/life-goals`, headers: who.headers, payload: { title: 'Thuis blijven wonen' } });
    const care = await app.inject({
      method: 'POST',
      url: `/v1/persons/${personId}/care-goals`,
      headers: who.headers,
      payload: { title: 'Veilig bewegen', lifeGoalIds: [life.json().id] },
    });
    return care.json().id;
  }

  t.test('create, list, get and patch', async (t) => {
    const { who, person } = await citizenWithPlan(app);
    const carer = await joinedCarer(app, who, person.id, ['tasks:read']);
    const careGoalId = await careGoalOf(who, person.id);

    const created = await post(who, person.id, {
      title: TITLE,
      description: 'Elke ochtend, voor het ontbijt',
      careGoalId,
      assigneeMemberId: carer.memberId,
      due: '2026-06-10',
    });
    t.equal(created.statusCode, 201);
    t.equal(created.headers.etag, '"1"');
    const task = created.json();
    t.equal(created.headers.location, `/v1/persons/${person.id}/tasks/${task.id}`);
    t.match(task, {
      taskId: task.id,
      personId: person.id,
      title: TITLE,
      description: 'Elke ochtend, voor het ontbijt',
      careGoalId,
      assigneeMemberId: carer.memberId,
      due: '2026-06-10',
      status: 'open',
      completedAt: null,
      completedBy: null,
      createdBy: { name: 'An Peeters', memberId: null },
      version: 1,
      createdAt: '2026-06-01T08:00:00.000Z',
    });

    const moment = await createTask(who, person.id, { title: 'Bloeddruk meten', assigneeMemberId: carer.memberId, due: '2026-06-12T16:00:00+02:00', status: 'in_progress' });
    t.equal(moment.due, '2026-06-12T14:00:00.000Z', 'a moment is answered as a moment, in UTC');
    t.equal(moment.status, 'in_progress');
    const other = await joinedCarer(app, who, person.id, ['tasks:write']);
    const third = await createTask(other.who, person.id, { title: 'Boodschappen', assigneeMemberId: other.memberId });
    t.same(third.createdBy, { name: 'Mieke (dochter)', memberId: other.memberId }, 'a member creator is named as in the team');
    t.equal(third.due, null);

    const ids = (res: { json(): { items: Array<{ id: string }> } }) => res.json().items.map((i) => i.id);
    const url = `/v1/persons/${person.id}/tasks`;
    const all = await get(who, url);
    t.equal(all.statusCode, 200);
    t.same(ids(all), [task.id, moment.id, third.id], 'in creation order');
    t.same(ids(await get(carer.who, `${url}?assignee=me`)), [task.id, moment.id]);
    t.same(ids(await get(who, `${url}?assignee=me`)), [], 'the person holds no membership');
    t.same(ids(await get(who, `${url}?assignee=${other.memberId}`)), [third.id]);
    t.same(ids(await get(who, `${url}?assignee=0190a0a0-0000-7000-8000-000000000000`)), [], 'an unknown member yields nothing');
    t.same(ids(await get(who, `${url}?status=in_progress`)), [moment.id]);
    t.same(ids(await get(who, `${url}?dueBefore=2026-06-11`)), [task.id]);
    t.same(ids(await get(who, `${url}?dueBefore=2026-06-12T14:00:01Z`)), [task.id, moment.id]);
    t.equal((await get(who, `${url}?assignee=someone`)).statusCode, 400);
    t.equal((await get(who, `${url}?cursor=nonsense`)).statusCode, 400);

    const first = await get(who, `${url}?limit=2`);
    t.same(ids(first), [task.id, moment.id]);
    const second = await get(who, `${url}?limit=2&cursor=${first.json().nextCursor}`);
    t.same(ids(second), [third.id]);
    t.equal(second.json().nextCursor, null);

    const one = await get(carer.who, `${url}/${task.id}`);
    t.equal(one.statusCode, 200);
    t.equal(one.headers.etag, '"1"');
    t.same(one.json(), task);
    t.equal((await get(who, `${url}/0190a0a0-0000-7000-8000-000000000000`)).statusCode, 404);

    const changed = await patch(who, person.id, task.id, { title: 'Steunkousen aantrekken (ochtend)', due: null, careGoalId: null });
    t.equal(changed.statusCode, 200);
    t.equal(changed.headers.etag, '"2"');
    t.match(changed.json(), { title: 'Steunkousen aantrekken (ochtend)', due: null, careGoalId: null, version: 2 });
    const same = await patch(who, person.id, task.id, { title: 'Steunkousen aantrekken (ochtend)' });
    t.equal(same.json().version, 2, 'sending the current value changes nothing');

    const log = await db.selectFrom('audit_entries').select(['action', 'resource_type']).where('person_id', '=', person.id).where('resource_type', '=', 'task').execute();
    t.ok(log.some((e) => e.action === 'list') && log.some((e) => e.action === 'read') && log.some((e) => e.action === 'update'), 'reads and writes are audited');
  });

  t.test('the assignee must be an active member who can read tasks; care goals of the same person only', async (t) => {
    const { who, person } = await citizenWithPlan(app);
    const ok = await joinedCarer(app, who, person.id, ['tasks:read']);
    const ended = await joinedCarer(app, who, person.id, ['tasks:read']);
    t.equal((await app.inject({ method: 'DELETE', url: `/v1/persons/${person.id}/team/${ended.memberId}`, headers: who.headers })).statusCode, 200);
    const noTasks = await joinedCarer(app, who, person.id, ['goals:read', 'team:read']);
    const revoked = await joinedCarer(app, who, person.id, ['tasks:write']);
    await app.inject({ method: 'DELETE', url: `/v1/persons/${person.id}/team/${revoked.memberId}/grant`, headers: who.headers });
    const invited = await inviteMember(app, who, person.id, { kind: 'volunteer', displayName: 'Nog niet aanvaard', scopes: ['tasks:read'] });
    const elsewhere = await citizenWithPlan(app);
    const foreignGoal = await careGoalOf(elsewhere.who, elsewhere.person.id);
    const foreignMember = await joinedCarer(app, elsewhere.who, elsewhere.person.id, ['tasks:read']);

    for (const [why, assigneeMemberId] of [
      ['an ended member', ended.memberId],
      ['a member whose grant lacks tasks', noTasks.memberId],
      ['a revoked member', revoked.memberId],
      ['an invited member who has not joined', invited.memberId],
      ['a member of another person', foreignMember.memberId],
      ['an unknown member', '0190a0a0-0000-7000-8000-000000000000'],
    ] as const) {
      const res = await post(who, person.id, { title: TITLE, assigneeMemberId });
      t.equal(res.statusCode, 422, why);
      t.match(res.json().errors, [{ path: 'assigneeMemberId' }], why);
    }

    const foreign = await post(who, person.id, { title: TITLE, assigneeMemberId: ok.memberId, careGoalId: foreignGoal });
    t.equal(foreign.statusCode, 422, 'another person\'s care goal');
    t.match(foreign.json().errors, [{ path: 'careGoalId' }]);
    const missing = await post(who, person.id, { title: TITLE, assigneeMemberId: ok.memberId, careGoalId: '0190a0a0-0000-7000-8000-000000000001' });
    t.equal(missing.statusCode, 422, 'a care goal that does not exist');
    t.same(missing.json().errors, foreign.json().errors, 'the same answer: other plans\' ids are never confirmed');

    const expiring = await joinedCarer(app, who, person.id, ['tasks:read'], { validUntil: new Date(clock().getTime() + 3600_000).toISOString() });
    const task = await createTask(who, person.id, { title: TITLE, assigneeMemberId: expiring.memberId });
    clock.advance(2 * 3600_000);
    const reassignExpired = await patch(who, person.id, task.id, { assigneeMemberId: expiring.memberId, title: 'Andere titel' });
    t.equal(reassignExpired.statusCode, 200, 'keeping the current assignee is no new assignment');
    const toEnded = await patch(who, person.id, task.id, { assigneeMemberId: ended.memberId });
    t.equal(toEnded.statusCode, 422);
    t.match(toEnded.json().errors, [{ path: 'assigneeMemberId' }]);
    const toForeignGoal = await patch(who, person.id, task.id, { careGoalId: foreignGoal });
    t.equal(toForeignGoal.statusCode, 422);
    t.match(toForeignGoal.json().errors, [{ path: 'careGoalId' }]);
    t.equal((await patch(who, person.id, task.id, { assigneeMemberId: ok.memberId })).statusCode, 200);
  });

  t.test('a due is a date or a timestamp; anything else is a 400 with its path', async (t) => {
    const { who, person } = await citizenWithPlan(app);
    const carer = await joinedCarer(app, who, person.id, ['tasks:read']);
    for (const due of ['next week', '2026-02-30', '2026-06-10T10:00:00', '0000-01-01', '9999-12-31T23:00:00-12:00', 20260610]) {
      const res = await post(who, person.id, { title: TITLE, assigneeMemberId: carer.memberId, due });
      t.equal(res.statusCode, 400, String(due));
      t.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8');
      t.match(res.json().errors, [{ path: 'due' }], String(due));
    }
    const nul = await post(who, person.id, { title: 'Steun\u0000kousen', assigneeMemberId: carer.memberId });
    t.equal(nul.statusCode, 400, 'a NUL character is bad input, not a database error');
    t.match(nul.json().errors, [{ path: 'title' }]);
    const noTitle = await post(who, person.id, { assigneeMemberId: carer.memberId });
    t.match(noTitle.json().errors, [{ path: 'title' }]);
    const badStatus = await post(who, person.id, { title: TITLE, assigneeMemberId: carer.memberId, status: 'waiting' });
    t.equal(badStatus.statusCode, 400);
    t.equal((await get(who, `/v1/persons/${person.id}/tasks?dueBefore=next%20week`)).statusCode, 400);
    const task = await createTask(who, person.id, { title: TITLE, assigneeMemberId: carer.memberId });
    const badPatch = await patch(who, person.id, task.id, { due: 'next week' });
    t.equal(badPatch.statusCode, 400);
    t.match(badPatch.json().errors, [{ path: 'due' }]);
  });

  t.test('the status rule: assignee, creator, coordinator and controllers; other changes need tasks:write', async (t) => {
    const { who, person } = await citizenWithPlan(app);
    const assignee = await joinedCarer(app, who, person.id, ['tasks:read']);
    const writer = await joinedCarer(app, who, person.id, ['tasks:write']);
    const reader = await joinedCarer(app, who, person.id, ['tasks:read']);
    const noScope = await joinedCarer(app, who, person.id, ['team:read']);
    const nurse = professional('Verpleegkundige Sara');
    const coordinatorInvite = await inviteMember(app, who, person.id, {
      kind: 'professional',
      displayName: 'Sara (thuisverpleging)',
      nihii: nurse.claims.nihii,
      function: 'coordinator',
      scopes: ['tasks:read'],
    });
    await accept(app, nurse, coordinatorInvite.inviteCode);
    const task = await createTask(who, person.id, { title: TITLE, assigneeMemberId: assignee.memberId });

    const started = await patch(assignee.who, person.id, task.id, { status: 'in_progress' });
    t.equal(started.statusCode, 200, 'the assignee moves the status with tasks:read alone');
    t.equal(started.json().status, 'in_progress');
    t.equal((await patch(assignee.who, person.id, task.id, { title: 'Mijn eigen titel' })).statusCode, 403, 'but not the title');
    t.equal((await patch(assignee.who, person.id, task.id, { status: 'open', title: 'Mijn eigen titel' })).statusCode, 403, 'nor both at once');

    t.equal((await patch(writer.who, person.id, task.id, { status: 'done' })).statusCode, 403, 'tasks:write alone does not move someone else\'s task');
    t.equal((await patch(writer.who, person.id, task.id, { title: 'Steunkousen (links en rechts)' })).statusCode, 200, 'it changes the other fields');
    t.equal((await patch(reader.who, person.id, task.id, { status: 'done' })).statusCode, 403, 'tasks:read without being the assignee');
    t.equal((await patch(noScope.who, person.id, task.id, { status: 'done' })).statusCode, 403, 'no tasks scope at all');
    t.equal((await patch(caller({ sub: 'stranger' }), person.id, task.id, { status: 'done' })).statusCode, 404, 'no relation to the person');
    t.equal((await patch(nurse, person.id, task.id, { status: 'open' })).statusCode, 200, 'a coordinator');
    t.equal((await patch(who, person.id, task.id, { status: 'cancelled' })).statusCode, 200, 'a controller');

    const own = await createTask(writer.who, person.id, { title: 'Apotheek', assigneeMemberId: assignee.memberId });
    t.equal((await patch(writer.who, person.id, own.id, { status: 'in_progress' })).statusCode, 200, 'the creator');

    // A reassigned task: the former assignee no longer moves it, the new one does.
    t.equal((await patch(who, person.id, own.id, { assigneeMemberId: reader.memberId })).statusCode, 200);
    t.equal((await patch(assignee.who, person.id, own.id, { status: 'done' })).statusCode, 403);
    t.equal((await patch(reader.who, person.id, own.id, { status: 'done' })).statusCode, 200);

    // Revoking the assignee's grant takes the status right away with it.
    await app.inject({ method: 'DELETE', url: `/v1/persons/${person.id}/team/${reader.memberId}/grant`, headers: who.headers });
    t.equal((await patch(reader.who, person.id, own.id, { status: 'open' })).statusCode, 403);
  });

  t.test('done records who and when; leaving done clears it', async (t) => {
    const { who, person } = await citizenWithPlan(app);
    const assignee = await joinedCarer(app, who, person.id, ['tasks:read']);
    const task = await createTask(who, person.id, { title: TITLE, assigneeMemberId: assignee.memberId });
    clock.advance(60_000);
    const done = await patch(assignee.who, person.id, task.id, { status: 'done' });
    t.equal(done.statusCode, 200);
    t.match(done.json(), { status: 'done', completedAt: clock().toISOString(), completedBy: { name: 'Mieke (dochter)', memberId: assignee.memberId } });
    const stored = await db.selectFrom('tasks').selectAll().where('person_id', '=', person.id).where('task_id', '=', task.id).executeTakeFirstOrThrow();
    t.equal(stored.completed_by_sub, assignee.who.claims.sub);
    t.equal(stored.completed_by_member_id, assignee.memberId);
    t.same((await get(who, `/v1/persons/${person.id}/tasks/${task.id}`)).json(), done.json(), 'read back the same');

    const reopened = await patch(who, person.id, task.id, { status: 'open' });
    t.match(reopened.json(), { status: 'open', completedAt: null, completedBy: null });

    clock.advance(60_000);
    const byPerson = await patch(who, person.id, task.id, { status: 'done' });
    t.match(byPerson.json(), { completedAt: clock().toISOString(), completedBy: { name: 'An Peeters', memberId: null } });
    t.same((await get(who, `/v1/persons/${person.id}/tasks/${task.id}`)).json(), byPerson.json(), 'a non-member\'s name is read back too');

    const createdDone = await createTask(who, person.id, { title: 'Al gebeurd', assigneeMemberId: assignee.memberId, status: 'done' });
    t.match(createdDone, { status: 'done', completedAt: clock().toISOString(), completedBy: { name: 'An Peeters' } });
  });

  t.test('If-Match is honoured when sent, not required', async (t) => {
    const { who, person } = await citizenWithPlan(app);
    const assignee = await joinedCarer(app, who, person.id, ['tasks:read']);
    const task = await createTask(who, person.id, { title: TITLE, assigneeMemberId: assignee.memberId });
    t.equal((await patch(who, person.id, task.id, { title: 'Versie twee' })).statusCode, 200, 'without If-Match');
    const stale = await patch(who, person.id, task.id, { title: 'Versie drie' }, { 'if-match': '"1"' });
    t.equal(stale.statusCode, 412);
    t.equal(stale.json().status, 412);
    const current = await patch(who, person.id, task.id, { title: 'Versie drie' }, { 'if-match': '"2"' });
    t.equal(current.statusCode, 200);
    t.equal(current.headers.etag, '"3"');
    t.equal((await patch(who, person.id, task.id, { title: 'Versie vier' }, { 'if-match': 'drie' })).statusCode, 400);
  });

  t.test('history lists every version', async (t) => {
    const { who, person } = await citizenWithPlan(app);
    const assignee = await joinedCarer(app, who, person.id, ['tasks:read']);
    const second = await joinedCarer(app, who, person.id, ['tasks:read']);
    const task = await createTask(who, person.id, { title: TITLE, assigneeMemberId: assignee.memberId });
    await patch(assignee.who, person.id, task.id, { status: 'in_progress' });
    await patch(who, person.id, task.id, { assigneeMemberId: second.memberId, due: '2026-07-01' });
    await patch(second.who, person.id, task.id, { status: 'done' });

    const url = `/v1/persons/${person.id}/tasks/${task.id}/history`;
    const history = await get(who, url);
    t.equal(history.statusCode, 200);
    const items = history.json().items;
    t.same(items.map((i: { version: number }) => i.version), [1, 2, 3, 4]);
    t.same(items.map((i: { changedFields: string[] }) => i.changedFields), [
      ['title', 'description', 'careGoalId', 'assigneeMemberId', 'due', 'status'],
      ['status'],
      ['assigneeMemberId', 'due'],
      ['status'],
    ]);
    t.match(items[1], { changedBy: { role: 'member', memberId: assignee.memberId }, snapshot: { status: 'in_progress', version: 2 } });
    t.match(items[3], { changedBy: { memberId: second.memberId }, snapshot: { status: 'done', completedBy: { memberId: second.memberId } } });
    const paged = await get(who, `${url}?limit=3`);
    t.equal(paged.json().items.length, 3);
    t.same((await get(who, `${url}?cursor=${paged.json().nextCursor}`)).json().items.map((i: { version: number }) => i.version), [4]);
    t.equal((await get(who, `/v1/persons/${person.id}/tasks/0190a0a0-0000-7000-8000-000000000000/history`)).statusCode, 404);
    const noScope = await joinedCarer(app, who, person.id, ['goals:read']);
    t.equal((await get(noScope.who, url)).statusCode, 403);
  });

  t.test('GET /v1/me/tasks: open tasks across plans, only where the grant reads tasks now', async (t) => {
    const me = caller({ sub: `me-${process.pid}`, name: 'Jan Buur' });
    async function memberOf(owner: Caller, personId: string, scopes: string[]) {
      const invitation = await inviteMember(app, owner, personId, { kind: 'volunteer', displayName: 'Buurman Jan', scopes });
      await accept(app, me, invitation.inviteCode);
      return invitation.memberId;
    }
    const a = await citizenWithPlan(app);
    const b = await citizenWithPlan(app);
    const c = await citizenWithPlan(app);
    const d = await citizenWithPlan(app);
    const inA = await memberOf(a.who, a.person.id, ['tasks:read']);
    const inB = await memberOf(b.who, b.person.id, ['tasks:write', 'team:read']);
    const inC = await memberOf(c.who, c.person.id, ['tasks:read']);
    const inD = await memberOf(d.who, d.person.id, ['tasks:read']);
    const someoneElse = await joinedCarer(app, a.who, a.person.id, ['tasks:read']);

    const a1 = await createTask(a.who, a.person.id, { title: 'A open', assigneeMemberId: inA });
    const a2 = await createTask(a.who, a.person.id, { title: 'A bezig', assigneeMemberId: inA, status: 'in_progress' });
    await createTask(a.who, a.person.id, { title: 'A klaar', assigneeMemberId: inA, status: 'done' });
    await createTask(a.who, a.person.id, { title: 'A geannuleerd', assigneeMemberId: inA, status: 'cancelled' });
    await createTask(a.who, a.person.id, { title: 'A van iemand anders', assigneeMemberId: someoneElse.memberId });
    const b1 = await createTask(b.who, b.person.id, { title: 'B open', assigneeMemberId: inB });
    await createTask(c.who, c.person.id, { title: 'C open', assigneeMemberId: inC });
    await createTask(d.who, d.person.id, { title: 'D open', assigneeMemberId: inD });
    // C revokes the grant; D narrows it to something other than tasks.
    t.equal((await app.inject({ method: 'DELETE', url: `/v1/persons/${c.person.id}/team/${inC}/grant`, headers: c.who.headers })).statusCode, 200);
    t.equal((await app.inject({ method: 'PUT', url: `/v1/persons/${d.person.id}/team/${inD}/grant`, headers: d.who.headers, payload: { scopes: ['team:read'] } })).statusCode, 200);

    const mine = await get(me, '/v1/me/tasks');
    t.equal(mine.statusCode, 200);
    const items = mine.json().items as Array<{ id: string; personId: string; status: string }>;
    t.same(items.map((i) => i.id).sort(), [a1.id, a2.id, b1.id].sort(), 'open and in progress, in A and B only');
    t.same(new Set(items.map((i) => i.personId)), new Set([a.person.id, b.person.id]));
    t.equal(mine.json().nextCursor, null);

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res = await get(me, `/v1/me/tasks?limit=1${cursor ? `&cursor=${cursor}` : ''}`);
      t.equal(res.statusCode, 200);
      seen.push(...res.json().items.map((i: { id: string }) => i.id));
      cursor = res.json().nextCursor;
    } while (cursor);
    t.same(seen, items.map((i) => i.id), 'pages walk the same list');
    t.equal((await get(me, '/v1/me/tasks?cursor=nonsense')).statusCode, 400);

    const audited = await db
      .selectFrom('audit_entries')
      .select(['person_id'])
      .where('actor_sub', '=', me.claims.sub)
      .where('action', '=', 'list')
      .where('resource_type', '=', 'task')
      .execute();
    const auditedPersons = new Set(audited.map((e) => e.person_id));
    t.ok(auditedPersons.has(a.person.id) && auditedPersons.has(b.person.id), 'a list entry per plan shown');
    t.notOk(auditedPersons.has(c.person.id) || auditedPersons.has(d.person.id), 'nothing logged where nothing was shown');

    t.same((await get(caller({ sub: 'nobody-in-particular' }), '/v1/me/tasks')).json(), { items: [], nextCursor: null });
    t.equal((await app.inject({ method: 'GET', url: '/v1/me/tasks' })).statusCode, 401);

    // Organisation staff see the tasks assigned to their organisation's membership.
    const orgInvite = await inviteMember(app, b.who, b.person.id, { kind: 'organisation', displayName: 'Thuiszorg', organisationId: 'org-tasks', scopes: ['tasks:read'] });
    await accept(app, caller({ sub: 'org-admin', org: 'org-tasks' }), orgInvite.inviteCode);
    const orgTask = await createTask(b.who, b.person.id, { title: 'B voor de thuiszorg', assigneeMemberId: orgInvite.memberId });
    const staff = await get(caller({ sub: 'org-nurse', org: 'org-tasks' }), '/v1/me/tasks');
    t.same(staff.json().items.map((i: { id: string }) => i.id), [orgTask.id]);
  });

  t.test('events are thin: ids and states, never the title or description', async (t) => {
    const { who, person } = await citizenWithPlan(app);
    const assignee = await joinedCarer(app, who, person.id, ['tasks:read']);
    const second = await joinedCarer(app, who, person.id, ['tasks:read']);
    const careGoalId = await careGoalOf(who, person.id);
    const task = await createTask(who, person.id, { title: 'Geheime titel', description: 'Vertrouwelijke beschrijving', assigneeMemberId: assignee.memberId, careGoalId });
    await patch(who, person.id, task.id, { title: 'Nog een geheime titel' });
    await patch(who, person.id, task.id, { assigneeMemberId: second.memberId });
    await patch(second.who, person.id, task.id, { status: 'in_progress' });
    await patch(second.who, person.id, task.id, { status: 'done' });

    const events = await db
      .selectFrom('outbox_events')
      .select(['type', 'data'])
      .where('person_id', '=', person.id)
      .where('type', 'like', 'task.%')
      .orderBy('seq')
      .execute();
    t.same(events.map((e) => e.type), ['task.created', 'task.assigned', 'task.updated', 'task.assigned', 'task.updated', 'task.completed']);
    t.same(events[0]!.data, { resourceType: 'task', resourceId: task.id, version: 1, status: 'open', assigneeMemberId: assignee.memberId, careGoalId });
    t.match(events[3]!.data, { version: 3, assigneeMemberId: second.memberId, changed: ['assigneeMemberId'] });
    t.match(events[5]!.data, { version: 5, status: 'done', changed: ['status'] });
    for (const event of events) {
      t.notMatch(JSON.stringify(event.data), /geheime|Vertrouwelijke/i, `${event.type} carries no free text`);
    }
  });
});
