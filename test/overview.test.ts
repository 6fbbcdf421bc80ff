// The overview (filtered by scope, bounded queries) and the change feed (ordered, filtered, resumable).
import t from 'tap';
import type { KyselyPlugin, PluginTransformQueryArgs, PluginTransformResultArgs, QueryResult, UnknownRow, RootOperationNode } from 'kysely';
import { buildTestApp } from './helpers/app.js';
import { createTestDatabase } from './helpers/database.js';
import { citizenWithPlan } from './helpers/factories.js';
import { joinedCarer } from './helpers/team.js';

class QueryCounter implements KyselyPlugin {
  count = 0;
  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    this.count += 1;
    return args.node;
  }
  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return args.result;
  }
}

t.test('overview and change feed', async (t) => {
  const database = await createTestDatabase();
  const counter = new QueryCounter();
  const { app } = await buildTestApp(t, { database: { ...database, db: database.db.withPlugin(counter) }, env: { RATE_LIMIT_PER_MINUTE: '100000', DISPATCHER_ENABLED: 'false' } });

  async function fillPlan(items: number) {
    const { who, person } = await citizenWithPlan(app);
    const all = ['profile', 'team', 'goals', 'tasks', 'notes'].flatMap((c) => [`${c}:read`, `${c}:write`]);
    const worker = await joinedCarer(app, who, person.id, all);
    const taskReader = await joinedCarer(app, who, person.id, ['tasks:read']);
    const post = (path: string, payload: Record<string, unknown>) =>
      app.inject({ method: 'POST', url: `/v1/persons/${person.id}/${path}`, headers: who.headers, payload });
    for (let i = 0; i < items; i++) {
      const life = (await post('life-goals', { title: `Levensdoel ${i}` })).json();
      const care = (await post('care-goals', { title: `Zorgdoel ${i}`, lifeGoalIds: [life.id] })).json();
      await post('tasks', { title: `Taak ${i}`, assigneeMemberId: i % 2 ? worker.memberId : taskReader.memberId, careGoalId: care.id });
      await post('notes', { body: `Notitie ${i}`, phase: 'info' });
    }
    return { who, person, worker, taskReader };
  }

  t.test('a member with only tasks:read sees the open tasks and nothing else', async (t) => {
    const { person, taskReader } = await fillPlan(2);
    const res = await app.inject({ method: 'GET', url: `/v1/persons/${person.id}/overview`, headers: taskReader.who.headers });
    t.equal(res.statusCode, 200);
    const body = res.json();
    t.equal(body.person, null);
    t.equal(body.team, null);
    t.equal(body.lifeGoals, null);
    t.equal(body.latestNotes, null);
    t.equal(body.openTasks.length, 2);
  });

  t.test('the person sees everything, goals nested with their care goals', async (t) => {
    const { who, person } = await fillPlan(3);
    const body = (await app.inject({ method: 'GET', url: `/v1/persons/${person.id}/overview`, headers: who.headers })).json();
    t.equal(body.person.id, person.id);
    t.equal(body.team.length, 2);
    t.equal(body.lifeGoals.length, 3);
    t.ok(body.lifeGoals.every((g: { careGoals: unknown[] }) => g.careGoals.length === 1));
    t.equal(body.openTasks.length, 3);
    t.equal(body.latestNotes.length, 3);
    t.same(body.truncated, []);
  });

  t.test('every part of the overview is exactly what the /v1 lists answer', async (t) => {
    const { who, person, worker } = await fillPlan(4);
    const url = `/v1/persons/${person.id}`;
    // A task with a due moment and a done one, a grant with an end, a retracted note: every kind of timestamp.
    const task = (await app.inject({ method: 'POST', url: `${url}/tasks`, headers: who.headers, payload: { title: 'Met uur', due: '2026-07-01T09:30:00Z', assigneeMemberId: worker.memberId } })).json();
    const done = (await app.inject({ method: 'POST', url: `${url}/tasks`, headers: who.headers, payload: { title: 'Klaar', assigneeMemberId: worker.memberId } })).json();
    const finished = await app.inject({ method: 'PATCH', url: `${url}/tasks/${done.id}`, headers: worker.who.headers, payload: { status: 'done' } });
    t.equal(finished.statusCode, 200);
    const until = await app.inject({ method: 'PUT', url: `${url}/team/${worker.memberId}/grant`, headers: who.headers, payload: { scopes: ['notes:write', 'tasks:write', 'team:read', 'goals:read'], validUntil: '2027-01-01T00:00:00Z' } });
    t.equal(until.statusCode, 200, until.body);
    const note = (await app.inject({ method: 'POST', url: `${url}/notes`, headers: worker.who.headers, payload: { body: 'Vergist', phase: 'info' } })).json();
    t.equal((await app.inject({ method: 'DELETE', url: `${url}/notes/${note.id}`, headers: { ...worker.who.headers, 'if-match': '"1"' } })).statusCode, 200);
    t.ok(task.id, 'a task with a due moment');

    const get = async (path: string) => {
      const res = await app.inject({ method: 'GET', url: `${url}${path}`, headers: who.headers });
      t.equal(res.statusCode, 200, path);
      return res.json();
    };
    const overview = await get('/overview');
    t.same(overview.person, await get(''), 'person');
    t.same(overview.team, (await get('/team?limit=200')).items, 'team');
    const careGoals = (await get('/care-goals?limit=200')).items as Array<{ lifeGoalIds: string[] }>;
    t.same(
      overview.lifeGoals,
      ((await get('/life-goals?limit=200')).items as Array<{ id: string }>).map((g) => ({ ...g, careGoals: careGoals.filter((c) => c.lifeGoalIds.includes(g.id)) })),
      'life goals with their care goals',
    );
    const tasks = (await get('/tasks?limit=200')).items as Array<{ status: string }>;
    t.same(overview.openTasks, tasks.filter((x) => x.status === 'open' || x.status === 'in_progress'), 'open tasks');
    t.same(overview.latestNotes, (await get('/notes?limit=20')).items, 'latest notes');
    t.ok(overview.latestNotes.some((n: { retracted: boolean }) => n.retracted), 'a retracted note among them');
  });

  t.test('the overview costs the same number of queries for 1 and for 200 items', async (t) => {
    const small = await fillPlan(1);
    const large = await fillPlan(50);
    // 50 of each kind is 200 items; the count must not grow with them.
    const measure = async (plan: typeof small) => {
      counter.count = 0;
      const res = await app.inject({ method: 'GET', url: `/v1/persons/${plan.person.id}/overview`, headers: plan.who.headers });
      t.equal(res.statusCode, 200);
      return counter.count;
    };
    const a = await measure(small);
    const b = await measure(large);
    t.equal(b, a, `${a} queries for both`);
    t.ok(a <= 12, `a bounded number (${a})`);
  });

  t.test('the change feed: ordered, filtered by scope, resumable, its cursor never null', async (t) => {
    const { who, person, taskReader } = await fillPlan(2);
    const all = await app.inject({ method: 'GET', url: `/v1/persons/${person.id}/changes?limit=200`, headers: who.headers });
    const items = all.json().items as Array<{ seq: number; type: string }>;
    t.ok(items.length > 8);
    t.same(items.map((e) => e.seq), [...items.map((e) => e.seq)].sort((x, y) => x - y), 'in order');
    t.type(all.json().nextCursor, 'string');
    const caught = await app.inject({ method: 'GET', url: `/v1/persons/${person.id}/changes?after=${all.json().nextCursor}`, headers: who.headers });
    t.same(caught.json().items, []);
    t.type(caught.json().nextCursor, 'string', 'never null, even when caught up');

    await app.inject({ method: 'POST', url: `/v1/persons/${person.id}/life-goals`, headers: who.headers, payload: { title: 'Nieuw' } });
    const since = await app.inject({ method: 'GET', url: `/v1/persons/${person.id}/changes?after=${caught.json().nextCursor}`, headers: who.headers });
    t.same(since.json().items.map((e: { type: string }) => e.type), ['life_goal.created']);

    const limited = await app.inject({ method: 'GET', url: `/v1/persons/${person.id}/changes?limit=200`, headers: taskReader.who.headers });
    const types = new Set(limited.json().items.map((e: { type: string }) => e.type.split('.')[0]));
    t.ok([...types].every((p) => p === 'task' || p === 'team' || p === 'grant'), `only tasks and news about themself: ${[...types]}`);
    t.notOk(types.has('note'));
    t.notOk(types.has('life_goal'));

    // Revoked: news about their own access, then nothing more.
    await app.inject({ method: 'DELETE', url: `/v1/persons/${person.id}/team/${taskReader.memberId}/grant`, headers: who.headers });
    await app.inject({ method: 'POST', url: `/v1/persons/${person.id}/tasks`, headers: who.headers, payload: { title: 'Na intrekking', assigneeMemberId: taskReader.memberId } });
    const after = await app.inject({ method: 'GET', url: `/v1/persons/${person.id}/changes?after=${limited.json().nextCursor}`, headers: taskReader.who.headers });
    t.same(after.json().items.map((e: { type: string }) => e.type), ['grant.revoked']);
    t.notMatch(JSON.stringify(all.json()), /Notitie|Levensdoel|Taak \d/, 'events carry no free text');
  });
});
