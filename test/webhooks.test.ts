// Webhooks: subscriptions API, the dispatcher and the sender driven step by step, Standard Webhooks
// signatures checked with the standardwebhooks package, retries, leases, consent at delivery time.
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import t from 'tap';
import { createDatabase } from '../src/db/database.js';
import { createDispatcher } from '../src/modules/webhooks/dispatcher.js';
import { recordNotifications } from '../src/modules/notifications/notifications.fanout.js';
import { CONSENT_MAX_AGE_MS, LEASE_MS, RETRY_DELAYS_MS, createSender } from '../src/modules/webhooks/sender.js';
import { claimDueDeliveries } from '../src/modules/webhooks/webhooks.repository.js';
import { buildTestApp } from './helpers/app.js';
import { movableClock } from './helpers/clock.js';
import { usingPostgres } from './helpers/database.js';
import { citizen, citizenWithPlan, type Caller } from './helpers/factories.js';
import { joinedCarer } from './helpers/team.js';

interface Teardownable {
  teardown(fn: () => unknown): void;
}

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  json: { id: string; type: string; personId: string; eventNumber: number; [k: string]: unknown };
}

/** A local receiver on 127.0.0.1 that records every request and answers with `status(n)` (n: 1-based request count). */
async function receiver(t: Teardownable, status: (n: number) => number = () => 200) {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      received.push({ path: req.url ?? '', headers: req.headers, body, json: JSON.parse(body) });
      const code = status(received.length);
      res.writeHead(code, code >= 300 && code < 400 ? { location: '/elsewhere' } : {}).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, port, received };
}

const ALL = ['profile', 'team', 'goals', 'tasks', 'notes', 'wishes', 'safety_plan', 'meetings'].flatMap((c) => [`${c}:read`, `${c}:write`]);

