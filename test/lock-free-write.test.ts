// A write decided without locks lands in one statement only while the plan's journal head and
// access stand as the decision saw them; otherwise nothing of it is written, and the service
// writes it again under locks. Notes are written this way.
import t from 'tap';
import { loadAccessContext } from '../src/modules/access/access.repository.js';
import { appendJournalWhereHeadStands, EVENTS_CHANNEL, verifyAuditChain, type SeenHead } from '../src/modules/journal/journal.repository.js';
import { insertNoteWhereHeadStands, type NoteRow } from '../src/modules/notes/notes.repository.js';
import { newId } from '../src/lib/ids.js';
import { buildTestApp } from './helpers/app.js';
import { citizenWithPlan } from './helpers/factories.js';
import { joinedCarer } from './helpers/team.js';

t.test('lock-free writes', async (t) => {
  const { app, database } = await buildTestApp(t, { env: { RATE_LIMIT_PER_MINUTE: '100000', DISPATCHER_ENABLED: 'false' } });
  const db = database.db;
  const counts = async (personId: string) => ({
    notes: (await db.selectFrom('notes').select('note_id').where('person_id', '=', personId).execute()).length,
    audit: (await db.selectFrom('audit_entries').select('seq').where('person_id', '=', personId).execute()).length,
    events: (await db.selectFrom('outbox_events').select('seq').where('person_id', '=', personId).orderBy('seq').execute()).map((e) => e.seq),
  });

  /** What notes.service decides for a carer's note, against the head it read. */
  const decided = async (personId: string, sub: string) => {
    const now = new Date();
    const context = await loadAccessContext(db, { sub }, personId, now);
    const seen: SeenHead = {
      personId,
      seq: context.journalHead!.seq,
      hash: context.journalHead!.hash,
      eventSeq: context.journalHead!.eventSeq,
      accessVersion: context.accessVersion!,
    };
    const noteId = newId();
    const values = {
      person_id: personId,
      note_id: noteId,
      phase: 'info',
      visibility: 'team',
      visible_to: [] as string[],
      author_sub: sub,
      author_name: 'Mieke',
      author_role: 'member',
      created_at: now,
      updated_at: now,
    };
    const actor = { sub, role: 'member' as const, onBehalf: false };
    const write = () =>
      appendJournalWhereHeadStands<NoteRow>(
        db,
        seen,
        { now, requestId: 'req-1' },
        [{ personId, actor, action: 'create', resourceType: 'note', resourceId: noteId }],
        [{ personId, type: 'note.created', data: { resourceType: 'note', resourceId: noteId, version: 1 } }],
        insertNoteWhereHeadStands(values, 'Goed gegeten.'),
      );
    return { seen, noteId, write };
  };

  t.test('with the head as seen: the note, its version, its audit entry and its event, in one statement', async (t) => {
    const { who, person } = await citizenWithPlan(app);
    const carer = await joinedCarer(app, who, person.id, ['notes:write']);
    const before = await counts(person.id);
    const { seen, noteId, write } = await decided(person.id, carer.who.claims.sub);
    let heard: (payload: string) => void = () => {};
    const announced = new Promise<string>((resolve) => (heard = resolve));
    const stop = await database.listen(EVENTS_CHANNEL, (payload) => {
      if (payload.includes(person.id)) heard(payload);
    });
    t.teardown(stop);
    const row = await write();
    t.equal(row?.note_id, noteId);
    t.equal(row?.body, 'Goed gegeten.');
    const after = await counts(person.id);
    t.equal(after.notes, before.notes + 1);
    t.equal(after.audit, before.audit + 1);
    t.same(after.events, [...before.events, seen.eventSeq + 1]);
    t.match(await verifyAuditChain(db, person.id), { valid: true });
    t.same(JSON.parse(await announced), [[person.id, seen.eventSeq + 1]], 'the event is announced to the dispatcher and the streams');
    const head = await db.selectFrom('person_sequences').selectAll().where('person_id', '=', person.id).executeTakeFirstOrThrow();
    t.equal(head.audit_seq, seen.seq + 1);
    t.equal(head.event_seq, seen.eventSeq + 1);
  });

  t.test('after another write moved the head: nothing is written', async (t) => {
    const { who, person } = await citizenWithPlan(app);
    const carer = await joinedCarer(app, who, person.id, ['notes:write']);
    const { write } = await decided(person.id, carer.who.claims.sub);
    const other = await app.inject({ method: 'POST', url: `/v1/persons/${person.id}/notes`, headers: who.headers, payload: { body: 'Tussendoor.', phase: 'info' } });
    t.equal(other.statusCode, 201);
    const before = await counts(person.id);
    t.equal(await write(), undefined);
    t.same(await counts(person.id), before, 'no note, no audit entry, no event');
    t.match(await verifyAuditChain(db, person.id), { valid: true });
  });

  t.test('after a revoke: nothing is written', async (t) => {
    const { who, person } = await citizenWithPlan(app);
    const carer = await joinedCarer(app, who, person.id, ['notes:write']);
    const { write } = await decided(person.id, carer.who.claims.sub);
    const revoke = await app.inject({ method: 'DELETE', url: `/v1/persons/${person.id}/team/${carer.memberId}/grant`, headers: who.headers });
    t.equal(revoke.statusCode, 200);
    const before = await counts(person.id);
    t.equal(await write(), undefined);
    t.same(await counts(person.id), before);
  });

  t.test('notes written at once by several members: every one lands once, the chain and the events stay whole', async (t) => {
    const { who, person } = await citizenWithPlan(app);
    const carers = [await joinedCarer(app, who, person.id, ['notes:write']), await joinedCarer(app, who, person.id, ['notes:write'])];
    const before = await counts(person.id);
    const writers = [who, ...carers.map((c) => c.who)];
    const answers = await Promise.all(
      Array.from({ length: 24 }, (_, i) =>
        app.inject({ method: 'POST', url: `/v1/persons/${person.id}/notes`, headers: writers[i % writers.length]!.headers, payload: { body: `Notitie ${i}`, phase: 'info' } }),
      ),
    );
    t.same(answers.map((a) => a.statusCode), Array(24).fill(201));
    t.equal(new Set(answers.map((a) => a.json().id)).size, 24);
    const after = await counts(person.id);
    t.equal(after.notes, before.notes + 24);
    t.equal(after.audit, before.audit + 24);
    const last = before.events.at(-1) ?? 0;
    t.same(after.events, [...before.events, ...Array.from({ length: 24 }, (_, i) => last + i + 1)], 'event sequence without gaps');
    t.match(await verifyAuditChain(db, person.id), { valid: true });
  });
});
