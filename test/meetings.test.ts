// Meetings: booking, rescheduling and cancelling consultations of the care team.
import { randomUUID } from 'node:crypto';
import t from 'tap';
import { buildTestApp } from './helpers/app.js';
import { movableClock } from './helpers/clock.js';
import { caller, citizen, citizenWithPlan, professional } from './helpers/factories.js';
import { accept, addRepresentative, inviteMember, joinedCarer } from './helpers/team.js';

const TITLE = 'Overleg over thuiszorg na ontslag';
const AGENDA = 'Valpartij bespreken, nachtelijke onrust';
const LOCATION = 'Lokaal dienstencentrum De Kring, zaal 2';

t.test('meetings', async (t) => {
  const clock = movableClock(new Date('2026-03-02T09:00:00Z'));
  const { app, database } = await buildTestApp(t, { clock });
  const db = database.db;

  /** A plan with a participant (meetings:read) and a meeting-writing member. */
  async function planWithTeam() {
    const { who, person } = await citizenWithPlan(app);
    const participant = await joinedCarer(app, who, person.id, ['meetings:read']);
    const organiser = await joinedCarer(app, who, person.id, ['meetings:write']);
    return { who, person, participant, organiser, url: `/v1/persons/${person.id}/meetings` };
  }

  const booking = (participantMemberIds: string[], extra: Record<string, unknown> = {}) => ({
    title: TITLE,
    startsAt: '2026-03-10T14:00:00Z',
    endsAt: '2026-03-10T15:00:00Z',
    videoUrl: 'https://meet.example.be/kring-42',
    location: LOCATION,
    agenda: AGENDA,
    participantMemberIds,
    ...extra,
  });

  t.test('book, read, reschedule and follow the history', async (t) => {
    const { who, person, participant, organiser, url } = await planWithTeam();
    const created = await app.inject({ method: 'POST', url, headers: organiser.who.headers, payload: booking([participant.memberId, organiser.memberId]) });
    t.equal(created.statusCode, 201);
    const meeting = created.json();
    t.equal(created.headers.location, `${url}/${meeting.id}`);
    t.equal(created.headers.etag, '"1"');
    t.same(meeting, {
      id: meeting.id,
      meetingId: meeting.id,
      personId: person.id,
      title: TITLE,
      startsAt: '2026-03-10T14:00:00.000Z',
      endsAt: '2026-03-10T15:00:00.000Z',
      videoUrl: 'https://meet.example.be/kring-42',
      location: LOCATION,
      agenda: AGENDA,
      participantMemberIds: [participant.memberId, organiser.memberId],
      status: 'scheduled',
      version: 1,
      createdAt: '2026-03-02T09:00:00.000Z',
      updatedAt: '2026-03-02T09:00:00.000Z',
    });

    const read = await app.inject({ method: 'GET', url: `${url}/${meeting.id}`, headers: participant.who.headers });
    t.equal(read.statusCode, 200, 'a participant with meetings:read reads it');
    t.equal(read.headers.etag, '"1"');
    t.same(read.json(), meeting);

    clock.advance(60_000);
    const moved = await app.inject({
      method: 'PATCH',
      url: `${url}/${meeting.id}`,
      headers: { ...who.headers, 'if-match': '"1"' },
      payload: { startsAt: '2026-03-11T14:00:00+01:00', endsAt: '2026-03-11T15:30:00+01:00' },
    });
    t.equal(moved.statusCode, 200);
    t.equal(moved.headers.etag, '"2"');
    t.match(moved.json(), { version: 2, startsAt: '2026-03-11T13:00:00.000Z', endsAt: '2026-03-11T14:30:00.000Z', updatedAt: '2026-03-02T09:01:00.000Z' });

    const stale = await app.inject({ method: 'PATCH', url: `${url}/${meeting.id}`, headers: { ...who.headers, 'if-match': '"1"' }, payload: { title: 'Ander overleg' } });
    t.equal(stale.statusCode, 412, 'If-Match is honoured when sent');
    const unconditional = await app.inject({ method: 'PATCH', url: `${url}/${meeting.id}`, headers: who.headers, payload: { agenda: null, location: null } });
    t.equal(unconditional.statusCode, 200, 'but not required');
    t.match(unconditional.json(), { version: 3, agenda: null, location: null, videoUrl: 'https://meet.example.be/kring-42' });

    const same = await app.inject({ method: 'PATCH', url: `${url}/${meeting.id}`, headers: who.headers, payload: { title: TITLE } });
    t.equal(same.statusCode, 200);
    t.equal(same.json().version, 3, 'a change that changes nothing is no new version');

    const history = await app.inject({ method: 'GET', url: `${url}/${meeting.id}/history`, headers: participant.who.headers });
    t.equal(history.statusCode, 200);
    t.match(history.json(), {
      items: [
        { version: 1, changedBy: { role: 'member', memberId: organiser.memberId }, snapshot: meeting },
        { version: 2, changedFields: ['startsAt', 'endsAt'], changedBy: { role: 'person', memberId: null }, changedAt: '2026-03-02T09:01:00.000Z' },
        { version: 3, changedFields: ['location', 'agenda'] },
      ],
      nextCursor: null,
    });
    t.equal(history.json().items.length, 3);
    const firstPage = await app.inject({ method: 'GET', url: `${url}/${meeting.id}/history?limit=2`, headers: who.headers });
    const rest = await app.inject({ method: 'GET', url: `${url}/${meeting.id}/history?limit=2&cursor=${firstPage.json().nextCursor}`, headers: who.headers });
    t.same(rest.json().items.map((i: { version: number }) => i.version), [3]);
    t.equal((await app.inject({ method: 'GET', url: `${url}/${randomUUID()}`, headers: who.headers })).statusCode, 404);
    t.equal((await app.inject({ method: 'GET', url: `${url}/${randomUUID()}/history`, headers: who.headers })).statusCode, 404);

    const events = await db.selectFrom('outbox_events').select(['type', 'data']).where('person_id', '=', person.id).where('type', 'like', 'meeting.%').orderBy('seq').execute();
    t.same(events.map((e) => e.type), ['meeting.scheduled', 'meeting.updated', 'meeting.updated']);
    t.same(events[0]!.data, {
      resourceType: 'meeting',
      resourceId: meeting.id,
      version: 1,
      status: 'scheduled',
      startsAt: '2026-03-10T14:00:00.000Z',
      endsAt: '2026-03-10T15:00:00.000Z',
      participantMemberIds: [participant.memberId, organiser.memberId],
    });
    t.match(events[1]!.data, { version: 2, changed: ['startsAt', 'endsAt'], startsAt: '2026-03-11T13:00:00.000Z' });
    const text = JSON.stringify(events);
    t.notOk(text.includes('thuiszorg') || text.includes('Valpartij') || text.includes('dienstencentrum') || text.includes('meet.example'), 'no title, agenda, location or link in events');

    const audit = await db.selectFrom('audit_entries').select(['action']).where('person_id', '=', person.id).where('resource_type', 'like', 'meeting%').orderBy('seq').execute();
    t.same(audit.map((a) => a.action), ['create', 'read', 'update', 'update', 'read', 'read', 'read', 'read'], 'every read and write is audited');
  });

  t.test('lists in start order, filtered by window and status, page by page', async (t) => {
    const { who, participant, url } = await planWithTeam();
    const at = (day: number) => ({ startsAt: `2026-04-${String(day).padStart(2, '0')}T10:00:00Z`, endsAt: `2026-04-${String(day).padStart(2, '0')}T11:00:00Z` });
    const ids: Record<number, string> = {};
    for (const day of [20, 5, 12, 1]) {
      const res = await app.inject({ method: 'POST', url, headers: who.headers, payload: booking([participant.memberId], at(day)) });
      ids[day] = res.json().id;
    }
    await app.inject({ method: 'PATCH', url: `${url}/${ids[12]}`, headers: who.headers, payload: { status: 'cancelled' } });

    const all = await app.inject({ method: 'GET', url, headers: participant.who.headers });
    t.same(all.json().items.map((m: { id: string }) => m.id), [ids[1], ids[5], ids[12], ids[20]]);
    const window = await app.inject({ method: 'GET', url: `${url}?from=2026-04-05T10:30:00Z&to=2026-04-20T10:00:00Z`, headers: who.headers });
    t.same(window.json().items.map((m: { id: string }) => m.id), [ids[5], ids[12]], 'overlapping the window');
    const scheduled = await app.inject({ method: 'GET', url: `${url}?status=scheduled`, headers: who.headers });
    t.same(scheduled.json().items.map((m: { id: string }) => m.id), [ids[1], ids[5], ids[20]]);

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const pageUrl: string = `${url}?limit=1${cursor ? `&cursor=${cursor}` : ''}`;
      const res = await app.inject({ method: 'GET', url: pageUrl, headers: who.headers });
      t.equal(res.statusCode, 200);
      const body = res.json() as { items: Array<{ id: string }>; nextCursor: string | null };
      seen.push(...body.items.map((m) => m.id));
      cursor = body.nextCursor;
    } while (cursor);
    t.same(seen, [ids[1], ids[5], ids[12], ids[20]], 'pages follow the start order');

    const backwards = await app.inject({ method: 'GET', url: `${url}?from=2026-04-10T00:00:00Z&to=2026-04-01T00:00:00Z`, headers: who.headers });
    t.equal(backwards.statusCode, 400);
    t.match(backwards.json().errors, [{ path: 'querystring.to' }]);
    t.equal((await app.inject({ method: 'GET', url: `${url}?cursor=nonsense`, headers: who.headers })).statusCode, 400);
    t.equal((await app.inject({ method: 'GET', url: `${url}?from=yesterday`, headers: who.headers })).statusCode, 400);
    t.equal((await app.inject({ method: 'GET', url: `${url}?status=done`, headers: who.headers })).statusCode, 400);
  });

  t.test('participants must be active members of this plan who may read meetings (422)', async (t) => {
    const { who, person, participant, url } = await planWithTeam();
    const ended = await joinedCarer(app, who, person.id, ['meetings:read']);
    await app.inject({ method: 'DELETE', url: `/v1/persons/${person.id}/team/${ended.memberId}`, headers: who.headers });
    const noAccess = await joinedCarer(app, who, person.id, ['tasks:read']);
    const revoked = await joinedCarer(app, who, person.id, ['meetings:read']);
    await app.inject({ method: 'DELETE', url: `/v1/persons/${person.id}/team/${revoked.memberId}/grant`, headers: who.headers });
    const invited = await inviteMember(app, who, person.id, { kind: 'volunteer', displayName: 'Nog niet aanvaard', scopes: ['meetings:read'] });
    const other = await citizenWithPlan(app);
    const elsewhere = await joinedCarer(app, other.who, other.person.id, ['meetings:read']);

    const cases: Array<[string, string]> = [
      ['an ended member', ended.memberId],
      ['a member without meetings access', noAccess.memberId],
      ['a member whose grant was revoked', revoked.memberId],
      ['an invited member who has not joined', invited.memberId],
      ['a member of another person', elsewhere.memberId],
      ['an unknown id', randomUUID()],
    ];
    const answers: string[] = [];
    for (const [what, memberId] of cases) {
      const res = await app.inject({ method: 'POST', url, headers: who.headers, payload: booking([participant.memberId, memberId]) });
      t.equal(res.statusCode, 422, what);
      t.same(res.json().errors, [{ path: 'participantMemberIds.1', message: 'not an active team member with access to meetings' }], `${what}: the failing path`);
      answers.push(JSON.stringify(res.json()));
    }
    t.equal(new Set(answers).size, 1, 'the same answer whatever the reason: nothing about other plans is revealed');

    const created = await app.inject({ method: 'POST', url, headers: who.headers, payload: booking([participant.memberId]) });
    const patch = await app.inject({ method: 'PATCH', url: `${url}/${created.json().id}`, headers: who.headers, payload: { participantMemberIds: [elsewhere.memberId, participant.memberId] } });
    t.equal(patch.statusCode, 422);
    t.match(patch.json().errors, [{ path: 'participantMemberIds.0' }]);
    const list = await app.inject({ method: 'GET', url, headers: who.headers });
    t.equal(list.json().items.length, 1, 'nothing was booked by the refused requests');
  });

  t.test('times and place: 422 with the failing path', async (t) => {
    const { who, participant, url } = await planWithTeam();
    const backwards = await app.inject({ method: 'POST', url, headers: who.headers, payload: booking([participant.memberId], { endsAt: '2026-03-10T13:00:00Z' }) });
    t.equal(backwards.statusCode, 422);
    t.same(backwards.json().errors, [{ path: 'endsAt', message: 'must be after startsAt' }]);
    const zero = await app.inject({ method: 'POST', url, headers: who.headers, payload: booking([participant.memberId], { endsAt: '2026-03-10T14:00:00Z' }) });
    t.equal(zero.statusCode, 422, 'ending when it starts');
    const nowhere = await app.inject({ method: 'POST', url, headers: who.headers, payload: booking([participant.memberId], { videoUrl: undefined, location: undefined }) });
    t.equal(nowhere.statusCode, 422);
    t.match(nowhere.json().errors, [{ path: 'location' }, { path: 'videoUrl' }]);
    const videoOnly = await app.inject({ method: 'POST', url, headers: who.headers, payload: booking([participant.memberId], { location: undefined, agenda: undefined }) });
    t.equal(videoOnly.statusCode, 201);
    t.match(videoOnly.json(), { location: null, agenda: null });

    const id = videoOnly.json().id;
    const dropVideo = await app.inject({ method: 'PATCH', url: `${url}/${id}`, headers: who.headers, payload: { videoUrl: null } });
    t.equal(dropVideo.statusCode, 422, 'a change may not leave the meeting without a place');
    const before = await app.inject({ method: 'PATCH', url: `${url}/${id}`, headers: who.headers, payload: { endsAt: '2026-03-10T13:59:59Z' } });
    t.equal(before.statusCode, 422, 'a new end before the current start');
    t.match(before.json().errors, [{ path: 'endsAt' }]);
    const swap = await app.inject({ method: 'PATCH', url: `${url}/${id}`, headers: who.headers, payload: { videoUrl: null, location: LOCATION } });
    t.equal(swap.statusCode, 200, 'from video to a room');
  });

  t.test('malformed input is 400 with the failing paths', async (t) => {
    const { who, participant, url } = await planWithTeam();
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ videoUrl: 'http://meet.example.be/kring' }, 'videoUrl'],
      [{ videoUrl: 'javascript:alert(1)' }, 'videoUrl'],
      [{ startsAt: 'next tuesday' }, 'startsAt'],
      [{ endsAt: '2026-03-10' }, 'endsAt'],
      [{ title: '   ' }, 'title'],
      [{ participantMemberIds: ['not-a-uuid'] }, 'participantMemberIds.0'],
      [{ participantMemberIds: [] }, 'participantMemberIds'],
      [{ participantMemberIds: [participant.memberId, participant.memberId] }, 'participantMemberIds.1'],
      [{ location: 'x'.repeat(501) }, 'location'],
      [{ status: 'cancelled' }, 'body'],
    ];
    for (const [change, path] of cases) {
      const res = await app.inject({ method: 'POST', url, headers: who.headers, payload: booking([participant.memberId], change) });
      t.equal(res.statusCode, 400, JSON.stringify(change).slice(0, 60));
      t.ok(res.json().errors.some((e: { path: string }) => e.path === path), `path ${path}: ${JSON.stringify(res.json().errors)}`);
    }
    const created = await app.inject({ method: 'POST', url, headers: who.headers, payload: booking([participant.memberId]) });
    const meeting = `${url}/${created.json().id}`;
    const badStatus = await app.inject({ method: 'PATCH', url: meeting, headers: who.headers, payload: { status: 'done' } });
    t.equal(badStatus.statusCode, 400);
    t.match(badStatus.json().errors, [{ path: 'status' }]);
    const badTag = await app.inject({ method: 'PATCH', url: meeting, headers: { ...who.headers, 'if-match': '1' }, payload: { title: 'x' } });
    t.equal(badTag.statusCode, 400);
    t.equal((await app.inject({ method: 'GET', url: `${url}/not-a-uuid`, headers: who.headers })).statusCode, 400);
  });

  t.test('a cancelled meeting cannot be changed (409)', async (t) => {
    const { person, organiser, participant, url } = await planWithTeam();
    const created = await app.inject({ method: 'POST', url, headers: organiser.who.headers, payload: booking([participant.memberId]) });
    const meeting = `${url}/${created.json().id}`;
    const cancelled = await app.inject({ method: 'PATCH', url: meeting, headers: { ...organiser.who.headers, 'if-match': '"1"' }, payload: { status: 'cancelled' } });
    t.equal(cancelled.statusCode, 200);
    t.match(cancelled.json(), { status: 'cancelled', version: 2 });
    for (const payload of [{ title: 'Toch wel' }, { status: 'scheduled' }, { startsAt: '2026-03-12T10:00:00Z', endsAt: '2026-03-12T11:00:00Z' }]) {
      const res = await app.inject({ method: 'PATCH', url: meeting, headers: organiser.who.headers, payload });
      t.equal(res.statusCode, 409, JSON.stringify(payload));
    }
    const last = await db.selectFrom('outbox_events').select(['type', 'data']).where('person_id', '=', person.id).orderBy('seq', 'desc').limit(1).executeTakeFirstOrThrow();
    t.match(last, { type: 'meeting.updated', data: { status: 'cancelled', changed: ['status'], version: 2 } });
  });

  t.test('who reads and writes meetings', async (t) => {
    const { who, person, participant, organiser, url } = await planWithTeam();
    const created = await app.inject({ method: 'POST', url, headers: who.headers, payload: booking([participant.memberId]) });
    const meeting = `${url}/${created.json().id}`;

    t.equal((await app.inject({ method: 'POST', url, headers: participant.who.headers, payload: booking([participant.memberId]) })).statusCode, 403, 'meetings:read does not book');
    t.equal((await app.inject({ method: 'PATCH', url: meeting, headers: participant.who.headers, payload: { title: 'x' } })).statusCode, 403);
    t.equal((await app.inject({ method: 'PATCH', url: meeting, headers: organiser.who.headers, payload: { title: 'Nieuw overleg' } })).statusCode, 200);
    const noScope = await joinedCarer(app, who, person.id, ['team:read']);
    t.equal((await app.inject({ method: 'GET', url, headers: noScope.who.headers })).statusCode, 403);
    t.equal((await app.inject({ method: 'GET', url, headers: citizen().headers })).statusCode, 404);

    const limited = await addRepresentative(app, who, person.id, { displayName: 'Bart', level: 'limited', basis: 'chosen' });
    const bart = caller({ sub: `bart-mt-${process.pid}`, name: 'Bart' });
    await accept(app, bart, limited.inviteCode);
    t.equal((await app.inject({ method: 'GET', url: meeting, headers: bart.headers })).statusCode, 200, 'a limited representative reads');
    t.equal((await app.inject({ method: 'POST', url, headers: bart.headers, payload: booking([participant.memberId]) })).statusCode, 403, 'but does not book');

    const doctor = professional('Dr. Van Wacht');
    const opened = await app.inject({ method: 'POST', url: '/v1/emergency-access', headers: doctor.headers, payload: { insz: who.claims.insz, reason: 'Val, bewusteloos gevonden' } });
    t.equal(opened.statusCode, 201);
    t.equal((await app.inject({ method: 'GET', url: `/v1/persons/${person.id}/wishes`, headers: doctor.headers })).statusCode, 404, 'emergency access reads wishes (none recorded yet)');
    t.equal((await app.inject({ method: 'GET', url, headers: doctor.headers })).statusCode, 403, 'but not meetings');
    t.equal((await app.inject({ method: 'GET', url: meeting, headers: doctor.headers })).statusCode, 403);
  });

  t.test('an Idempotency-Key retry books once', async (t) => {
    const { who, participant, url } = await planWithTeam();
    const headers = { ...who.headers, 'idempotency-key': `meeting-${process.pid}` };
    const first = await app.inject({ method: 'POST', url, headers, payload: booking([participant.memberId]) });
    const retry = await app.inject({ method: 'POST', url, headers, payload: booking([participant.memberId]) });
    t.equal(first.statusCode, 201);
    t.equal(retry.statusCode, 201);
    t.equal(retry.json().id, first.json().id);
    t.equal((await app.inject({ method: 'GET', url, headers: who.headers })).json().items.length, 1);
  });
});
