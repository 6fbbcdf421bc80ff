// The access matrix: every person-scoped endpoint × every kind of caller, with the expected status.
// Later issues add their endpoints to ENDPOINTS; the callers and the rule for unlisted cells stay.
import t from 'tap';
import { buildTestApp } from './helpers/app.js';
import { movableClock } from './helpers/clock.js';
import { caller, citizen, createPersonAs, makeInsz, professional, type Caller } from './helpers/factories.js';
import { accept, addRepresentative, inviteMember, joinedCarer } from './helpers/team.js';
import { signToken } from './helpers/tokens.js';

type CallerKind =
  | 'person'
  | 'representative_full'
  | 'representative_limited'
  | 'steward_after_claim'
  | 'member_with_scope'
  | 'member_without_scope'
  | 'member_expired'
  | 'member_revoked'
  | 'member_ended'
  | 'organisation_staff'
  | 'organisation_other_staff'
  | 'emergency_active'
  | 'emergency_expired'
  | 'other_citizen'
  | 'professional_outside'
  | 'anonymous'
  | 'forged';

const RELATED: CallerKind[] = [
  'person',
  'representative_full',
  'representative_limited',
  'steward_after_claim',
  'member_with_scope',
  'member_without_scope',
  'member_expired',
  'member_revoked',
  'member_ended',
  'organisation_staff',
  'emergency_active',
  'emergency_expired',
];
const UNRELATED: CallerKind[] = ['organisation_other_staff', 'other_citizen', 'professional_outside'];
const CONTROLLERS: CallerKind[] = ['person', 'representative_full'];
/** Holders of every :read scope (and team:write) — what "member with the scope" means below. */
const FULL_READERS: CallerKind[] = [...CONTROLLERS, 'representative_limited', 'steward_after_claim', 'member_with_scope', 'organisation_staff'];
const MEMBER_SCOPES = ['profile:read', 'team:read', 'team:write', 'goals:read', 'tasks:read', 'notes:read', 'wishes:read', 'safety_plan:read', 'meetings:read'];

interface Fixture {
  personId: string;
  controller: Caller;
  /** A fresh invited member, for cells that change or end one. */
  freshMember(): Promise<string>;
  freshRepresentative(): Promise<string>;
}

interface Endpoint {
  name: string;
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  url: (f: Fixture) => Promise<string> | string;
  body?: () => Record<string, unknown>;
  ok: number;
  /** Callers (besides none) that get `ok`; every other related caller gets 403. */
  allowed: CallerKind[];
  /** Exceptions to the rule, e.g. the person claiming an already claimed plan. */
  special?: Partial<Record<CallerKind, number>>;
}

const ENDPOINTS: Endpoint[] = [
  { name: 'get person', method: 'GET', url: (f) => `/v1/persons/${f.personId}`, ok: 200, allowed: FULL_READERS },
  { name: 'patch person', method: 'PATCH', url: (f) => `/v1/persons/${f.personId}`, body: () => ({ interpreterNeeded: true }), ok: 200, allowed: CONTROLLERS },
  { name: 'claim', method: 'POST', url: (f) => `/v1/persons/${f.personId}/claim`, ok: 409, allowed: ['person'] },
  { name: 'list team', method: 'GET', url: (f) => `/v1/persons/${f.personId}/team?include=ended`, ok: 200, allowed: [...FULL_READERS, 'emergency_active'] },
  { name: 'get member', method: 'GET', url: async (f) => `/v1/persons/${f.personId}/team/${await f.freshMember()}`, ok: 200, allowed: [...FULL_READERS, 'emergency_active'] },
  {
    name: 'invite member',
    method: 'POST',
    url: (f) => `/v1/persons/${f.personId}/team/invitations`,
    body: () => ({ kind: 'volunteer', displayName: 'Buurman Jan', scopes: ['tasks:read'] }),
    ok: 201,
    allowed: CONTROLLERS,
  },
  {
    name: 'patch member',
    method: 'PATCH',
    url: async (f) => `/v1/persons/${f.personId}/team/${await f.freshMember()}`,
    body: () => ({ discipline: { code: 'neighbour', display: 'Buur' } }),
    ok: 200,
    allowed: FULL_READERS.filter((k) => k !== 'representative_limited'),
  },
  { name: 'end member', method: 'DELETE', url: async (f) => `/v1/persons/${f.personId}/team/${await f.freshMember()}`, ok: 200, allowed: CONTROLLERS },
  {
    name: 'replace grant',
    method: 'PUT',
    url: async (f) => `/v1/persons/${f.personId}/team/${await f.freshMember()}/grant`,
    body: () => ({ scopes: ['tasks:read', 'tasks:write'] }),
    ok: 200,
    allowed: CONTROLLERS,
  },
  { name: 'revoke grant', method: 'DELETE', url: async (f) => `/v1/persons/${f.personId}/team/${await f.freshMember()}/grant`, ok: 200, allowed: CONTROLLERS },
  { name: 'list grants', method: 'GET', url: (f) => `/v1/persons/${f.personId}/grants`, ok: 200, allowed: CONTROLLERS },
  {
    name: 'add representative',
    method: 'POST',
    url: (f) => `/v1/persons/${f.personId}/representatives`,
    body: () => ({ displayName: 'Tom', level: 'limited', basis: 'chosen' }),
    ok: 201,
    allowed: CONTROLLERS,
  },
  { name: 'list representatives', method: 'GET', url: (f) => `/v1/persons/${f.personId}/representatives`, ok: 200, allowed: [...FULL_READERS, 'emergency_active'] },
  {
    name: 'end representative',
    method: 'DELETE',
    url: async (f) => `/v1/persons/${f.personId}/representatives/${await f.freshRepresentative()}`,
    ok: 200,
    allowed: CONTROLLERS,
  },
  { name: 'access log', method: 'GET', url: (f) => `/v1/persons/${f.personId}/access-log`, ok: 200, allowed: CONTROLLERS },
  { name: 'verify access log', method: 'GET', url: (f) => `/v1/persons/${f.personId}/access-log/verify`, ok: 200, allowed: CONTROLLERS },
];

