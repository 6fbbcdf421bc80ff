// The notification inbox: each reason, no duplicates on a second fan-out, never the actor, consent at read time.
import { randomUUID } from 'node:crypto';
import t from 'tap';
import { recordNotifications } from '../src/modules/notifications/notifications.fanout.js';
import { buildTestApp } from './helpers/app.js';
import { citizen, citizenWithPlan, professional, type Caller } from './helpers/factories.js';
import { accept, addRepresentative, inviteMember, joinedCarer } from './helpers/team.js';

t.test('notifications', async (t) => {
  const { app, database } = await buildTestApp(t, { env: { RATE_LIMIT_PER_MINUTE: '100000' } });
  const db = database.db;

  /** Runs the fan-out for every event recorded so far, as the dispatcher would (each event in its transaction). */
  async function fanOut(): Promise<void> {
    const events = await db.selectFrom('outbox_events').selectAll().orderBy('position').execute();
    for (const event of events) await db.transaction().execute((trx) => recordNotifications(trx, event, new Date()));
  }

  async function inbox(who: Caller, query = '') {
    const res = await app.inject({ method: 'GET', url: `/v1/me/notifications${query}`, headers: who.headers });
    if (res.statusCode !== 200) throw new Error(`inbox: ${res.statusCode} ${res.body}`);
    return res.json() as { items: Array<{ id: string; type: string; reason: string; personId: string; eventId: string; readAt: string | null; event: { data: Record<string, unknown> } }>; nextCursor: string | null };
  }
  const reasons = async (who: Caller, personId: string) =>
    (await inbox(who, '?limit=200')).items.filter((n) => n.personId === personId).map((n) => `${n.type}:${n.reason}`).sort();

  const post = (who: Caller, url: string, payload: Record<string, unknown>) => app.inject({ method: 'POST', url, headers: who.headers, payload });

  t.test('a task assigned to me, and my task completed; never the one who acted', async (t) => {
    const { who, person } = await citizenWithPlan(app);
    const carer = await joinedCarer(app, who, person.id, ['tasks:write']);
    const created = await post(who, `/v1/persons/${person.id}/tasks`, { title: 'Boodschappen', assigneeMemberId: carer.memberId });
    t.equal(created.statusCode, 201);
    // The carer assigns a task to themself: nobody is told.
    const own = await post(carer.who, `/v1/persons/${person.id}/tasks`, { title: 'Apotheek', assigneeMemberId: carer.memberId });
    t.equal(own.statusCode, 201);
    await fanOut();
    const carerInbox = await inbox(carer.who);
    const assigned = carerInbox.items.filter((n) => n.reason === 'task_assigned');
    t.equal(assigned.length, 1, 'one notification for the task someone else assigned (task.created does not add a second)');
    t.match(assigned[0], { type: 'task.assigned', personId: person.id, readAt: null, event: { data: { resourceId: created.json().id } } });

    const done = await app.inject({ method: 'PATCH', url: `/v1/persons/${person.id}/tasks/${created.json().id}`, headers: carer.who.headers, payload: { status: 'done' } });
    t.equal(done.statusCode, 200);
    await fanOut();
    t.same(await reasons(who, person.id), ['task.completed:task_completed', 'team.member_joined:member_joined'], 'the creator hears it was done');
    t.notOk((await inbox(carer.who)).items.some((n) => n.reason === 'task_completed'), 'the one who completed it is not told');
  });

  t.test('an acute note reaches everyone who may read it, except its author', async (t) => {
    const { who, person } = await citizenWithPlan(app);
    const author = await joinedCarer(app, who, person.id, ['notes:write']);
    const taskOnly = await joinedCarer(app, who, person.id, ['tasks:read']);
    const gp = professional();
    const invitation = await inviteMember(app, who, person.id, { kind: 'professional', displayName: 'Dr. Janssens', nihii: gp.claims.nihii, scopes: ['notes:read'] });
    await accept(app, gp, invitation.inviteCode);

    const acute = await post(author.who, `/v1/persons/${person.id}/notes`, { body: 'Gevallen in de badkamer', phase: 'acute' });
    t.equal(acute.statusCode, 201);
    t.equal((await post(author.who, `/v1/persons/${person.id}/notes`, { body: 'Kapper op dinsdag', phase: 'info' })).statusCode, 201);
    t.equal((await post(gp, `/v1/persons/${person.id}/notes`, { body: 'Medicatie aangepast', phase: 'acute', visibility: 'professionals' })).statusCode, 403, 'notes:read cannot write');
    await fanOut();

    t.same(await reasons(gp, person.id), ['note.created:acute_note']);
    t.ok((await reasons(who, person.id)).includes('note.created:acute_note'), 'the person');
    t.same(await reasons(author.who, person.id), [], 'not the author');
    t.same(await reasons(taskOnly.who, person.id), [], 'not a member without notes');

    // A note for professionals only reaches the professional, not the person.
    const profAuthor = professional();
    const inv2 = await inviteMember(app, who, person.id, { kind: 'professional', displayName: 'Verpleegkundige', nihii: profAuthor.claims.nihii, scopes: ['notes:write'] });
    await accept(app, profAuthor, inv2.inviteCode);
    const hidden = await post(profAuthor, `/v1/persons/${person.id}/notes`, { body: 'Vermoeden van misbruik', phase: 'acute', visibility: 'professionals' });
    t.equal(hidden.statusCode, 201);
    // A revision in phase acute is news again.
    const revised = await app.inject({
      method: 'PUT',
      url: `/v1/persons/${person.id}/notes/${acute.json().id}`,
      headers: { ...author.who.headers, 'if-match': '"1"' },
      payload: { body: 'Gevallen in de badkamer; arts komt langs', phase: 'acute' },
    });
    t.equal(revised.statusCode, 200, revised.body);
    await fanOut();
    t.same(await reasons(gp, person.id), ['note.created:acute_note', 'note.created:acute_note', 'note.revised:acute_note']);
    t.same((await reasons(who, person.id)).filter((r) => r.includes('note')), ['note.created:acute_note', 'note.revised:acute_note'], 'the professionals-only note is not the person\'s');
  });

  t.test('my own access changed; a revoked member keeps only that and sees no plan content', async (t) => {
    const { who, person } = await citizenWithPlan(app);
    const carer = await joinedCarer(app, who, person.id, ['notes:read', 'tasks:read']);
    t.equal((await post(who, `/v1/persons/${person.id}/notes`, { body: 'Acuut', phase: 'acute' })).statusCode, 201);
    const grant = await app.inject({ method: 'PUT', url: `/v1/persons/${person.id}/team/${carer.memberId}/grant`, headers: who.headers, payload: { scopes: ['notes:read', 'tasks:read', 'meetings:read'] } });
    t.equal(grant.statusCode, 200, grant.body);
    await fanOut();
    t.same(await reasons(carer.who, person.id), ['grant.changed:access_changed', 'note.created:acute_note']);

    const revoke = await app.inject({ method: 'DELETE', url: `/v1/persons/${person.id}/team/${carer.memberId}/grant`, headers: who.headers });
    t.equal(revoke.statusCode, 200, revoke.body);
    t.equal((await post(who, `/v1/persons/${person.id}/notes`, { body: 'Nog eens acuut', phase: 'acute' })).statusCode, 201);
    await fanOut();
    t.same(await reasons(carer.who, person.id), ['grant.changed:access_changed', 'grant.revoked:access_changed'], 'only what is about their own membership');
    const rows = await db.selectFrom('notifications').select('type').where('recipient_sub', '=', carer.who.claims.sub).execute();
    t.equal(rows.filter((r) => r.type === 'note.created').length, 1, 'no new notification was recorded after the revoke');
    t.notOk((await inbox(carer.who)).items.some((n) => n.type.startsWith('note.')), 'the earlier acute note is no longer listed');
    t.same(await reasons(who, person.id), ['team.member_joined:member_joined'], 'the controller who acted is not told of their own grants and notes');
  });

  t.test('members joining and leaving are told to the person', async (t) => {
    const { who, person } = await citizenWithPlan(app);
    const carer = await joinedCarer(app, who, person.id, ['team:read']);
    const leave = await app.inject({ method: 'DELETE', url: `/v1/persons/${person.id}/team/${carer.memberId}`, headers: carer.who.headers });
    t.equal(leave.statusCode, 200, leave.body);
    const other = await joinedCarer(app, who, person.id, ['team:read']);
    const ended = await app.inject({ method: 'DELETE', url: `/v1/persons/${person.id}/team/${other.memberId}`, headers: who.headers });
    t.equal(ended.statusCode, 200, ended.body);
    await fanOut();
    t.same(await reasons(who, person.id), ['team.member_ended:member_left', 'team.member_joined:member_joined', 'team.member_joined:member_joined']);
    t.same(await reasons(carer.who, person.id), [], 'who left themself is not told');
    t.same(await reasons(other.who, person.id), ['team.member_ended:access_changed'], 'who was ended by the person is told');
  });

  t.test('a meeting I am invited to, moved or cancelled; not a new title', async (t) => {
    const { who, person } = await citizenWithPlan(app);
    const participant = await joinedCarer(app, who, person.id, ['meetings:read']);
    const bystander = await joinedCarer(app, who, person.id, ['meetings:read']);
    const url = `/v1/persons/${person.id}/meetings`;
    const booked = await post(who, url, { title: 'Overleg', location: 'Thuis', startsAt: '2030-03-10T14:00:00Z', endsAt: '2030-03-10T15:00:00Z', participantMemberIds: [participant.memberId] });
    t.equal(booked.statusCode, 201, booked.body);
    const id = booked.json().id;
    const patch = (payload: Record<string, unknown>) => app.inject({ method: 'PATCH', url: `${url}/${id}`, headers: who.headers, payload });
    t.equal((await patch({ title: 'Ander overleg' })).statusCode, 200);
    t.equal((await patch({ startsAt: '2030-03-11T14:00:00Z', endsAt: '2030-03-11T15:00:00Z' })).statusCode, 200);
    t.equal((await patch({ status: 'cancelled' })).statusCode, 200);
    await fanOut();
    t.same(await reasons(participant.who, person.id), ['meeting.scheduled:meeting_invited', 'meeting.updated:meeting_cancelled', 'meeting.updated:meeting_changed']);
    t.same(await reasons(bystander.who, person.id), []);
  });

  t.test('emergency access to my own plan reaches the person and the coordinator; life goals written by others reach the person', async (t) => {
    const { who, person } = await citizenWithPlan(app);
    const coordinator = professional();
    const inv = await inviteMember(app, who, person.id, { kind: 'professional', displayName: 'Dr. Coördinator', nihii: coordinator.claims.nihii, function: 'coordinator', scopes: ['team:read', 'goals:write'] });
    await accept(app, coordinator, inv.inviteCode);
    // A full representative is a controller too.
    const daughter = citizen();
    const mandate = await addRepresentative(app, who, person.id, { displayName: 'Dochter', insz: daughter.claims.insz, level: 'full', basis: 'chosen' });
    await accept(app, daughter, mandate.inviteCode);
    const doctor = professional('Dr. Van Wacht');
    const opened = await post(doctor, '/v1/emergency-access', { insz: who.claims.insz, reason: 'Nachtelijke oproep' });
    t.equal(opened.statusCode, 201, opened.body);

    t.equal((await post(coordinator, `/v1/persons/${person.id}/life-goals`, { title: 'Thuis blijven wonen' })).statusCode, 201);
    t.equal((await post(who, `/v1/persons/${person.id}/life-goals`, { title: 'Wandelen met de hond' })).statusCode, 201);
    t.equal((await post(daughter, `/v1/persons/${person.id}/life-goals`, { title: 'Naar zee' })).statusCode, 201);
    await fanOut();

    t.same(await reasons(who, person.id), [
      'emergency_access.opened:emergency_access',
      'life_goal.created:life_goal_changed',
      'life_goal.created:life_goal_changed',
      'team.member_joined:member_joined',
    ]);
    t.same(await reasons(coordinator, person.id), ['emergency_access.opened:emergency_access']);
    t.same(await reasons(doctor, person.id), [], 'not the doctor who opened it');
    t.same(
      await reasons(daughter, person.id),
      ['emergency_access.opened:emergency_access', 'life_goal.created:life_goal_changed', 'life_goal.created:life_goal_changed'],
      'the representative hears of the emergency and of the person\'s and the coordinator\'s goals, not of their own',
    );
  });

  t.test('a second fan-out of the same events records nothing new', async (t) => {
    const before = await db.selectFrom('notifications').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    await fanOut();
    const after = await db.selectFrom('notifications').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    t.ok(Number(before.n) > 10);
    t.equal(Number(after.n), Number(before.n));
  });

  t.test('unread filter, mark as read (idempotent), read-all, pages, and someone else\'s notification', async (t) => {
    const { who, person } = await citizenWithPlan(app);
    for (let i = 0; i < 3; i++) await joinedCarer(app, who, person.id, ['team:read']);
    await fanOut();
    const all = await inbox(who);
    t.equal(all.items.length, 3);
    t.ok(all.items[0]!.id > all.items[1]!.id, 'newest first');

    const first = all.items[0]!;
    const read = await app.inject({ method: 'POST', url: `/v1/me/notifications/${first.id}/read`, headers: who.headers });
    t.equal(read.statusCode, 200, read.body);
    t.ok(read.json().readAt);
    const again = await app.inject({ method: 'POST', url: `/v1/me/notifications/${first.id}/read`, headers: who.headers });
    t.equal(again.json().readAt, read.json().readAt, 'the first read time is kept');
    t.same((await inbox(who, '?unread=true')).items.map((n) => n.id), all.items.slice(1).map((n) => n.id));

    const page1 = await inbox(who, '?limit=2');
    t.equal(page1.items.length, 2);
    t.ok(page1.nextCursor);
    const page2 = await inbox(who, `?limit=2&cursor=${page1.nextCursor}`);
    t.same(page2.items.map((n) => n.id), [all.items[2]!.id]);
    t.equal(page2.nextCursor, null);

    const stranger = citizen();
    const theirs = await app.inject({ method: 'POST', url: `/v1/me/notifications/${first.id}/read`, headers: stranger.headers });
    t.equal(theirs.statusCode, 404);
    t.equal(theirs.headers['content-type'], 'application/problem+json; charset=utf-8');
    t.equal((await app.inject({ method: 'POST', url: `/v1/me/notifications/${randomUUID()}/read`, headers: who.headers })).statusCode, 404);
    t.equal((await app.inject({ method: 'POST', url: '/v1/me/notifications/not-a-uuid/read', headers: who.headers })).statusCode, 400);
    t.equal((await app.inject({ method: 'GET', url: '/v1/me/notifications?cursor=nonsense', headers: who.headers })).statusCode, 400);
    t.equal((await app.inject({ method: 'GET', url: '/v1/me/notifications?unread=maybe', headers: who.headers })).statusCode, 400);
    t.equal((await app.inject({ method: 'GET', url: '/v1/me/notifications' })).statusCode, 401);

    const readAll = await app.inject({ method: 'POST', url: '/v1/me/notifications/read-all', headers: who.headers });
    t.same(readAll.json(), { updated: 2 });
    t.same((await inbox(who, '?unread=true')).items, []);
  });

  t.test('a page is filled past entries the caller may no longer see', async (t) => {
    const { who, person } = await citizenWithPlan(app);
    const carer = await joinedCarer(app, who, person.id, ['notes:read']);
    for (let i = 0; i < 4; i++) t.equal((await post(who, `/v1/persons/${person.id}/notes`, { body: `Acuut ${i}`, phase: 'acute' })).statusCode, 201);
    const { who: other, person: otherPerson } = await citizenWithPlan(app);
    const sameCarerElsewhere = await inviteMember(app, other, otherPerson.id, { kind: 'informal_carer', displayName: 'Mieke', scopes: ['notes:read'] });
    await accept(app, carer.who, sameCarerElsewhere.inviteCode);
    t.equal((await post(other, `/v1/persons/${otherPerson.id}/notes`, { body: 'Elders acuut', phase: 'acute' })).statusCode, 201);
    await fanOut();
    t.equal((await inbox(carer.who)).items.length, 5);
    // Revoked in the first plan: its four notes disappear, the other plan's note and the revoke remain.
    t.equal((await app.inject({ method: 'DELETE', url: `/v1/persons/${person.id}/team/${carer.memberId}/grant`, headers: who.headers })).statusCode, 200);
    await fanOut();
    const page = await inbox(carer.who, '?limit=2');
    t.same(page.items.map((n) => n.type), ['grant.revoked', 'note.created']);
    t.equal(page.items[1]!.personId, otherPerson.id);
    const rest = await inbox(carer.who, `?limit=2&cursor=${page.nextCursor}`);
    t.same(rest.items, []);
    t.equal(rest.nextCursor, null);
  });
});
