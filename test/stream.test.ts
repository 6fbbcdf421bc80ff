// The live stream over a real socket: relevance, heartbeats, resume with Last-Event-ID, revocation, shutdown, two instances.
import { request, type IncomingMessage } from 'node:http';
import { sql } from 'kysely';
import t from 'tap';
import { createDatabase } from '../src/db/database.js';
import { appendJournal } from '../src/modules/journal/journal.repository.js';
import { buildTestApp } from './helpers/app.js';
import { usingPostgres, type TestDatabase } from './helpers/database.js';
import { citizenWithPlan, type Caller } from './helpers/factories.js';
import { accept, inviteMember, joinedCarer } from './helpers/team.js';

interface Frame {
  id?: string;
  event?: string;
  data?: string;
  retry?: string;
  comment?: string;
}

/** A minimal Server-Sent Events client on node:http: collects frames, waits for conditions. */
function openStream(base: string, who: Caller, headers: Record<string, string> = {}) {
  const frames: Frame[] = [];
  let buffer = '';
  let ended = false;
  const req = request(`${base}/v1/events/stream`, { headers: { ...who.headers, ...headers } });
  const response = new Promise<IncomingMessage>((resolve, reject) => {
    req.on('response', (res) => {
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
          const frame: Frame = {};
          for (const line of buffer.slice(0, end).split('\n')) {
            if (line.startsWith(':')) frame.comment = line.slice(1).trim();
            else {
              const colon = line.indexOf(':');
              frame[line.slice(0, colon) as 'id' | 'event' | 'data' | 'retry'] = line.slice(colon + 1).trim();
            }
          }
          frames.push(frame);
          buffer = buffer.slice(end + 2);
        }
      });
      res.on('end', () => {
        ended = true;
      });
      res.on('error', () => {});
      resolve(res);
    });
    req.on('error', reject);
  });
  req.end();
  // A stream the test closes before it answered must not fail the test.
  response.catch(() => {});
  const events = () =>
    frames.filter((f) => f.event !== undefined).map((f) => ({ ...(JSON.parse(f.data!) as { id: string; type: string; personId: string; data: Record<string, unknown> }), cursor: f.id! }));
  return {
    frames,
    response,
    events,
    get ended() {
      return ended;
    },
    lastId: () => [...frames].reverse().find((f) => f.id !== undefined)?.id,
    async waitFor(what: string, condition: () => boolean, timeoutMs = 10_000): Promise<void> {
      const until = Date.now() + timeoutMs;
      while (!condition()) {
        if (Date.now() > until) throw new Error(`timed out waiting for ${what}; frames: ${JSON.stringify(frames)}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    close: () => req.destroy(),
  };
}

async function listeningApp(t: { teardown(fn: () => unknown): void }, database?: TestDatabase) {
  const built = await buildTestApp(t, { database, env: { RATE_LIMIT_PER_MINUTE: '100000', STREAM_HEARTBEAT_SECONDS: '0.2' } });
  const base = await built.app.listen({ host: '127.0.0.1', port: 0 });
  return { ...built, base };
}

t.test('live stream', async (t) => {
  const { app, base, database } = await listeningApp(t);
  const post = (who: Caller, url: string, payload: Record<string, unknown>) => app.inject({ method: 'POST', url, headers: who.headers, payload });

  /** A plan with a carer reading tasks only, and a second plan the same carer is in (for sentinel events). */
  async function setting() {
    const plan = await citizenWithPlan(app);
    const carer = await joinedCarer(app, plan.who, plan.person.id, ['tasks:read']);
    const elsewhere = await citizenWithPlan(app);
    const invitation = await inviteMember(app, elsewhere.who, elsewhere.person.id, { kind: 'informal_carer', displayName: 'Mieke', scopes: ['goals:read'] });
    await accept(app, carer.who, invitation.inviteCode);
    const stranger = await citizenWithPlan(app);
    /** An event the carer receives in the other plan: when it arrives, everything before it was decided. */
    const sentinel = async () => {
      const res = await post(elsewhere.who, `/v1/persons/${elsewhere.person.id}/life-goals`, { title: 'Sentinel' });
      return res.json().id as string;
    };
    return { plan, carer, elsewhere, stranger, sentinel };
  }

  t.test('the caller receives their relevant events and nothing else; heartbeats and the retry hint', async (t) => {
    const { plan, carer, stranger, sentinel } = await setting();
    const stream = openStream(base, carer.who);
    t.teardown(stream.close);
    const res = await stream.response;
    t.equal(res.statusCode, 200);
    t.match(res.headers['content-type'], /^text\/event-stream/);
    t.ok(res.headers['x-request-id']);
    await stream.waitFor('the first id', () => stream.lastId() !== undefined);
    t.equal(stream.frames[0]!.retry, '3000');

    t.equal((await post(plan.who, `/v1/persons/${plan.person.id}/notes`, { body: 'Acuut', phase: 'acute' })).statusCode, 201, 'no notes scope');
    t.equal((await post(stranger.who, `/v1/persons/${stranger.person.id}/life-goals`, { title: 'Niet van jou' })).statusCode, 201, 'another person');
    const task = await post(plan.who, `/v1/persons/${plan.person.id}/tasks`, { title: 'Boodschappen', assigneeMemberId: carer.memberId });
    t.equal(task.statusCode, 201);
    const goal = await sentinel();
    await stream.waitFor('the sentinel', () => stream.events().some((e) => e.data.resourceId === goal));

    const events = stream.events();
    t.same(events.map((e) => e.type), ['task.created', 'task.assigned', 'life_goal.created']);
    t.match(events[0], { personId: plan.person.id, data: { resourceType: 'task', resourceId: task.json().id } });
    t.notOk(events.some((e) => e.personId === stranger.person.id || e.type.startsWith('note.')));
    t.ok(events.every((e) => typeof e.cursor === 'string' && e.cursor.length > 0), 'every event carries a resume id');
    await stream.waitFor('a heartbeat', () => stream.frames.some((f) => f.comment === 'heartbeat'));
  });

  t.test('resume with Last-Event-ID replays exactly what was missed, then goes on live', async (t) => {
    const { plan, carer, stranger, sentinel } = await setting();
    const first = openStream(base, carer.who);
    await first.response;
    const before = await sentinel();
    await first.waitFor('the first sentinel', () => first.events().some((e) => e.data.resourceId === before));
    const resumeFrom = first.lastId()!;
    first.close();

    // Missed while away: two tasks for the carer, and events the carer may not see.
    const missed: string[] = [];
    for (const title of ['Apotheek', 'Kapper']) {
      const res = await post(plan.who, `/v1/persons/${plan.person.id}/tasks`, { title, assigneeMemberId: carer.memberId });
      missed.push(res.json().id);
    }
    await post(plan.who, `/v1/persons/${plan.person.id}/notes`, { body: 'Niet voor jou', phase: 'info' });
    await post(stranger.who, `/v1/persons/${stranger.person.id}/life-goals`, { title: 'Niet van jou' });

    const second = openStream(base, carer.who, { 'last-event-id': resumeFrom });
    t.teardown(second.close);
    t.equal((await second.response).statusCode, 200);
    const live = await sentinel();
    await second.waitFor('the live sentinel', () => second.events().some((e) => e.data.resourceId === live));
    t.same(
      second.events().map((e) => `${e.type}:${e.data.resourceId}`),
      [
        `task.created:${missed[0]}`,
        `task.assigned:${missed[0]}`,
        `task.created:${missed[1]}`,
        `task.assigned:${missed[1]}`,
        `life_goal.created:${live}`,
      ],
      'the missed events once each, in order, then the live one',
    );

    // The query-string form, for clients that cannot set the header.
    const viaQuery = request(`${base}/v1/events/stream?lastEventId=${encodeURIComponent(resumeFrom)}`, { headers: carer.who.headers });
    const answered = await new Promise<IncomingMessage>((resolve) => viaQuery.on('response', resolve).end());
    t.equal(answered.statusCode, 200);
    viaQuery.destroy();
  });

  t.test('revocation stops the plan\'s events from the next event on', async (t) => {
    const { plan, carer, sentinel } = await setting();
    const stream = openStream(base, carer.who);
    t.teardown(stream.close);
    await stream.response;
    const first = await post(plan.who, `/v1/persons/${plan.person.id}/tasks`, { title: 'Voor de intrekking', assigneeMemberId: carer.memberId });
    await stream.waitFor('the first task', () => stream.events().some((e) => e.data.resourceId === first.json().id));

    const revoke = await app.inject({ method: 'DELETE', url: `/v1/persons/${plan.person.id}/team/${carer.memberId}/grant`, headers: plan.who.headers });
    t.equal(revoke.statusCode, 200);
    const owner = await joinedCarer(app, plan.who, plan.person.id, ['tasks:read']);
    await post(plan.who, `/v1/persons/${plan.person.id}/tasks`, { title: 'Na de intrekking', assigneeMemberId: owner.memberId });
    const after = await sentinel();
    await stream.waitFor('the sentinel', () => stream.events().some((e) => e.data.resourceId === after));

    const ofPlan = stream.events().filter((e) => e.personId === plan.person.id).map((e) => e.type);
    t.same(ofPlan, ['task.created', 'task.assigned', 'grant.revoked'], 'their own revocation, then nothing of that plan');

    // Resuming does not bring the plan back either.
    const resumed = openStream(base, carer.who, { 'last-event-id': stream.frames.find((f) => f.id)!.id! });
    t.teardown(resumed.close);
    await resumed.response;
    const last = await sentinel();
    await resumed.waitFor('the last sentinel', () => resumed.events().some((e) => e.data.resourceId === last));
    t.same(resumed.events().filter((e) => e.personId === plan.person.id).map((e) => e.type), ['grant.revoked']);
  });

  t.test('bad input and no token are problems, not broken streams', async (t) => {
    const { carer } = await setting();
    const bad = await app.inject({ method: 'GET', url: '/v1/events/stream', headers: { ...carer.who.headers, 'last-event-id': 'not-a-cursor' } });
    t.equal(bad.statusCode, 400);
    t.equal(bad.headers['content-type'], 'application/problem+json; charset=utf-8');
    const foreign = await app.inject({ method: 'GET', url: '/v1/events/stream', headers: { ...carer.who.headers, 'last-event-id': Buffer.from('{"p":-1}').toString('base64url') } });
    t.equal(foreign.statusCode, 400);
    t.equal((await app.inject({ method: 'GET', url: '/v1/events/stream' })).statusCode, 401);
  });

  t.test('a "look" announcement and a client going away are handled', async (t) => {
    const { carer, sentinel } = await setting();
    const stream = openStream(base, carer.who);
    await stream.response;
    await sql`select pg_notify('kring_events', '[]')`.execute(database.db);
    await sql`select pg_notify('kring_events', 'garbage')`.execute(database.db);
    const goal = await sentinel();
    await stream.waitFor('the sentinel', () => stream.events().some((e) => e.data.resourceId === goal));
    t.equal(stream.events().filter((e) => e.data.resourceId === goal).length, 1, 'looking again sends nothing twice');
    stream.close();
    // The server notices and stops writing; further events cause no errors.
    await sentinel();
    await new Promise((resolve) => setTimeout(resolve, 300));
    t.pass('no error after the client left');
  });
});

t.test('closing the app ends open streams instead of waiting for them', async (t) => {
  const { app, base } = await listeningApp(t);
  const { who } = await citizenWithPlan(app);
  const stream = openStream(base, who);
  await stream.response;
  await stream.waitFor('the first id', () => stream.lastId() !== undefined);
  const started = Date.now();
  await app.close();
  t.ok(Date.now() - started < 5000, 'closed promptly');
  await stream.waitFor('the end of the stream', () => stream.ended);
});

t.test('an event written through one instance arrives on another instance\'s stream', { skip: usingPostgres() ? false : 'PGlite is one in-process database: two app instances cannot share it (needs DATABASE_URL)' }, async (t) => {
  const { app: writer, database } = await buildTestApp(t, { env: { RATE_LIMIT_PER_MINUTE: '100000' } });
  const handle = await createDatabase({ kind: 'postgres', url: database.url!, poolSize: 2 });
  const { base } = await listeningApp(t, { ...handle, url: database.url, drop: async () => {} });
  const plan = await citizenWithPlan(writer);
  const stream = openStream(base, plan.who);
  t.teardown(stream.close);
  await stream.response;
  await stream.waitFor('the first id', () => stream.lastId() !== undefined);
  const goal = await writer.inject({ method: 'POST', url: `/v1/persons/${plan.person.id}/life-goals`, headers: plan.who.headers, payload: { title: 'Thuis blijven wonen' } });
  t.equal(goal.statusCode, 201);
  await stream.waitFor('the event from the other instance', () => stream.events().some((e) => e.data.resourceId === goal.json().id));
  t.match(stream.events().at(-1), { type: 'life_goal.created', personId: plan.person.id });
});

t.test('a resume id never skips an event whose transaction committed after a later one', { skip: usingPostgres() ? false : 'needs two transactions at once (DATABASE_URL): PGlite runs one at a time' }, async (t) => {
  const { app, base, database } = await listeningApp(t);
  const side = await createDatabase({ kind: 'postgres', url: database.url!, poolSize: 2 });
  t.teardown(() => side.close());
  const first = await citizenWithPlan(app);
  const second = await citizenWithPlan(app);
  const carer = await joinedCarer(app, first.who, first.person.id, ['goals:read']);
  const invitation = await inviteMember(app, second.who, second.person.id, { kind: 'informal_carer', displayName: 'Mieke', scopes: ['goals:read'] });
  await accept(app, carer.who, invitation.inviteCode);

  const stream = openStream(base, carer.who);
  await stream.response;
  await stream.waitFor('the first id', () => stream.lastId() !== undefined);

  // A writer whose event is inserted first (the smaller outbox position) but commits last.
  const slowGoalId = '0b7d3c1e-4f57-4a43-9d1e-4c8f6b1f0a11';
  let inserted!: () => void;
  let commit!: () => void;
  const insertedYet = new Promise<void>((resolve) => (inserted = resolve));
  const slowWriter = side.db.transaction().execute(async (trx) => {
    await appendJournal(trx, { now: new Date() }, [], [
      { personId: first.person.id, type: 'life_goal.updated', data: { resourceType: 'life_goal', resourceId: slowGoalId, version: 2 } },
    ]);
    inserted();
    await new Promise<void>((resolve) => (commit = resolve));
  });
  await insertedYet;
  const fast = await app.inject({ method: 'POST', url: `/v1/persons/${second.person.id}/life-goals`, headers: second.who.headers, payload: { title: 'Sneller' } });
  t.equal(fast.statusCode, 201);
  await stream.waitFor('the later write', () => stream.events().some((e) => e.data.resourceId === fast.json().id));
  t.notOk(stream.events().some((e) => e.data.resourceId === slowGoalId), 'the slow write is not visible yet');
  const resumeFrom = stream.lastId()!;
  stream.close();

  commit();
  await slowWriter;
  const resumed = openStream(base, carer.who, { 'last-event-id': resumeFrom });
  t.teardown(resumed.close);
  await resumed.response;
  await resumed.waitFor('the slow write', () => resumed.events().some((e) => e.data.resourceId === slowGoalId));
  t.same(resumed.events().map((e) => e.data.resourceId), [slowGoalId], 'exactly the event that committed after the cursor was handed out');
});