t.test('webhooks', async (t) => {
  const clock = movableClock(new Date());
  const { app, database } = await buildTestApp(t, {
    clock,
    env: { DISPATCHER_ENABLED: 'false', WEBHOOK_ALLOW_PRIVATE: 'true', RATE_LIMIT_PER_MINUTE: '100000' },
  });
  const db = database.db;
  const dispatcher = createDispatcher({ db, clock });
  const sender = createSender({ db, clock, allowPrivate: true });
  t.teardown(() => sender.stop());

  /** Dispatches everything, then sends everything due. */
  async function pump() {
    await dispatcher.drain();
    while ((await sender.runOnce()) > 0);
  }
  async function subscribe(who: Caller, payload: Record<string, unknown>) {
    // Events written before the subscription are not for it: dispatch them first to keep tests exact.
    await dispatcher.drain();
    const res = await app.inject({ method: 'POST', url: '/v1/subscriptions', headers: who.headers, payload });
    if (res.statusCode !== 201) throw new Error(`subscribe: ${res.statusCode} ${res.body}`);
    return res.json() as { id: string; secret: string; [k: string]: unknown };
  }
  const post = (who: Caller, url: string, payload: Record<string, unknown>) => app.inject({ method: 'POST', url, headers: who.headers, payload });
  const deliveries = async (who: Caller, id: string, query = '') =>
    (await app.inject({ method: 'GET', url: `/v1/subscriptions/${id}/deliveries${query}`, headers: who.headers })).json();

  t.test('the secret is shown once; the owner lists, reads, replays and deletes; another caller gets 404', async (t) => {
    const { who, person } = await citizenWithPlan(app);
    const created = await app.inject({
      method: 'POST',
      url: '/v1/subscriptions',
      headers: who.headers,
      payload: { url: 'https://ehr.example.org/hooks/kring', eventTypes: ['task.created', 'note.created'], personId: person.id },
    });
    t.equal(created.statusCode, 201);
    const sub = created.json();
    t.match(sub, { url: 'https://ehr.example.org/hooks/kring', eventTypes: ['task.created', 'note.created'], personId: person.id, status: 'active', lastEventNumber: 0 });
    t.match(sub.secret, /^whsec_[A-Za-z0-9+/]+=*$/);
    t.ok(Buffer.from(sub.secret.slice(6), 'base64').length >= 24, 'at least 24 random bytes');
    t.equal(created.headers.location, `/v1/subscriptions/${sub.id}`);

    const listed = await app.inject({ method: 'GET', url: '/v1/subscriptions', headers: who.headers });
    t.equal(listed.statusCode, 200);
    t.same(listed.json().items.map((s: { id: string }) => s.id), [sub.id]);
    t.notMatch(listed.body, /secret|whsec_/, 'never the secret again');
    const one = await app.inject({ method: 'GET', url: `/v1/subscriptions/${sub.id}`, headers: who.headers });
    t.equal(one.statusCode, 200);
    t.notOk('secret' in one.json());

    const other = citizen();
    const calls = [
      { method: 'GET' as const, url: `/v1/subscriptions/${sub.id}` },
      { method: 'GET' as const, url: `/v1/subscriptions/${sub.id}/deliveries` },
      { method: 'POST' as const, url: `/v1/subscriptions/${sub.id}/replay`, payload: { fromEventNumber: 1 } },
      { method: 'DELETE' as const, url: `/v1/subscriptions/${sub.id}` },
    ];
    for (const call of calls) {
      t.equal((await app.inject({ ...call, headers: other.headers })).statusCode, 404, `another caller: ${call.method} ${call.url}`);
      t.equal((await app.inject(call)).statusCode, 401, `anonymous: ${call.method} ${call.url}`);
    }
    t.equal((await app.inject({ method: 'GET', url: '/v1/subscriptions' })).statusCode, 401);
    t.equal((await app.inject({ method: 'POST', url: '/v1/subscriptions', payload: { url: 'https://x.example', eventTypes: ['*'] } })).statusCode, 401);
    t.same((await app.inject({ method: 'GET', url: '/v1/subscriptions', headers: other.headers })).json().items, [], 'lists only their own');
    const unknown = await app.inject({ method: 'GET', url: '/v1/subscriptions/0190a0a0-0000-7000-8000-000000000000', headers: who.headers });
    t.equal(unknown.statusCode, 404);
    t.equal(unknown.headers['content-type'], 'application/problem+json; charset=utf-8');

    const replayed = await app.inject({ method: 'POST', url: `/v1/subscriptions/${sub.id}/replay`, headers: who.headers, payload: { since: new Date(0).toISOString() } });
    t.equal(replayed.statusCode, 202);
    t.same(replayed.json(), { requeued: 0 });

    const deleted = await app.inject({ method: 'DELETE', url: `/v1/subscriptions/${sub.id}`, headers: who.headers });
    t.equal(deleted.statusCode, 200);
    t.equal(deleted.json().status, 'deleted');
    t.equal((await app.inject({ method: 'DELETE', url: `/v1/subscriptions/${sub.id}`, headers: who.headers })).statusCode, 200, 'again: harmless');
    t.same((await app.inject({ method: 'GET', url: '/v1/subscriptions', headers: who.headers })).json().items, [], 'deleted ones are not listed');
    t.equal((await app.inject({ method: 'GET', url: `/v1/subscriptions/${sub.id}`, headers: who.headers })).json().status, 'deleted');
    const late = await app.inject({ method: 'POST', url: `/v1/subscriptions/${sub.id}/replay`, headers: who.headers, payload: { fromEventNumber: 1 } });
    t.equal(late.statusCode, 409);
  });

  t.test('subscriptions validate their input; person-scoped ones need a relation to the person', async (t) => {
    const { who, person } = await citizenWithPlan(app);
    const url = '/v1/subscriptions';
    const bad = [
      { url: 'https://x.example', eventTypes: ['*', 'task.created'] },
      { url: 'https://x.example', eventTypes: ['task.exploded'] },
      { url: 'https://x.example', eventTypes: [] },
      { url: 'ftp://x.example', eventTypes: ['*'] },
      { url: 'not a url', eventTypes: ['*'] },
      { url: 'https://x.example', eventTypes: ['*'], personId: 'nope' },
      { url: 'https://x.example', eventTypes: ['*'], extra: true },
    ];
    for (const payload of bad) {
      const res = await post(who, url, payload);
      t.equal(res.statusCode, 400, JSON.stringify(payload));
      t.ok(Array.isArray(res.json().errors));
    }
    const credentials = await post(who, url, { url: 'https://user:pw@x.example/', eventTypes: ['*'] });
    t.equal(credentials.statusCode, 422);
    const stranger = citizen();
    t.equal((await post(stranger, url, { url: 'https://x.example', eventTypes: ['*'], personId: person.id })).statusCode, 404, 'no relation: 404');
    t.equal((await post(who, url, { url: 'https://x.example', eventTypes: ['*'], personId: '0190a0a0-0000-7000-8000-000000000000' })).statusCode, 404);
    const ok = await post(who, url, { url: 'https://x.example', eventTypes: ['task.created', 'task.created'], personId: person.id });
    t.equal(ok.statusCode, 201);
    t.same(ok.json().eventTypes, ['task.created'], 'duplicates dropped');
    const log = await app.inject({ method: 'GET', url: `/v1/persons/${person.id}/access-log`, headers: who.headers });
    t.ok(log.json().items.some((e: { resourceType: string; action: string }) => e.resourceType === 'subscription' && e.action === 'create'), 'a person-scoped subscription shows in the access log');
    const badReplay = await app.inject({ method: 'POST', url: `/v1/subscriptions/${ok.json().id}/replay`, headers: who.headers, payload: {} });
    t.equal(badReplay.statusCode, 400, 'replay needs since or fromEventNumber');
    const badCursor = await app.inject({ method: 'GET', url: `/v1/subscriptions/${ok.json().id}/deliveries?cursor=zzz`, headers: who.headers });
    t.equal(badCursor.statusCode, 400);
  });

  t.test('a delivered event is signed per Standard Webhooks and verifies with the standardwebhooks package', async (t) => {
    const hook = await receiver(t);
    const { who, person } = await citizenWithPlan(app);
    const sub = await subscribe(who, { url: `${hook.url}/kring?token=abc`, eventTypes: ['*'], personId: person.id });
    const goal = (await post(who, `/v1/persons/${person.id}/life-goals`, { title: 'Thuis blijven wonen' })).json();
    await pump();
    t.equal(hook.received.length, 1);
    const [got] = hook.received;
    t.equal(got!.path, '/kring?token=abc');
    const verified = new Webhook(sub.secret).verify(got!.body, got!.headers as Record<string, string>);
    t.match(verified, {
      id: String,
      type: 'life_goal.created',
      personId: person.id,
      eventNumber: 1,
      occurredAt: String,
      data: { resourceType: 'life_goal', resourceId: goal.id },
    });
    t.equal(got!.headers['webhook-id'], got!.json.id, 'webhook-id is the event id');
    t.match(got!.headers['webhook-timestamp'], /^\d{10}$/);
    t.match(got!.headers['webhook-signature'], /^v1,[A-Za-z0-9+/]+=*$/);
    t.equal(got!.headers['content-type'], 'application/json');
    t.notMatch(got!.body, /Thuis blijven wonen/, 'thin: no free text');
    t.throws(() => new Webhook(sub.secret).verify(got!.body.replace('life_goal', 'care_goal'), got!.headers as Record<string, string>), 'a changed body does not verify');
    t.throws(() => new Webhook(`whsec_${Buffer.from('another secret of 24 bytes!').toString('base64')}`).verify(got!.body, got!.headers as Record<string, string>), 'another secret does not verify');

    const listed = await deliveries(who, sub.id);
    t.match(listed.items, [{ eventNumber: 1, status: 'delivered', event: { id: got!.json.id, type: 'life_goal.created', personId: person.id }, lastStatusCode: 200, nextAttemptAt: null, attempts: [{ attempt: 1, statusCode: 200, error: null }] }]);
    t.type(listed.items[0].attempts[0].durationMs, 'number');
    t.equal((await app.inject({ method: 'GET', url: `/v1/subscriptions/${sub.id}`, headers: who.headers })).json().lastEventNumber, 1);
  });

  t.test('retries: a failing receiver is retried within 30 s and then acknowledges; redirects are failures', async (t) => {
    const hook = await receiver(t, (n) => (n === 1 ? 500 : n === 2 ? 302 : 200));
    const { who, person } = await citizenWithPlan(app);
    const sub = await subscribe(who, { url: hook.url, eventTypes: ['life_goal.created'], personId: person.id });
    await post(who, `/v1/persons/${person.id}/life-goals`, { title: 'Wandelen' });
    await pump();
    t.equal(hook.received.length, 1);
    let [delivery] = (await deliveries(who, sub.id)).items;
    t.match(delivery, { status: 'pending', lastStatusCode: 500, lastError: 'HTTP 500', attempts: [{ attempt: 1, statusCode: 500 }] });
    const wait = new Date(delivery.nextAttemptAt).getTime() - clock().getTime();
    t.ok(wait > 0 && wait <= 30_000, `first retry within 30 s (${wait} ms)`);
    t.equal(await sender.runOnce(), 0, 'not before it is due');

    clock.advance(30_000);
    await pump();
    [delivery] = (await deliveries(who, sub.id)).items;
    t.match(delivery, { status: 'pending', lastStatusCode: 302, lastError: /redirects are not followed/ });
    clock.advance(60_000);
    await pump();
    [delivery] = (await deliveries(who, sub.id)).items;
    t.match(delivery, { status: 'delivered', lastStatusCode: 200, lastError: null });
    t.same(delivery.attempts.map((a: { statusCode: number }) => a.statusCode), [200, 302, 500], 'attempts newest first, with status codes');
    t.equal(hook.received.length, 3);
    t.equal(new Set(hook.received.map((r) => r.headers['webhook-id'])).size, 1, 'the same webhook-id on every retry');
    t.equal((await app.inject({ method: 'GET', url: `/v1/subscriptions/${sub.id}`, headers: who.headers })).json().failingSince, null, 'a success clears the failing state');
  });

  t.test('the back-off schedule: jittered, first retry within 30 s, about a day in all', async (t) => {
    const low = createSender({ db, clock, allowPrivate: true, random: () => 0 });
    const high = createSender({ db, clock, allowPrivate: true, random: () => 1 });
    t.teardown(async () => {
      await low.stop();
      await high.stop();
    });
    t.ok(high.retryDelay(1)! <= 30_000, 'first retry within 30 s even at the top of the jitter');
    const total = (s: typeof low) => RETRY_DELAYS_MS.reduce((sum, _, i) => sum + s.retryDelay(i + 1)!, 0);
    t.ok(total(low) > 16 * 3600_000 && total(high) < 32 * 3600_000, 'spread over about a day');
    t.equal(low.retryDelay(RETRY_DELAYS_MS.length + 1), undefined, 'then no more retries');
  });

  t.test('out of retries a delivery fails; failing for over 3 days disables the subscription; replay re-activates it', async (t) => {
    let healthy = false;
    const hook = await receiver(t, () => (healthy ? 204 : 503));
    const { who, person } = await citizenWithPlan(app);
    const sub = await subscribe(who, { url: hook.url, eventTypes: ['life_goal.created'], personId: person.id });
    await post(who, `/v1/persons/${person.id}/life-goals`, { title: 'Een' });
    await pump();
    for (const delay of RETRY_DELAYS_MS) {
      clock.advance(delay * 1.2 + 1000);
      await pump();
    }
    let [first] = (await deliveries(who, sub.id)).items;
    t.match(first, { eventNumber: 1, status: 'failed', nextAttemptAt: null, lastStatusCode: 503 });
    t.equal(first.attempts.length, RETRY_DELAYS_MS.length + 1, 'every attempt recorded');
    let state = (await app.inject({ method: 'GET', url: `/v1/subscriptions/${sub.id}`, headers: who.headers })).json();
    t.equal(state.status, 'active', 'about a day of failures is not yet enough to disable');
    t.type(state.failingSince, 'string');

    clock.advance(3 * 24 * 3600_000);
    await post(who, `/v1/persons/${person.id}/life-goals`, { title: 'Twee' });
    await pump();
    state = (await app.inject({ method: 'GET', url: `/v1/subscriptions/${sub.id}`, headers: who.headers })).json();
    t.equal(state.status, 'disabled');
    t.match(state.disabledReason, /more than 3 days/);
    await post(who, `/v1/persons/${person.id}/life-goals`, { title: 'Drie' });
    await pump();
    const afterDisable = (await deliveries(who, sub.id)).items;
    t.same(afterDisable.map((d: { eventNumber: number; status: string }) => [d.eventNumber, d.status]), [[2, 'failed'], [1, 'failed']], 'nothing queued while disabled');

    healthy = true;
    const before = hook.received.length;
    const replay = await app.inject({ method: 'POST', url: `/v1/subscriptions/${sub.id}/replay`, headers: who.headers, payload: { fromEventNumber: 1 } });
    t.equal(replay.statusCode, 202);
    t.same(replay.json(), { requeued: 2 });
    t.equal((await app.inject({ method: 'GET', url: `/v1/subscriptions/${sub.id}`, headers: who.headers })).json().status, 'active');
    await pump();
    t.same(hook.received.slice(before).map((r) => r.json.eventNumber), [1, 2], 'replayed in event-number order, with their numbers');
    [first] = (await deliveries(who, sub.id, '?status=delivered&limit=1')).items;
    t.match(first, { eventNumber: 2, status: 'delivered' });
    clock.advance(1);
    const sinceReplay = await app.inject({
      method: 'POST',
      url: `/v1/subscriptions/${sub.id}/replay`,
      headers: who.headers,
      payload: { since: clock().toISOString(), fromEventNumber: 1 },
    });
    t.same(sinceReplay.json(), { requeued: 0 }, 'since: only events that occurred from then on');
  });

  t.test('a delivery interrupted mid-flight is delivered after its lease expires', async (t) => {
    const hook = await receiver(t);
    const { who, person } = await citizenWithPlan(app);
    const sub = await subscribe(who, { url: hook.url, eventTypes: ['*'], personId: person.id });
    await post(who, `/v1/persons/${person.id}/life-goals`, { title: 'Koken' });
    await dispatcher.drain();
    // A sender takes the lease and dies before sending or recording anything.
    const crashed = await claimDueDeliveries(db, clock(), new Date(clock().getTime() + LEASE_MS), 100);
    t.equal(crashed.filter((d) => d.subscription_id === sub.id).length, 1);
    t.equal(await sender.runOnce(), 0, 'leased: nobody else sends it');
    t.equal(hook.received.length, 0);
    clock.advance(LEASE_MS + 1);
    await pump();
    t.equal(hook.received.length, 1, 'delivered once the lease expired');
    t.match((await deliveries(who, sub.id)).items, [{ status: 'delivered', attempts: [{ attempt: 1, statusCode: 200 }] }]);
  });

  t.test('event numbers are gapless per subscription, and go out in order', async (t) => {
    const hook = await receiver(t);
    const { who, person } = await citizenWithPlan(app);
    const all = await subscribe(who, { url: `${hook.url}/all`, eventTypes: ['*'], personId: person.id });
    const goals = await subscribe(who, { url: `${hook.url}/goals`, eventTypes: ['life_goal.created'] });
    for (let i = 0; i < 6; i++) {
      await post(who, `/v1/persons/${person.id}/life-goals`, { title: `Doel ${i}` });
      if (i % 2) await post(who, `/v1/persons/${person.id}/notes`, { body: `Notitie ${i}`, phase: 'info' });
    }
    await pump();
    const numbers = (path: string) => hook.received.filter((r) => r.path === path).map((r) => r.json.eventNumber);
    t.same(numbers('/all'), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
    t.same(numbers('/goals'), [1, 2, 3, 4, 5, 6], 'each subscription counts its own');
    const page1 = await deliveries(who, all.id, '?limit=4');
    t.same(page1.items.map((d: { eventNumber: number }) => d.eventNumber), [9, 8, 7, 6], 'newest first');
    const page2 = await deliveries(who, all.id, `?limit=4&cursor=${page1.nextCursor}`);
    t.same(page2.items.map((d: { eventNumber: number }) => d.eventNumber), [5, 4, 3, 2]);
    const page3 = await deliveries(who, goals.id, '?limit=10');
    t.equal(page3.nextCursor, null);
  });

  t.test('consent at delivery time: nothing reaches a revoked member, a member without the category, or another person\'s subscriber', async (t) => {
    const hook = await receiver(t);
    const { who, person } = await citizenWithPlan(app);
    const carer = await joinedCarer(app, who, person.id, ['tasks:read']);
    const worker = await joinedCarer(app, who, person.id, ALL);
    const other = await citizenWithPlan(app);
    const carerSub = await subscribe(carer.who, { url: `${hook.url}/carer`, eventTypes: ['*'], personId: person.id });
    const carerEverywhere = await subscribe(carer.who, { url: `${hook.url}/carer-all`, eventTypes: ['*'] });
    await subscribe(other.who, { url: `${hook.url}/other`, eventTypes: ['*'] });

    await post(who, `/v1/persons/${person.id}/tasks`, { title: 'Boodschappen', assigneeMemberId: carer.memberId });
    await post(who, `/v1/persons/${person.id}/notes`, { body: 'Vertrouwelijk', phase: 'acute' });
    await post(who, `/v1/persons/${person.id}/life-goals`, { title: 'Tuinieren' });
    await pump();
    const types = (path: string) => hook.received.filter((r) => r.path === path).map((r) => r.json.type);
    t.same(types('/carer'), ['task.created', 'task.assigned'], 'only the category the grant covers');
    t.same(types('/carer-all'), ['task.created', 'task.assigned'], 'a subscription for every plan: the same rule');

    // Queued while the grant held, revoked before sending: skipped, never sent.
    await post(who, `/v1/persons/${person.id}/tasks`, { title: 'Apotheek', assigneeMemberId: worker.memberId });
    await dispatcher.drain();
    const revoke = await app.inject({ method: 'DELETE', url: `/v1/persons/${person.id}/team/${carer.memberId}/grant`, headers: who.headers });
    t.equal(revoke.statusCode, 200);
    await pump();
    await post(who, `/v1/persons/${person.id}/tasks`, { title: 'Na intrekking', assigneeMemberId: worker.memberId });
    await pump();
    t.same(types('/carer'), ['task.created', 'task.assigned', 'grant.revoked'], 'their own revocation, then nothing');
    const listed = (await deliveries(carer.who, carerSub.id)).items;
    const skipped = listed.filter((d: { status: string }) => d.status === 'skipped');
    t.equal(skipped.length, 2, 'the queued task events were skipped');
    t.ok(skipped.every((d: { event: unknown; attempts: unknown[] }) => d.event === null && d.attempts.length === 0), 'and what they were is not shown to the revoked member');
    t.same(types('/other'), [], 'another person\'s subscriber gets nothing of this plan');
    t.ok(hook.received.every((r) => !r.body.includes('Vertrouwelijk')));
    t.same(
      (await deliveries(carer.who, carerEverywhere.id)).items.map((d: { status: string }) => d.status).sort(),
      ['delivered', 'delivered', 'delivered', 'skipped', 'skipped'],
    );
  });

  t.test('consent is checked again when a sequence takes longer than CONSENT_MAX_AGE_MS: a revoke meanwhile stops the rest', async (t) => {
    const { who, person } = await citizenWithPlan(app);
    const carer = await joinedCarer(app, who, person.id, ['goals:read']);
    const received: string[] = [];
    // On the first request the grant is revoked and time passes before the receiver answers.
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', async () => {
        received.push(req.url ?? '');
        if (received.length === 1) {
          await app.inject({ method: 'DELETE', url: `/v1/persons/${person.id}/team/${carer.memberId}/grant`, headers: who.headers });
          clock.advance(CONSENT_MAX_AGE_MS + 1);
        }
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.teardown(() => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))));
    const sub = await subscribe(carer.who, { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/carer`, eventTypes: ['life_goal.created'], personId: person.id });
    for (const title of ['Een', 'Twee', 'Drie']) await post(who, `/v1/persons/${person.id}/life-goals`, { title });
    await dispatcher.drain();
    t.equal(await sender.runOnce(), 3, 'one claim, one sequence');
    t.equal(received.length, 1, 'only the one sent before the revoke');
    const listed = (await deliveries(carer.who, sub.id)).items;
    t.same(listed.map((d: { eventNumber: number; status: string }) => [d.eventNumber, d.status]), [[3, 'skipped'], [2, 'skipped'], [1, 'delivered']]);
  });

  t.test('outcomes recorded together keep the failing state right: a failure after a success marks it, a later success clears it', async (t) => {
    let requests = 0;
    const hook = await receiver(t, () => (++requests === 3 ? 500 : 200));
    const { who, person } = await citizenWithPlan(app);
    const sub = await subscribe(who, { url: hook.url, eventTypes: ['life_goal.created'], personId: person.id });
    for (const title of ['Een', 'Twee', 'Drie']) await post(who, `/v1/persons/${person.id}/life-goals`, { title });
    await dispatcher.drain();
    t.equal(await sender.runOnce(), 3);
    t.same(hook.received.map((r) => r.json.eventNumber), [1, 2, 3], 'in order');
    const state = (await app.inject({ method: 'GET', url: `/v1/subscriptions/${sub.id}`, headers: who.headers })).json();
    t.type(state.failingSince, 'string', 'failing since the third');
    t.same((await deliveries(who, sub.id)).items.map((d: { status: string; attempts: unknown[] }) => [d.status, d.attempts.length]), [['pending', 1], ['delivered', 1], ['delivered', 1]]);
    clock.advance(30_000);
    await pump();
    t.equal((await app.inject({ method: 'GET', url: `/v1/subscriptions/${sub.id}`, headers: who.headers })).json().failingSince, null);
  });

  t.test('the dispatcher hands its fan-outs the whole batch: the inbox gets what it would one event at a time, once', async (t) => {
    const { who, person } = await citizenWithPlan(app);
    const carer = await joinedCarer(app, who, person.id, ['tasks:write']);
    const other = await citizenWithPlan(app);
    const otherCarer = await joinedCarer(app, other.who, other.person.id, ['tasks:read']);
    await dispatcher.drain();
    await post(who, `/v1/persons/${person.id}/tasks`, { title: 'Boodschappen', assigneeMemberId: carer.memberId });
    await post(other.who, `/v1/persons/${other.person.id}/tasks`, { title: 'Apotheek', assigneeMemberId: otherCarer.memberId });
    await post(who, `/v1/persons/${person.id}/tasks`, { title: 'Post', assigneeMemberId: carer.memberId });
    t.equal((await post(carer.who, `/v1/persons/${person.id}/tasks`, { title: 'Zelf gedaan', assigneeMemberId: carer.memberId })).statusCode, 201);
    const batches: number[] = [];
    const withInbox = createDispatcher({ db, clock, fanOuts: [async (trx, events, now) => void batches.push(events.length), recordNotifications] });
    const n = await withInbox.drain();
    t.equal(n, 8, 'created and assigned, four times');
    t.same(batches, [n], 'in one batch');
    const assigned = async (c: Caller) =>
      (await app.inject({ method: 'GET', url: '/v1/me/notifications', headers: c.headers })).json().items.filter((n: { reason: string }) => n.reason === 'task_assigned');
    t.equal((await assigned(carer.who)).length, 2, 'the two tasks someone else assigned to the carer, not the one they took themself');
    t.equal((await assigned(otherCarer.who)).length, 1);
    await db.updateTable('outbox_events').set({ dispatched_at: null }).where('person_id', 'in', [person.id, other.person.id]).execute();
    const again = createDispatcher({ db, clock, fanOuts: [recordNotifications] });
    await again.drain();
    t.equal((await assigned(carer.who)).length, 2, 'a second fan-out adds nothing');
  });

  t.test('a deleted subscription receives nothing more', async (t) => {
    const hook = await receiver(t);
    const { who, person } = await citizenWithPlan(app);
    const sub = await subscribe(who, { url: hook.url, eventTypes: ['*'], personId: person.id });
    await post(who, `/v1/persons/${person.id}/life-goals`, { title: 'Lezen' });
    await dispatcher.drain();
    await app.inject({ method: 'DELETE', url: `/v1/subscriptions/${sub.id}`, headers: who.headers });
    await post(who, `/v1/persons/${person.id}/life-goals`, { title: 'Schrijven' });
    await pump();
    t.equal(hook.received.length, 0);
    t.match((await deliveries(who, sub.id)).items, [{ status: 'failed', lastError: /deleted/ }]);
  });

  t.test('the dispatcher runs its fan-out hooks in its transaction: a failing hook leaves the events undispatched', async (t) => {
    const { who, person } = await citizenWithPlan(app);
    await dispatcher.drain();
    await post(who, `/v1/persons/${person.id}/life-goals`, { title: 'Fietsen' });
    const failing = createDispatcher({
      db,
      clock,
      fanOuts: [
        async () => {
          throw new Error('inbox unavailable');
        },
      ],
    });
    await t.rejects(failing.runOnce(), /inbox unavailable/);
    const seen: string[] = [];
    const hooked = createDispatcher({ db, clock, fanOuts: [async (trx, events) => void seen.push(...events.map((event) => `${event.type}:${event.person_id === person.id}`))] });
    t.equal(await hooked.drain(), 1, 'still there to dispatch');
    t.same(seen, ['life_goal.created:true']);
    t.equal(await hooked.runOnce(), 0);
  });
});

t.test('private destinations are refused unless WEBHOOK_ALLOW_PRIVATE=true', async (t) => {
  const { app, database } = await buildTestApp(t, { env: { DISPATCHER_ENABLED: 'false' } });
  const { who, person } = await citizenWithPlan(app);
  const refused = [
    'https://127.0.0.1/hook',
    'https://10.1.2.3/hook',
    'https://192.168.1.10/hook',
    'https://169.254.169.254/latest/meta-data',
    'https://[::1]/hook',
    'https://[fe80::1]/hook',
    'https://[::ffff:127.0.0.1]/hook',
    'https://2130706433/hook',
    'https://0.0.0.0/hook',
    'http://ehr.example.org/hook',
  ];
  for (const url of refused) {
    const res = await app.inject({ method: 'POST', url: '/v1/subscriptions', headers: who.headers, payload: { url, eventTypes: ['*'] } });
    t.equal(res.statusCode, 422, url);
    t.match(res.json().errors, [{ path: 'url' }]);
  }

  // A name is checked when connecting: localhost resolves to loopback and is refused there.
  const hook = await receiver(t);
  const res = await app.inject({
    method: 'POST',
    url: '/v1/subscriptions',
    headers: who.headers,
    payload: { url: `https://localhost:${hook.port}/hook`, eventTypes: ['*'], personId: person.id },
  });
  t.equal(res.statusCode, 201);
  const dispatcher = createDispatcher({ db: database.db, clock: () => new Date() });
  const sender = createSender({ db: database.db, clock: () => new Date(), allowPrivate: false });
  t.teardown(() => sender.stop());
  await app.inject({ method: 'POST', url: `/v1/persons/${person.id}/life-goals`, headers: who.headers, payload: { title: 'Reizen' } });
  await dispatcher.drain();
  t.equal(await sender.runOnce(), 1);
  t.equal(hook.received.length, 0, 'nothing reached the loopback receiver');
  const listed = (await app.inject({ method: 'GET', url: `/v1/subscriptions/${res.json().id}/deliveries`, headers: who.headers })).json();
  t.match(listed.items, [{ status: 'pending', lastStatusCode: null, attempts: [{ statusCode: null, error: /private, loopback or link-local/ }] }]);
});

