// Reads decide on cached relations only where the read journal checks them: a grant revoked,
// narrowed, widened or run out counts from the very next read, as without the cache.
import t from 'tap';
import type { Clock } from '../src/lib/context.js';
import { createAccessContextCache } from '../src/modules/access/access.cache.js';
import { loadAccessContext } from '../src/modules/access/access.repository.js';
import { buildTestApp } from './helpers/app.js';
import { citizenWithPlan } from './helpers/factories.js';
import { joinedCarer } from './helpers/team.js';

t.test('access context cache', async (t) => {
  let now = new Date();
  const clock: Clock = () => now;
  const { app, database } = await buildTestApp(t, { clock });
  const db = database.db;

  const planWithNote = async () => {
    const { who, person } = await citizenWithPlan(app);
    const created = await app.inject({ method: 'POST', url: `/v1/persons/${person.id}/notes`, headers: who.headers, payload: { body: 'Goed gegeten.', phase: 'info' } });
    t.equal(created.statusCode, 201);
    const noteUrl = `/v1/persons/${person.id}/notes/${created.json().id}`;
    return { who, person, noteUrl };
  };
  // A member whose notes scope is gone no longer sees the note: 404 (own notes only) or 403.
  const refused = (status: number) => status === 403 || status === 404;
  const grant = (who: { headers: Record<string, string> }, personId: string, memberId: string, payload: Record<string, unknown>) =>
    app.inject({ method: 'PUT', url: `/v1/persons/${personId}/team/${memberId}/grant`, headers: who.headers, payload });

  t.test('the reader answers from its entry until refreshed; the refresher reads and stores', async (t) => {
    const { who, person } = await planWithNote();
    const carer = await joinedCarer(app, who, person.id, ['notes:read']);
    const actor = { sub: carer.who.claims.sub };
    const cache = createAccessContextCache(db, 2);
    const first = await loadAccessContext(cache.reader, actor, person.id, now);
    t.equal(cache.size(), 1);
    t.equal((await grant(who, person.id, carer.memberId, { scopes: ['team:read'] })).statusCode, 200);
    const cached = await loadAccessContext(cache.reader, actor, person.id, now);
    t.same(cached.relations, first.relations, 'the reader keeps the relations it read');
    t.equal(cached.accessVersion, first.accessVersion, '…with the version they were read at, which the journal checks');
    const fresh = await loadAccessContext(cache.refresher, actor, person.id, now);
    t.ok(fresh.accessVersion! > first.accessVersion!, 'the refresher reads the changed grant');
    t.same((await loadAccessContext(cache.reader, actor, person.id, now)).accessVersion, fresh.accessVersion, '…and the reader uses it from then on');
    t.same(await loadAccessContext(db, actor, person.id, now), fresh, 'the plain database handle never uses the cache');

    const other = await citizenWithPlan(app);
    await loadAccessContext(cache.reader, { sub: 'nobody' }, '00000000-0000-4000-8000-000000000000', now);
    t.equal(cache.size(), 1, 'no entry for a person that does not exist');
    await loadAccessContext(cache.reader, actor, other.person.id, now);
    await loadAccessContext(cache.reader, { sub: other.who.claims.sub, insz: other.who.claims.insz }, other.person.id, now);
    t.equal(cache.size(), 2, 'the oldest entry leaves when the cache is full');
  });

  t.test('a read after a revoke is refused although the relations before it were cached', async (t) => {
    const { who, person, noteUrl } = await planWithNote();
    const carer = await joinedCarer(app, who, person.id, ['notes:read']);
    for (let i = 0; i < 3; i++) t.equal((await app.inject({ method: 'GET', url: noteUrl, headers: carer.who.headers })).statusCode, 200);
    const revoke = await app.inject({ method: 'DELETE', url: `/v1/persons/${person.id}/team/${carer.memberId}/grant`, headers: who.headers });
    t.equal(revoke.statusCode, 200);
    t.ok(refused((await app.inject({ method: 'GET', url: noteUrl, headers: carer.who.headers })).statusCode));
    const entries = await db
      .selectFrom('audit_entries')
      .select(['action', 'resource_type'])
      .where('person_id', '=', person.id)
      .where('actor_member_id', '=', carer.memberId)
      .where('resource_type', '=', 'note')
      .execute();
    t.equal(entries.length, 3, 'an audit entry for each answered read, none for the refused one');
  });

  t.test('a narrowed grant counts at once, and so does a widened one', async (t) => {
    const { who, person, noteUrl } = await planWithNote();
    const carer = await joinedCarer(app, who, person.id, ['notes:read', 'team:read']);
    t.equal((await app.inject({ method: 'GET', url: noteUrl, headers: carer.who.headers })).statusCode, 200);
    t.equal((await grant(who, person.id, carer.memberId, { scopes: ['team:read'] })).statusCode, 200);
    t.ok(refused((await app.inject({ method: 'GET', url: noteUrl, headers: carer.who.headers })).statusCode), 'narrowed');
    t.equal((await grant(who, person.id, carer.memberId, { scopes: ['team:read', 'notes:read'] })).statusCode, 200);
    t.equal((await app.inject({ method: 'GET', url: noteUrl, headers: carer.who.headers })).statusCode, 200, 'widened: a cached refusal is decided again');
  });

  t.test('a grant that runs out counts at the request\'s own time, with nothing changed in the database', async (t) => {
    const { who, person, noteUrl } = await planWithNote();
    const carer = await joinedCarer(app, who, person.id, ['notes:read']);
    const until = new Date(now.getTime() + 60_000);
    t.equal((await grant(who, person.id, carer.memberId, { scopes: ['notes:read'], validUntil: until.toISOString() })).statusCode, 200);
    t.equal((await app.inject({ method: 'GET', url: noteUrl, headers: carer.who.headers })).statusCode, 200);
    const before = now;
    now = new Date(until.getTime() + 1);
    t.teardown(() => {
      now = before;
    });
    t.ok(refused((await app.inject({ method: 'GET', url: noteUrl, headers: carer.who.headers })).statusCode));
    now = before;
  });

  t.test('a token of the same subject with another organisation or INSZ is another caller', async (t) => {
    const { who, person } = await citizenWithPlan(app);
    const cache = createAccessContextCache(db);
    const sub = who.claims.sub;
    const asPerson = await loadAccessContext(cache.reader, { sub, insz: who.claims.insz }, person.id, now);
    t.ok(asPerson.relations.length > 0);
    await loadAccessContext(cache.reader, { sub, insz: who.claims.insz, org: 'org-x' }, person.id, now);
    const withoutInsz = await loadAccessContext(cache.reader, { sub: 'someone-else' }, person.id, now);
    t.same(withoutInsz.relations, [], 'no relation is borrowed from another caller\'s entry');
    t.equal(cache.size(), 3);
  });
});
