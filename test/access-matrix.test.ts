// The access matrix: every person-scoped endpoint × every kind of caller, with the expected status.
// Later issues add their endpoints to ENDPOINTS; the callers and the rule for unlisted cells stay.
import t from 'tap';
import { buildTestApp } from './helpers/app.js';
import { movableClock } from './helpers/clock.js';
import { caller, citizen, createPersonAs, makeInsz, professional } from './helpers/factories.js';
import { accept, addRepresentative, inviteMember, joinedCarer } from './helpers/team.js';
import { signToken } from './helpers/tokens.js';
import { expectedStatus, type CallerKind, type Endpoint, type Fixture } from './matrix/matrix.js';
import { careDocumentsEndpoints } from './matrix/care-documents.endpoints.js';
import { goalsEndpoints } from './matrix/goals.endpoints.js';
import { meetingsEndpoints } from './matrix/meetings.endpoints.js';
import { notesEndpoints } from './matrix/notes.endpoints.js';
import { overviewEndpoints } from './matrix/overview.endpoints.js';
import { tasksEndpoints } from './matrix/tasks.endpoints.js';
import { teamEndpoints } from './matrix/team.endpoints.js';
import { fhirEndpoints } from './matrix/fhir.endpoints.js';

const ENDPOINTS: Endpoint[] = [...teamEndpoints, ...goalsEndpoints, ...tasksEndpoints, ...notesEndpoints, ...careDocumentsEndpoints, ...meetingsEndpoints, ...overviewEndpoints, ...fhirEndpoints];
const ALL_SCOPES = ['profile', 'team', 'goals', 'tasks', 'notes', 'wishes', 'safety_plan', 'meetings'].flatMap((c) => [`${c}:read`, `${c}:write`]);