t.test('inside the service: a write wakes the dispatcher and the sender delivers, undriven', async (t) => {
  const { app } = await buildTestApp(t, { env: { WEBHOOK_ALLOW_PRIVATE: 'true' } });
  const hook = await receiver(t);
  const { who, person } = await citizenWithPlan(app);
  const res = await app.inject({ method: 'POST', url: '/v1/subscriptions', headers: who.headers, payload: { url: hook.url, eventTypes: ['life_goal.created'], personId: person.id } });
  t.equal(res.statusCode, 201);
  await app.inject({ method: 'POST', url: `/v1/persons/${person.id}/life-goals`, headers: who.headers, payload: { title: 'Zwemmen' } });
  for (let i = 0; i < 100 && hook.received.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
  t.equal(hook.received.length, 1, 'delivered within 5 s');
  t.doesNotThrow(() => new Webhook(res.json().secret).verify(hook.received[0]!.body, hook.received[0]!.headers as Record<string, string>));
});

t.test('two dispatchers and two senders on one PostgreSQL database deliver each event once per subscription', {
  skip: usingPostgres() ? false : 'needs PostgreSQL (DATABASE_URL): PGlite has a single connection, so two dispatchers cannot run concurrently',
}, async (t) => {
  const clock = () => new Date();
  const { app, database } = await buildTestApp(t, { env: { DISPATCHER_ENABLED: 'false', WEBHOOK_ALLOW_PRIVATE: 'true', RATE_LIMIT_PER_MINUTE: '100000' } });
  const second = await createDatabase({ kind: 'postgres', url: database.url!, poolSize: 5 });
  const hook = await receiver(t);
  const plans = await Promise.all([citizenWithPlan(app), citizenWithPlan(app), citizenWithPlan(app)]);
  const subscriptions: Array<{ id: string; path: string }> = [];
  for (const [i, { who, person }] of plans.entries()) {
    for (const kind of ['a', 'b']) {
      const path = `/p${i}${kind}`;
      const res = await app.inject({ method: 'POST', url: '/v1/subscriptions', headers: who.headers, payload: { url: `${hook.url}${path}`, eventTypes: ['*'], personId: person.id } });
      subscriptions.push({ id: res.json().id, path });
    }
  }
  const instances = [database, second].map((d) => ({
    dispatcher: createDispatcher({ db: d.db, clock, batchSize: 7 }),
    sender: createSender({ db: d.db, clock, allowPrivate: true, batchSize: 5 }),
  }));
  t.teardown(async () => {
    for (const i of instances) await i.sender.stop();
    await second.close();
  });

  // Writers and both dispatchers at once; then both senders at once.
  const writes = plans.flatMap(({ who, person }) =>
    Array.from({ length: 20 }, (_, n) => () =>
      app.inject({ method: 'POST', url: `/v1/persons/${person.id}/life-goals`, headers: who.headers, payload: { title: `Doel ${n}` } }),
    ),
  );
  const dispatched = [0, 0];
  const dispatching = async (k: number) => {
    for (let idle = 0; idle < 5; ) {
      const n = await instances[k]!.dispatcher.runOnce();
      dispatched[k]! += n;
      idle = n === 0 ? idle + 1 : 0;
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  await Promise.all([Promise.all(writes.map((w) => w())), dispatching(0), dispatching(1)]);
  await Promise.all(instances.map((i) => i.dispatcher.drain()));
  t.ok(dispatched[0]! > 0 && dispatched[1]! > 0, `both dispatchers took a share (${dispatched})`);
  const sending = async (k: number) => {
    while ((await instances[k]!.sender.runOnce()) > 0);
  };
  await Promise.all([sending(0), sending(1)]);
  await Promise.all([sending(0), sending(1)]);

  for (const { path } of subscriptions) {
    const got = hook.received.filter((r) => r.path === path);
    const ids = got.map((r) => r.json.id);
    t.equal(ids.length, 20, `${path}: every event`);
    t.equal(new Set(ids).size, ids.length, `${path}: each once`);
    t.same(got.map((r) => r.json.eventNumber).sort((a, b) => a - b), Array.from({ length: 20 }, (_, i) => i + 1), `${path}: gapless numbers`);
  }
  const undispatched = await database.db.selectFrom('outbox_events').select('seq').where('dispatched_at', 'is', null).execute();
  t.same(undispatched, [], 'every event dispatched');
});
