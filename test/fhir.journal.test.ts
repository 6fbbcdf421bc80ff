// FHIR reads on the read journal: each is answered from plain queries (no transaction held while it
// reads), its audit entries appended by the journal; many at once over several plans leave every
// chain intact with one entry per read. Searches over several persons keep their transaction.
import t from 'tap';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { verifyAuditChain } from '../src/modules/journal/journal.repository.js';
import { createReadJournal, type ReadJournal } from '../src/modules/journal/read-journal.js';
import { createTestDatabase } from './helpers/database.js';
import { citizenWithPlan, type Caller } from './helpers/factories.js';
import { TEST_SECRET } from './helpers/tokens.js';
import { addRepresentative, joinedCarer } from './helpers/team.js';

t.test('FHIR reads on the read journal', async (t) => {
  const database = await createTestDatabase();
  const db = database.db;
  // The app's own read journal, watched: whether each read's work ran inside a transaction.
  const journal = createReadJournal(db);
  let inTransaction: boolean[] = [];
  const watched: ReadJournal = {
    read: (context, work) =>
      journal.read(context, (reader, audit) => {
        inTransaction.push(reader.isTransaction);
        return work(reader, audit);
      }),
    drain: () => journal.drain(),
  };
  const config = loadConfig({ NODE_ENV: 'test', JWT_SECRET: TEST_SECRET, LOG_LEVEL: 'silent', RATE_LIMIT_PER_MINUTE: '100000' });
  const app = await buildApp({ config, database, readJournal: watched });
  t.teardown(async () => {
    await app.close();
    await database.drop();
  });

  const get = (url: string, who: Caller) => app.inject({ method: 'GET', url, headers: who.headers });
  const entriesOf = (personId: string) =>
    db.selectFrom('audit_entries').select(['seq', 'action', 'resource_type', 'request_id']).where('person_id', '=', personId).orderBy('seq').execute();

  /** A plan with one of each kind of thing FHIR reads by id. */
  async function plan() {
    const { who, person } = await citizenWithPlan(app);
    const post = async (path: string, payload: Record<string, unknown>) => {
      const res = await app.inject({ method: 'POST', url: `/v1/persons/${person.id}/${path}`, headers: who.headers, payload });
      if (res.statusCode !== 201) throw new Error(`${path}: ${res.statusCode} ${res.body}`);
      return res.json() as { id: string };
    };
    const carer = await joinedCarer(app, who, person.id, ['tasks:read', 'team:read', 'meetings:read']);
    const goal = await post('life-goals', { title: 'Thuis blijven wonen' });
    const task = await post('tasks', { title: 'Steunkousen aantrekken', assigneeMemberId: carer.memberId });
    const note = await post('notes', { body: 'Goed geslapen.', phase: 'info' });
    const meeting = await post('meetings', { title: 'Overleg', startsAt: '2026-04-01T09:00:00Z', endsAt: '2026-04-01T10:00:00Z', location: 'Thuis', participantMemberIds: [carer.memberId] });
    const representative = await addRepresentative(app, who, person.id, { displayName: 'Els Claes', level: 'full', basis: 'chosen' });
    return { who, person, carer, goal, task, note, meeting, representative };
  }

  const first = await plan();
  const consents = (await get(`/fhir/R4/Consent?patient=${first.person.id}&scope=patient-privacy`, first.who)).json() as { entry: Array<{ resource: { id: string } }> };
  const grantId = consents.entry[0]!.resource.id;

  t.test('each read of one plan decides and reads without a transaction; the journal appends its entry', async (t) => {
    const { who, person, goal, task, note, meeting, representative } = first;
    const reads: Array<[string, string]> = [
      [`/fhir/R4/Task/${task.id}`, 'task'],
      [`/fhir/R4/Patient/${person.id}`, 'person'],
      [`/fhir/R4/CarePlan/${person.id}`, 'overview'],
      [`/fhir/R4/CareTeam/${person.id}`, 'team'],
      [`/fhir/R4/Goal/${goal.id}`, 'life_goal'],
      [`/fhir/R4/Goal/${goal.id}/_history/1`, 'life_goal_history'],
      [`/fhir/R4/Communication/${note.id}`, 'note'],
      [`/fhir/R4/Appointment/${meeting.id}`, 'meeting'],
      [`/fhir/R4/RelatedPerson/${representative.id}`, 'representative'],
      [`/fhir/R4/Consent/${grantId}`, 'grant'],
      [`/fhir/R4/Provenance/goal-${goal.id}-1`, 'life_goal_history'],
      [`/fhir/R4/Task?patient=${person.id}`, 'task'],
      [`/fhir/R4/CarePlan?patient=${person.id}`, 'overview'],
      [`/fhir/R4/Patient?_id=${person.id}`, 'person'],
      [`/fhir/R4/Patient/${person.id}/$everything`, 'task'],
    ];
    for (const [url, resourceType] of reads) {
      const before = (await entriesOf(person.id)).at(-1)!.seq;
      inTransaction = [];
      const res = await get(url, who);
      t.equal(res.statusCode, 200, url);
      t.ok(inTransaction.length > 0 && inTransaction.every((held) => !held), `${url}: read on the journal, outside any transaction`);
      const added = (await entriesOf(person.id)).filter((e) => e.seq > before);
      t.ok(added.some((e) => e.resource_type === resourceType && e.request_id === res.headers['x-request-id']), `${url}: its ${resourceType} entry, with its request id`);
    }
  });

  t.test('a Patient search by identifier may list several persons: it stays one transaction, audited per person', async (t) => {
    const { who, person } = first;
    const before = (await entriesOf(person.id)).at(-1)!.seq;
    inTransaction = [];
    const res = await get(`/fhir/R4/Patient?identifier=${encodeURIComponent(`https://www.ehealth.fgov.be/standards/fhir/core/NamingSystem/ssin|${who.claims.insz}`)}`, who);
    t.equal(res.statusCode, 200);
    t.same(inTransaction, [], 'not a read journal read');
    const listed = (res.json() as { entry: Array<{ resource: { id: string } }> }).entry.map((e) => e.resource.id);
    t.same(listed, [person.id]);
    t.ok((await entriesOf(person.id)).some((e) => e.seq > before && e.action === 'list' && e.resource_type === 'person'));
  });

  t.test('many concurrent FHIR reads of several plans: one entry each, every chain intact', async (t) => {
    const plans = [first, await plan(), await plan()];
    const before = await Promise.all(plans.map(({ person }) => entriesOf(person.id)));
    const urls = (p: (typeof plans)[number]) => [
      `/fhir/R4/Task/${p.task.id}`,
      `/fhir/R4/Goal/${p.goal.id}`,
      `/fhir/R4/CareTeam/${p.person.id}`,
      `/fhir/R4/Communication?patient=${p.person.id}`,
      `/fhir/R4/Patient/${p.person.id}/$everything?_type=Task,Goal`,
    ];
    const responses = await Promise.all(
      Array.from({ length: 60 }, (_, i) => {
        const p = plans[i % plans.length]!;
        const all = urls(p);
        return get(all[Math.floor(i / plans.length) % all.length]!, p.who);
      }),
    );
    t.ok(responses.every((r) => r.statusCode === 200), 'every read answered');
    for (const [i, { person }] of plans.entries()) {
      const added = (await entriesOf(person.id)).slice(before[i]!.length);
      const requests = new Set(added.map((e) => e.request_id));
      t.equal(requests.size, 20, 'each answered read left its entries');
      // Four single reads of each kind, one entry each; four $everything of Task and Goal, each
      // auditing the team (for the owners' names), life goal, care goal and task lists.
      t.equal(added.length, 4 * 4 + 4 * 4, 'one entry per single read, one per part for $everything');
      t.match(await verifyAuditChain(db, person.id), { valid: true });
    }
  });
});