t.test('access matrix', async (t) => {
  const clock = movableClock(new Date('2026-03-02T09:00:00Z'));
  const { app } = await buildTestApp(t, { clock, env: { EMERGENCY_ACCESS_HOURS: '1', RATE_LIMIT_PER_MINUTE: '100000' } });
  const hour = 3600_000;

  // A plan started by a GP (the steward), then claimed by the person.
  const gp = professional('Dr. Lies Janssens');
  const insz = makeInsz('1941-02-11');
  const plan = await createPersonAs(app, gp, { identifier: { system: 'insz', value: insz }, givenName: 'Jozef', familyName: 'Claes' });
  const person = caller({ sub: `jozef-${process.pid}`, insz, name: 'Jozef Claes' });
  const claimed = await app.inject({ method: 'POST', url: `/v1/persons/${plan.id}/claim`, headers: person.headers });
  t.equal(claimed.statusCode, 200);

  const callers = {} as Record<CallerKind, Record<string, string>>;
  callers.person = person.headers;
  callers.steward_after_claim = gp.headers;

  const full = await addRepresentative(app, person, plan.id, { displayName: 'Els Claes', level: 'full', basis: 'chosen' });
  const repFull = caller({ sub: `els-${process.pid}`, name: 'Els Claes' });
  await accept(app, repFull, full.inviteCode);
  callers.representative_full = repFull.headers;
  const limited = await addRepresentative(app, person, plan.id, { displayName: 'Bart Claes', level: 'limited', basis: 'chosen' });
  const repLimited = caller({ sub: `bart-${process.pid}`, name: 'Bart Claes' });
  await accept(app, repLimited, limited.inviteCode);
  callers.representative_limited = repLimited.headers;

  const fullMember = await joinedCarer(app, person, plan.id, ALL_SCOPES);
  callers.member_with_scope = fullMember.who.headers;
  callers.member_without_scope = (await joinedCarer(app, person, plan.id, [])).who.headers;
  const expiring = await joinedCarer(app, person, plan.id, ALL_SCOPES, { validUntil: new Date(clock().getTime() + hour).toISOString() });
  callers.member_expired = expiring.who.headers;
  const revoked = await joinedCarer(app, person, plan.id, ALL_SCOPES);
  t.equal((await app.inject({ method: 'DELETE', url: `/v1/persons/${plan.id}/team/${revoked.memberId}/grant`, headers: person.headers })).statusCode, 200);
  callers.member_revoked = revoked.who.headers;
  const ended = await joinedCarer(app, person, plan.id, ALL_SCOPES);
  t.equal((await app.inject({ method: 'DELETE', url: `/v1/persons/${plan.id}/team/${ended.memberId}`, headers: person.headers })).statusCode, 200);
  callers.member_ended = ended.who.headers;

  const organisation = await inviteMember(app, person, plan.id, {
    kind: 'organisation',
    displayName: 'Thuiszorg Regio Gent',
    organisationId: 'org-thuiszorg-gent',
    scopes: ALL_SCOPES,
  });
  await accept(app, caller({ sub: `coordinator-thuiszorg-${process.pid}`, org: 'org-thuiszorg-gent' }), organisation.inviteCode);
  callers.organisation_staff = caller({ sub: `nurse-thuiszorg-${process.pid}`, org: 'org-thuiszorg-gent', name: 'Sofie' }).headers;
  callers.organisation_other_staff = caller({ sub: `nurse-other-${process.pid}`, org: 'org-other' }).headers;

  const doctorBefore = professional('Dr. Wacht Een');
  const opened = await app.inject({ method: 'POST', url: '/v1/emergency-access', headers: doctorBefore.headers, payload: { insz, reason: 'Nachtelijke oproep, verward' } });
  t.equal(opened.statusCode, 201);
  callers.emergency_expired = doctorBefore.headers;

  clock.advance(2 * hour); // the expiring grant and the first emergency window are now past

  const doctorNow = professional('Dr. Wacht Twee');
  const openedNow = await app.inject({ method: 'POST', url: '/v1/emergency-access', headers: doctorNow.headers, payload: { insz, reason: 'Val in de badkamer, bewusteloos' } });
  t.equal(openedNow.statusCode, 201);
  callers.emergency_active = doctorNow.headers;

  callers.other_citizen = citizen().headers;
  callers.professional_outside = professional('Dr. Buiten').headers;
  callers.anonymous = {};
  callers.forged = { authorization: `Bearer ${signToken({ sub: person.claims.sub, insz }, { secret: 'a-forger-does-not-know-the-real-secret-000' })}` };

  const fixture: Fixture = {
    app,
    personId: plan.id,
    controller: person,
    memberId: fullMember.memberId,
    freshMember: async () => (await inviteMember(app, person, plan.id, { kind: 'volunteer', displayName: 'Vrijwilliger', scopes: ['tasks:read'] })).memberId,
    freshRepresentative: async () => (await addRepresentative(app, person, plan.id, { displayName: 'Rep', level: 'limited', basis: 'chosen' })).id,
  };

  for (const endpoint of ENDPOINTS) {
    t.test(endpoint.name, async (t) => {
      for (const kind of Object.keys(callers) as CallerKind[]) {
        const res = await app.inject({
          method: endpoint.method,
          url: await endpoint.url(fixture),
          headers: { ...(endpoint.headers ? await endpoint.headers(fixture) : {}), ...callers[kind] },
          ...(endpoint.body ? { payload: await endpoint.body(fixture) } : {}),
        });
        t.equal(res.statusCode, expectedStatus(endpoint, kind), `${endpoint.method} ${endpoint.name} as ${kind}`);
      }
    });
  }

  t.test('the steward before the claim acts as a controller', async (t) => {
    const steward = professional('Dr. Steward');
    const unclaimed = await createPersonAs(app, steward, { identifier: { system: 'passport', value: `P-${process.pid}` }, givenName: 'Marek', familyName: 'K.' });
    const stewardTeam = await app.inject({ method: 'GET', url: `/v1/persons/${unclaimed.id}/team`, headers: steward.headers });
    const stewardFixture: Fixture = {
      app,
      personId: unclaimed.id,
      controller: steward,
      memberId: stewardTeam.json().items[0].memberId,
      freshMember: async () => (await inviteMember(app, steward, unclaimed.id, { kind: 'volunteer', displayName: 'V', scopes: [] })).memberId,
      freshRepresentative: async () => (await addRepresentative(app, steward, unclaimed.id, { displayName: 'R', level: 'limited', basis: 'chosen' })).id,
    };
    for (const endpoint of ENDPOINTS) {
      const res = await app.inject({
        method: endpoint.method,
        url: await endpoint.url(stewardFixture),
        headers: { ...(endpoint.headers ? await endpoint.headers(stewardFixture) : {}), ...steward.headers },
        ...(endpoint.body ? { payload: await endpoint.body(stewardFixture) } : {}),
      });
      const want = endpoint.name === 'claim' ? 403 : expectedStatus(endpoint, 'person');
      t.equal(res.statusCode, want, `${endpoint.method} ${endpoint.name} as steward before claim`);
    }
  });
});