function expected(endpoint: Endpoint, kind: CallerKind): number {
  if (endpoint.special?.[kind] !== undefined) return endpoint.special[kind]!;
  if (kind === 'anonymous' || kind === 'forged') return 401;
  if (UNRELATED.includes(kind)) return 404;
  return endpoint.allowed.includes(kind) ? endpoint.ok : 403;
}

t.test('access matrix', async (t) => {
  const clock = movableClock(new Date('2026-03-02T09:00:00Z'));
  const { app } = await buildTestApp(t, { clock, env: { EMERGENCY_ACCESS_HOURS: '1' } });
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

  callers.member_with_scope = (await joinedCarer(app, person, plan.id, MEMBER_SCOPES)).who.headers;
  callers.member_without_scope = (await joinedCarer(app, person, plan.id, ['tasks:read'])).who.headers;
  const expiring = await joinedCarer(app, person, plan.id, MEMBER_SCOPES, { validUntil: new Date(clock().getTime() + hour).toISOString() });
  callers.member_expired = expiring.who.headers;
  const revoked = await joinedCarer(app, person, plan.id, MEMBER_SCOPES);
  t.equal((await app.inject({ method: 'DELETE', url: `/v1/persons/${plan.id}/team/${revoked.memberId}/grant`, headers: person.headers })).statusCode, 200);
  callers.member_revoked = revoked.who.headers;
  const ended = await joinedCarer(app, person, plan.id, MEMBER_SCOPES);
  t.equal((await app.inject({ method: 'DELETE', url: `/v1/persons/${plan.id}/team/${ended.memberId}`, headers: person.headers })).statusCode, 200);
  callers.member_ended = ended.who.headers;

  const organisation = await inviteMember(app, person, plan.id, {
    kind: 'organisation',
    displayName: 'Thuiszorg Regio Gent',
    organisationId: 'org-thuiszorg-gent',
    scopes: MEMBER_SCOPES,
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
    personId: plan.id,
    controller: person,
    freshMember: async () => (await inviteMember(app, person, plan.id, { kind: 'volunteer', displayName: 'Vrijwilliger', scopes: ['tasks:read'] })).memberId,
    freshRepresentative: async () => (await addRepresentative(app, person, plan.id, { displayName: 'Rep', level: 'limited', basis: 'chosen' })).id,
  };

  for (const endpoint of ENDPOINTS) {
    t.test(endpoint.name, async (t) => {
      for (const kind of Object.keys(callers) as CallerKind[]) {
        const res = await app.inject({
          method: endpoint.method,
          url: await endpoint.url(fixture),
          headers: callers[kind],
          ...(endpoint.body ? { payload: endpoint.body() } : {}),
        });
        t.equal(res.statusCode, expected(endpoint, kind), `${endpoint.method} ${endpoint.name} as ${kind}`);
      }
    });
  }

  t.test('the steward before the claim acts as a controller', async (t) => {
    const steward = professional('Dr. Steward');
    const unclaimed = await createPersonAs(app, steward, { identifier: { system: 'passport', value: `P-${process.pid}` }, givenName: 'Marek', familyName: 'K.' });
    const stewardFixture: Fixture = {
      personId: unclaimed.id,
      controller: steward,
      freshMember: async () => (await inviteMember(app, steward, unclaimed.id, { kind: 'volunteer', displayName: 'V', scopes: [] })).memberId,
      freshRepresentative: async () => (await addRepresentative(app, steward, unclaimed.id, { displayName: 'R', level: 'limited', basis: 'chosen' })).id,
    };
    for (const endpoint of ENDPOINTS) {
      const res = await app.inject({
        method: endpoint.method,
        url: await endpoint.url(stewardFixture),
        headers: steward.headers,
        ...(endpoint.body ? { payload: endpoint.body() } : {}),
      });
      const want = endpoint.name === 'claim' ? 403 : endpoint.ok;
      t.equal(res.statusCode, want, `${endpoint.method} ${endpoint.name} as steward before claim`);
    }
  });
});
