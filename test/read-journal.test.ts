// Audited reads appended in shared transactions: no entry lost, the chain intact, and a read whose
// access changed before its entry was written is decided again instead of answered.
import t from 'tap';
import { loadAccessContext } from '../src/modules/access/access.repository.js';
import { requireAccess } from '../src/modules/access/access.service.js';
import type { AccessContext } from '../src/modules/access/access.types.js';
import { verifyAuditChain } from '../src/modules/journal/journal.repository.js';
import { createReadJournal } from '../src/modules/journal/read-journal.js';
import { buildTestApp } from './helpers/app.js';
import { citizenWithPlan, makeInsz, professional } from './helpers/factories.js';
import { addRepresentative, joinedCarer } from './helpers/team.js';

t.test('read journal', async (t) => {
  const { app, database } = await buildTestApp(t);
  const db = database.db;
  const accessVersion = async (personId: string) =>
    (await db.selectFrom('person_sequences').select('access_version').where('person_id', '=', personId).executeTakeFirstOrThrow()).access_version;
  const entriesOf = (personId: string) =>
    db.selectFrom('audit_entries').select(['seq', 'action', 'resource_type', 'actor_member_id']).where('person_id', '=', personId).orderBy('seq').execute();

  t.test('every change to who may access a plan moves its access version; other writes do not', async (t) => {
    const { who, person } = await citizenWithPlan(app);
    const url = `/v1/persons/${person.id}`;
    let last = await accessVersion(person.id);
    const moved = async (what: string) => {
      const now = await accessVersion(person.id);
      t.ok(now > last, what);
      last = now;
    };

    const carer = await joinedCarer(app, who, person.id, ['team:read', 'notes:write']);
    await moved('a member invited and joined');
    const note = await app.inject({ method: 'POST', url: `${url}/notes`, headers: carer.who.headers, payload: { body: 'Goed geslapen.', phase: 'info' } });
    t.equal(note.statusCode, 201);
    t.equal(await accessVersion(person.id), last, 'a note changes nobody\'s access');
    const regrant = await app.inject({ method: 'PUT', url: `${url}/team/${carer.memberId}/grant`, headers: who.headers, payload: { scopes: ['team:read'] } });
    t.equal(regrant.statusCode, 200);
    await moved('a grant changed');
    const revoke = await app.inject({ method: 'DELETE', url: `${url}/team/${carer.memberId}/grant`, headers: who.headers });
    t.equal(revoke.statusCode, 200);
    await moved('a grant revoked');
    await addRepresentative(app, who, person.id, { insz: makeInsz('1960-01-01'), level: 'limited', basis: 'chosen', displayName: 'Jan' });
    await moved('a representative added');
    const doctor = professional('Dr. Van Wacht');
    const opened = await app.inject({
      method: 'POST',
      url: '/v1/emergency-access',
      headers: doctor.headers,
      payload: { insz: who.claims.insz, reason: 'Bewusteloos aangetroffen' },
    });
    t.equal(opened.statusCode, 201);
    await moved('an emergency access opened');
  });

  t.test('a read decided before a revoke that commits first is decided again, and refused', async (t) => {
    const { who, person } = await citizenWithPlan(app);
    const carer = await joinedCarer(app, who, person.id, ['team:read']);
    const actor = { sub: carer.who.claims.sub, name: carer.who.claims.name };
    const stale = await loadAccessContext(db, actor, person.id, new Date());
    const revoke = await app.inject({ method: 'DELETE', url: `/v1/persons/${person.id}/team/${carer.memberId}/grant`, headers: who.headers });
    t.equal(revoke.statusCode, 200);

    const reads = createReadJournal(db);
    let attempts = 0;
    const answer = reads.read({ now: new Date() }, async (reader, audit) => {
      attempts += 1;
      // The first attempt decides on what it read before the revoke committed.
      const context: AccessContext = attempts === 1 ? stale : (await requireAccess(reader, actor, person.id, { kind: 'read', category: 'team' }, new Date())).context;
      audit(context, [{ personId: person.id, actor: { sub: actor.sub, role: 'member', memberId: carer.memberId, onBehalf: false }, action: 'list', resourceType: 'team' }]);
      return 'the team';
    });
    t.equal(await answer.then(() => 200, (error: { status?: number }) => error.status), 403, 'the second decision sees the revoke');
    t.equal(attempts, 2);
    const entries = await entriesOf(person.id);
    t.notOk(entries.some((e) => e.actor_member_id === carer.memberId && e.action === 'list'), 'the refused read left no read entry');
    await reads.drain();
  });

  t.test('a plan whose access keeps changing is read once more under locks, and audited', async (t) => {
    const { who, person } = await citizenWithPlan(app);
    const carer = await joinedCarer(app, who, person.id, ['team:read']);
    const actor = { sub: carer.who.claims.sub, name: carer.who.claims.name };
    const reads = createReadJournal(db);
    const inTransaction: boolean[] = [];
    const answer = await reads.read({ now: new Date(), requestId: 'req-locked' }, async (reader, audit) => {
      inTransaction.push(reader.isTransaction);
      const granted = await requireAccess(reader, actor, person.id, { kind: 'read', category: 'team' }, new Date());
      // Outside the transaction, pretend to have decided on an older version every time.
      const context = reader.isTransaction ? granted.context : { ...granted.context, accessVersion: -1 };
      audit(context, [{ personId: person.id, actor: granted.auditActor, action: 'list', resourceType: 'team' }]);
      return 'the team';
    });
    t.equal(answer, 'the team');
    t.same(inTransaction, [false, false, true], 'two optimistic attempts, then one under locks');
    const entries = await db.selectFrom('audit_entries').select(['request_id']).where('person_id', '=', person.id).where('request_id', '=', 'req-locked').execute();
    t.equal(entries.length, 1, 'exactly one entry for the answered read');
    await reads.drain();
  });

  t.test('a write between a read and its entry: the entry chains onto the new head, the read stands', async (t) => {
    const { who, person } = await citizenWithPlan(app);
    const actor = { sub: who.claims.sub, insz: who.claims.insz };
    const seen = await loadAccessContext(db, actor, person.id, new Date());
    const note = await app.inject({ method: 'POST', url: `/v1/persons/${person.id}/notes`, headers: who.headers, payload: { body: 'Tussendoor.', phase: 'info' } });
    t.equal(note.statusCode, 201, 'the head moved after the read saw it');
    const reads = createReadJournal(db);
    let attempts = 0;
    const answer = await reads.read({ now: new Date(), requestId: 'req-after-write' }, async (_reader, audit) => {
      attempts += 1;
      audit(seen, [{ personId: person.id, actor: { sub: actor.sub, role: 'person', onBehalf: false }, action: 'read', resourceType: 'person' }]);
      return 'the person';
    });
    t.equal(answer, 'the person');
    t.equal(attempts, 1, 'the access did not change, so the read stands');
    const entries = await db.selectFrom('audit_entries').select(['seq']).where('person_id', '=', person.id).where('request_id', '=', 'req-after-write').execute();
    t.equal(entries.length, 1);
    t.match(await verifyAuditChain(db, person.id), { valid: true });
    await reads.drain();
  });

  t.test('many concurrent reads over several plans: one entry each, every chain intact', async (t) => {
    const plans = await Promise.all([citizenWithPlan(app), citizenWithPlan(app), citizenWithPlan(app)]);
    const before = await Promise.all(plans.map(({ person }) => entriesOf(person.id)));
    const responses = await Promise.all(
      Array.from({ length: 60 }, (_, i) => {
        const { who, person } = plans[i % plans.length]!;
        return app.inject({ method: 'GET', url: `/v1/persons/${person.id}`, headers: who.headers });
      }),
    );
    t.ok(responses.every((r) => r.statusCode === 200));
    for (const [i, { person }] of plans.entries()) {
      const after = await entriesOf(person.id);
      t.equal(after.length - before[i]!.length, 20, 'one read entry per answered read');
      t.match(await verifyAuditChain(db, person.id), { valid: true });
    }
  });

  t.test('small batches side by side over the same plans: no deadlock, no lost entry', async (t) => {
    const plans = await Promise.all([citizenWithPlan(app), citizenWithPlan(app)]);
    const reads = createReadJournal(db, { maxBatch: 3, maxConcurrentBatches: 4 });
    const before = await Promise.all(plans.map(({ person }) => entriesOf(person.id)));
    const answers = await Promise.all(
      Array.from({ length: 120 }, (_, i) => {
        const { who, person } = plans[i % 2]!;
        const actor = { sub: who.claims.sub, insz: who.claims.insz };
        return reads.read({ now: new Date() }, async (reader, audit) => {
          const granted = await requireAccess(reader, actor, person.id, { kind: 'read', category: 'profile' }, new Date());
          audit(granted.context, [{ personId: person.id, actor: granted.auditActor, action: 'read', resourceType: 'person', resourceId: person.id }]);
          return i;
        });
      }),
    );
    t.equal(answers.length, 120);
    for (const [i, { person }] of plans.entries()) {
      t.equal((await entriesOf(person.id)).length - before[i]!.length, 60);
      t.match(await verifyAuditChain(db, person.id), { valid: true });
    }
    await reads.drain();
  });

  t.test('a read without an audit entry is a programming error', async (t) => {
    const reads = createReadJournal(db);
    await t.rejects(reads.read({ now: new Date() }, async () => 'unaudited'), /must record its audit entries/);
    await t.rejects(
      reads.read({ now: new Date() }, async (_reader, audit) => {
        const context = { personId: 'a', actor: { sub: 'x' }, relations: [], now: new Date() };
        audit(context, [{ personId: 'b', actor: { sub: 'x', role: 'member', onBehalf: false }, action: 'read', resourceType: 'x' }]);
        return 'mismatch';
      }),
      /audits the person it decided on/,
    );
  });

  t.test('a failing batch fails its reads, never answers them', async (t) => {
    const { who, person } = await citizenWithPlan(app);
    const reads = createReadJournal(db);
    const context = await loadAccessContext(db, { sub: who.claims.sub, insz: who.claims.insz }, person.id, new Date());
    const answer = reads.read({ now: new Date(Number.NaN) }, async (_reader, audit) => {
      audit(context, [{ personId: person.id, actor: { sub: who.claims.sub, role: 'person', onBehalf: false }, action: 'read', resourceType: 'person' }]);
      return 'never';
    });
    await t.rejects(answer);
    t.match(await verifyAuditChain(db, person.id), { valid: true });
  });
});
