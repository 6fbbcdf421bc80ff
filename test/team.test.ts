// Care team, invitations, grants, representatives, emergency access and the access log.
import t from 'tap';
import { sql } from 'kysely';
import { buildTestApp } from './helpers/app.js';
import { movableClock } from './helpers/clock.js';
import { caller, citizen, citizenWithPlan, createPersonAs, makeInsz, professional } from './helpers/factories.js';
import { accept, addRepresentative, inviteMember, joinedCarer } from './helpers/team.js';
import { usingPostgres } from './helpers/database.js';

t.test('care team and consent', async (t) => {
  const clock = movableClock(new Date('2026-06-01T08:00:00Z'));
  const { app, database } = await buildTestApp(t, { clock });
  const db = database.db;

  t.test('a professional invitation accepts only with the matching nihii, once, before it expires', async (t) => {
    const { who, person } = await citizenWithPlan(app);
    const gp = professional('Dr. Huisarts');
    const invitation = await inviteMember(app, who, person.id, {
      kind: 'professional',
      displayName: 'Dr. Huisarts',
      nihii: gp.claims.nihii,
      discipline: { code: 'gp', display: 'Huisarts' },
      function: 'coordinator',
      scopes: ['team:read', 'goals:write'],
    });
    t.ok(invitation.inviteCode.length >= 43, 'at least 256 bits, base64url');
    t.match(invitation, { status: 'invited', kind: 'professional', function: 'coordinator', discipline: { code: 'gp', display: 'Huisarts' } });
    const stored = await db.selectFrom('invitations').select('code_hash').where('person_id', '=', person.id).execute();
    t.notOk(stored.some((r) => r.code_hash === invitation.inviteCode), 'only a hash of the code is stored');

    const wrongPro = await app.inject({ method: 'POST', url: `/v1/invitations/${invitation.inviteCode}/accept`, headers: professional().headers });
    t.equal(wrongPro.statusCode, 403, 'another nihii');
    const noNihii = await app.inject({ method: 'POST', url: `/v1/invitations/${invitation.inviteCode}/accept`, headers: citizen().headers });
    t.equal(noNihii.statusCode, 403, 'no nihii at all');
    const ok = await app.inject({ method: 'POST', url: `/v1/invitations/${invitation.inviteCode}/accept`, headers: gp.headers });
    t.equal(ok.statusCode, 200);
    t.same(ok.json(), { personId: person.id, kind: 'member', memberId: invitation.memberId, representativeId: null });
    const reuse = await app.inject({ method: 'POST', url: `/v1/invitations/${invitation.inviteCode}/accept`, headers: gp.headers });
    t.equal(reuse.statusCode, 409, 'single use');
    const unknown = await app.inject({ method: 'POST', url: '/v1/invitations/not-a-real-code/accept', headers: gp.headers });
    t.equal(unknown.statusCode, 404);

    const later = await inviteMember(app, who, person.id, { kind: 'informal_carer', displayName: 'Zoon', scopes: [] });
    clock.advance(15 * 24 * 3600_000);
    const expired = await app.inject({ method: 'POST', url: `/v1/invitations/${later.inviteCode}/accept`, headers: citizen().headers });
    t.equal(expired.statusCode, 410, 'expired after 14 days');
  });

  t.test('invitations validate their input', async (t) => {
    const { who, person } = await citizenWithPlan(app);
    const url = `/v1/persons/${person.id}/team/invitations`;
    const noNihii = await app.inject({ method: 'POST', url, headers: who.headers, payload: { kind: 'professional', displayName: 'X', scopes: [] } });
    t.equal(noNihii.statusCode, 422);
    t.match(noNihii.json().errors, [{ path: 'nihii' }]);
    const noOrg = await app.inject({ method: 'POST', url, headers: who.headers, payload: { kind: 'organisation', displayName: 'X', scopes: [] } });
    t.equal(noOrg.statusCode, 422);
    const badScope = await app.inject({ method: 'POST', url, headers: who.headers, payload: { kind: 'volunteer', displayName: 'X', scopes: ['notes:delete'] } });
    t.equal(badScope.statusCode, 400);
    t.match(badScope.json().errors, [{ path: 'scopes.0' }]);
    const past = await app.inject({ method: 'POST', url, headers: who.headers, payload: { kind: 'volunteer', displayName: 'X', scopes: [], validUntil: '2020-01-01T00:00:00Z' } });
    t.equal(past.statusCode, 422);
  });

  t.test('organisation staff act through the organisation\'s grant when their org matches', async (t) => {
    const { who, person } = await citizenWithPlan(app);
    const invitation = await inviteMember(app, who, person.id, {
      kind: 'organisation',
      displayName: 'Thuiszorg Vlaanderen',
      organisationId: 'org-tv',
      scopes: ['team:read'],
    });
    const outsider = await app.inject({ method: 'POST', url: `/v1/invitations/${invitation.inviteCode}/accept`, headers: caller({ sub: 's-x', org: 'org-other' }).headers });
    t.equal(outsider.statusCode, 403);
    await accept(app, caller({ sub: 'tv-admin', org: 'org-tv' }), invitation.inviteCode);
    const colleague = caller({ sub: 'tv-nurse-2', org: 'org-tv' });
    t.equal((await app.inject({ method: 'GET', url: `/v1/persons/${person.id}/team`, headers: colleague.headers })).statusCode, 200);
    t.equal((await app.inject({ method: 'GET', url: `/v1/persons/${person.id}`, headers: colleague.headers })).statusCode, 403, 'no profile scope');
    const listed = await app.inject({ method: 'GET', url: '/v1/persons', headers: colleague.headers });
    t.same(listed.json().items, [], 'plans without profile:read are not listed');
  });

  t.test('grants: each change is a record; revoke keeps the member listed without access', async (t) => {
    const { who, person } = await citizenWithPlan(app);
    const carer = await joinedCarer(app, who, person.id, ['team:read']);
    const team = `/v1/persons/${person.id}/team`;
    t.equal((await app.inject({ method: 'GET', url: team, headers: carer.who.headers })).statusCode, 200);

    const change = await app.inject({
      method: 'PUT',
      url: `${team}/${carer.memberId}/grant`,
      headers: who.headers,
      payload: { scopes: ['team:read', 'profile:read'] },
    });
    t.equal(change.statusCode, 200);
    t.match(change.json(), { change: 'changed', scopes: ['team:read', 'profile:read'], previousScopes: ['team:read'], changedBy: { name: 'An Peeters' } });
    t.equal((await app.inject({ method: 'GET', url: `/v1/persons/${person.id}`, headers: carer.who.headers })).statusCode, 200);

    const revoke = await app.inject({ method: 'DELETE', url: `${team}/${carer.memberId}/grant`, headers: who.headers });
    t.equal(revoke.statusCode, 200);
    t.match(revoke.json(), { change: 'revoked', scopes: [], previousScopes: ['team:read', 'profile:read'] });
    t.equal((await app.inject({ method: 'GET', url: team, headers: carer.who.headers })).statusCode, 403, 'the very next request');

    const listed = await app.inject({ method: 'GET', url: team, headers: who.headers });
    const member = listed.json().items.find((m: { memberId: string }) => m.memberId === carer.memberId);
    t.match(member, { status: 'active', grant: { revoked: true, active: false } }, 'still listed, without access');

    const history = await app.inject({ method: 'GET', url: `/v1/persons/${person.id}/grants?memberId=${carer.memberId}`, headers: who.headers });
    t.same(history.json().items.map((g: { change: string }) => g.change), ['granted', 'changed', 'revoked']);

    const regrant = await app.inject({ method: 'PUT', url: `${team}/${carer.memberId}/grant`, headers: who.headers, payload: { scopes: ['team:read'] } });
    t.match(regrant.json(), { previousScopes: [] });
    t.equal((await app.inject({ method: 'GET', url: team, headers: carer.who.headers })).statusCode, 200, 'a new grant gives access again');

    const events = await db.selectFrom('outbox_events').select(['type', 'data']).where('person_id', '=', person.id).orderBy('seq').execute();
    t.same(events.map((e) => e.type), [
      'team.member_invited', 'grant.changed', 'team.member_joined', 'grant.changed', 'grant.revoked', 'grant.changed',
    ]);
  });

  t.test('grants see others only for controllers; a member sees their own', async (t) => {
    const { who, person } = await citizenWithPlan(app);
    const a = await joinedCarer(app, who, person.id, ['team:read']);
    const b = await joinedCarer(app, who, person.id, ['team:read', 'notes:read']);
    const asA = await app.inject({ method: 'GET', url: `/v1/persons/${person.id}/team`, headers: a.who.headers });
    const items = asA.json().items as Array<{ memberId: string; grant: unknown }>;
    t.ok(items.find((m) => m.memberId === a.memberId)?.grant, 'own grant shown');
    t.equal(items.find((m) => m.memberId === b.memberId)?.grant, null, 'another member\'s grant hidden');
  });

  t.test('team history: ended members stay listed with include=ended; a member may leave', async (t) => {
    const { who, person } = await citizenWithPlan(app);
    const carer = await joinedCarer(app, who, person.id, ['team:read']);
    const leave = await app.inject({ method: 'DELETE', url: `/v1/persons/${person.id}/team/${carer.memberId}`, headers: carer.who.headers });
    t.equal(leave.statusCode, 200);
    t.match(leave.json(), { status: 'ended', endedAt: String });
    const again = await app.inject({ method: 'DELETE', url: `/v1/persons/${person.id}/team/${carer.memberId}`, headers: who.headers });
    t.equal(again.statusCode, 409);
    const current = await app.inject({ method: 'GET', url: `/v1/persons/${person.id}/team`, headers: who.headers });
    t.notOk(current.json().items.some((m: { memberId: string }) => m.memberId === carer.memberId));
    const all = await app.inject({ method: 'GET', url: `/v1/persons/${person.id}/team?include=ended`, headers: who.headers });
    t.ok(all.json().items.some((m: { memberId: string; status: string }) => m.memberId === carer.memberId && m.status === 'ended'));
    t.equal((await app.inject({ method: 'GET', url: `/v1/persons/${person.id}/team`, headers: carer.who.headers })).statusCode, 403, 'a former member sees nothing');
    const regrant = await app.inject({ method: 'PUT', url: `/v1/persons/${person.id}/team/${carer.memberId}/grant`, headers: who.headers, payload: { scopes: ['team:read'] } });
    t.equal(regrant.statusCode, 409, 'an ended membership cannot be given access again');
  });

  t.test('the last controller: the steward cannot leave before the person claims the plan', async (t) => {
    const gp = professional('Dr. Steward');
    const insz = makeInsz('1938-09-09');
    const plan = await createPersonAs(app, gp, { identifier: { system: 'insz', value: insz }, givenName: 'Maria', familyName: 'V.' });
    const team = await app.inject({ method: 'GET', url: `/v1/persons/${plan.id}/team`, headers: gp.headers });
    const steward = team.json().items[0];
    t.match(steward, { kind: 'professional', function: 'coordinator', status: 'active', nihii: gp.claims.nihii });
    const leave = await app.inject({ method: 'DELETE', url: `/v1/persons/${plan.id}/team/${steward.memberId}`, headers: gp.headers });
    t.equal(leave.statusCode, 409);
    const maria = caller({ sub: 'maria', insz });
    t.equal((await app.inject({ method: 'POST', url: `/v1/persons/${plan.id}/claim`, headers: maria.headers })).statusCode, 200);
    const afterClaim = await app.inject({ method: 'DELETE', url: `/v1/persons/${plan.id}/team/${steward.memberId}`, headers: gp.headers });
    t.equal(afterClaim.statusCode, 200, 'after the claim the person remains in control');
    t.equal((await app.inject({ method: 'GET', url: `/v1/persons/${plan.id}`, headers: maria.headers })).statusCode, 200);
  });

  t.test('representatives: full ones control, limited ones read; insz must match; mandates end', async (t) => {
    const { who, person } = await citizenWithPlan(app);
    const daughter = citizen(makeInsz('1970-01-01'), 'Els');
    const full = await addRepresentative(app, who, person.id, { displayName: 'Els', insz: daughter.claims.insz, level: 'full', basis: 'chosen' });
    const impostor = await app.inject({ method: 'POST', url: `/v1/invitations/${full.inviteCode}/accept`, headers: citizen().headers });
    t.equal(impostor.statusCode, 403, 'another insz');
    await accept(app, daughter, full.inviteCode);
    const invite = await app.inject({
      method: 'POST',
      url: `/v1/persons/${person.id}/team/invitations`,
      headers: daughter.headers,
      payload: { kind: 'informal_carer', displayName: 'Kleinzoon', scopes: [] },
    });
    t.equal(invite.statusCode, 201, 'a full representative composes the team');

    const list = await app.inject({ method: 'GET', url: `/v1/persons/${person.id}/representatives`, headers: who.headers });
    t.match(list.json().items, [{ displayName: 'Els', level: 'full', status: 'active' }]);

    const stepDown = await app.inject({ method: 'DELETE', url: `/v1/persons/${person.id}/representatives/${full.id}`, headers: daughter.headers });
    t.equal(stepDown.statusCode, 200);
    t.equal((await app.inject({ method: 'GET', url: `/v1/persons/${person.id}`, headers: daughter.headers })).statusCode, 403, 'an ended mandate gives nothing');
    const ended = await app.inject({ method: 'GET', url: `/v1/persons/${person.id}/representatives?include=ended`, headers: who.headers });
    t.match(ended.json().items, [{ status: 'ended' }]);
  });

  t.test('emergency access: professionals only, with a reason, refused when disallowed, time-limited, audited', async (t) => {
    const { who, person } = await citizenWithPlan(app);
    const doctor = professional('Dr. Van Wacht');
    const insz = who.claims.insz!;
    const short = await app.inject({ method: 'POST', url: '/v1/emergency-access', headers: doctor.headers, payload: { insz, reason: 'dringend' } });
    t.equal(short.statusCode, 400);
    t.match(short.json().errors, [{ path: 'reason' }]);
    const neither = await app.inject({ method: 'POST', url: '/v1/emergency-access', headers: doctor.headers, payload: { reason: 'Bewusteloos aangetroffen' } });
    t.equal(neither.statusCode, 400);
    const notPro = await app.inject({ method: 'POST', url: '/v1/emergency-access', headers: citizen().headers, payload: { insz, reason: 'Bewusteloos aangetroffen' } });
    t.equal(notPro.statusCode, 403);
    const unknown = await app.inject({ method: 'POST', url: '/v1/emergency-access', headers: doctor.headers, payload: { insz: makeInsz('1930-03-03'), reason: 'Bewusteloos aangetroffen' } });
    t.equal(unknown.statusCode, 404);

    const opened = await app.inject({ method: 'POST', url: '/v1/emergency-access', headers: doctor.headers, payload: { insz, reason: 'Bewusteloos aangetroffen' } });
    t.equal(opened.statusCode, 201);
    t.match(opened.json(), { personId: person.id, scopes: ['team:read', 'goals:read', 'wishes:read', 'safety_plan:read'] });
    t.equal(new Date(opened.json().expiresAt).getTime() - clock().getTime(), 12 * 3600_000, '12 hours by default');
    t.equal((await app.inject({ method: 'GET', url: `/v1/persons/${person.id}/team`, headers: doctor.headers })).statusCode, 200);
    clock.advance(12 * 3600_000 + 1000);
    t.equal((await app.inject({ method: 'GET', url: `/v1/persons/${person.id}/team`, headers: doctor.headers })).statusCode, 403, 'after the window');

    const log = await app.inject({ method: 'GET', url: `/v1/persons/${person.id}/access-log?limit=200`, headers: who.headers });
    const entry = log.json().items.find((e: { action: string }) => e.action === 'emergency_access');
    t.match(entry, { actor: { name: 'Dr. Van Wacht', role: 'emergency' }, reason: 'Bewusteloos aangetroffen' }, 'visible to the person with the reason');
    const event = await db.selectFrom('outbox_events').select(['type', 'data']).where('person_id', '=', person.id).where('type', '=', 'emergency_access.opened').executeTakeFirst();
    t.ok(event, 'recorded as an event');
    t.notMatch(JSON.stringify(event?.data), /Bewusteloos/, 'the reason stays out of the event');

    await app.inject({ method: 'PATCH', url: `/v1/persons/${person.id}`, headers: who.headers, payload: { allowEmergencyAccess: false } });
    const refused = await app.inject({ method: 'POST', url: '/v1/emergency-access', headers: doctor.headers, payload: { identifier: { system: 'insz', value: insz }, reason: 'Opnieuw gevallen, verward' } });
    t.equal(refused.statusCode, 403);
  });

  t.test('the access log reads for a person: names and roles; its chain verifies and detects tampering', async (t) => {
    const { who, person } = await citizenWithPlan(app);
    const carer = await joinedCarer(app, who, person.id, ['team:read', 'profile:read']);
    await app.inject({ method: 'GET', url: `/v1/persons/${person.id}`, headers: carer.who.headers });
    const log = await app.inject({ method: 'GET', url: `/v1/persons/${person.id}/access-log`, headers: who.headers });
    t.equal(log.statusCode, 200);
    const read = log.json().items.find((e: { action: string; actor: { role: string } }) => e.action === 'read' && e.actor.role === 'member');
    t.match(read, { actor: { name: 'Mieke Peeters', memberDisplayName: 'Mieke (dochter)', memberId: carer.memberId }, resourceType: 'person' });
    const seqs = log.json().items.map((e: { seq: number }) => e.seq);
    t.same(seqs, [...seqs].sort((a: number, b: number) => b - a), 'newest first');

    const verify = await app.inject({ method: 'GET', url: `/v1/persons/${person.id}/access-log/verify`, headers: who.headers });
    t.same(verify.json(), { valid: true, entries: seqs.length + 2, firstInvalidSeq: null }, 'the list and the check are themselves logged');

    // Tamper with one entry behind the service's back (the trigger forbids it; a superuser can disable it).
    await sql`alter table audit_entries disable trigger audit_entries_no_update_or_delete`.execute(db);
    await sql`update audit_entries set actor_name = 'Niemand' where person_id = ${person.id} and seq = 2`.execute(db);
    await sql`alter table audit_entries enable trigger audit_entries_no_update_or_delete`.execute(db);
    const tampered = await app.inject({ method: 'GET', url: `/v1/persons/${person.id}/access-log/verify`, headers: who.headers });
    t.match(tampered.json(), { valid: false, firstInvalidSeq: 2 });
  });

  t.test('revocation holds from the very next request, also while reads race the revoke', async (t) => {
    const { who, person } = await citizenWithPlan(app);
    const carer = await joinedCarer(app, who, person.id, ['team:read']);
    const url = `/v1/persons/${person.id}/team`;
    let revokedAt = Infinity;
    const reads: Array<{ startedAt: number; status: number }> = [];
    const reader = async () => {
      for (let i = 0; i < 15; i++) {
        const startedAt = performance.now();
        const res = await app.inject({ method: 'GET', url, headers: carer.who.headers });
        reads.push({ startedAt, status: res.statusCode });
      }
    };
    const revoke = async () => {
      await new Promise((resolve) => setTimeout(resolve, 20));
      const res = await app.inject({ method: 'DELETE', url: `${url}/${carer.memberId}/grant`, headers: who.headers });
      t.equal(res.statusCode, 200);
      revokedAt = performance.now();
    };
    await Promise.all([reader(), reader(), reader(), revoke()]);
    const late = reads.filter((r) => r.startedAt > revokedAt);
    t.ok(late.every((r) => r.status === 403), 'every read started after the revoke committed is refused');
    t.ok(reads.every((r) => r.status === 200 || r.status === 403));

    // In commit order (the audit chain), no successful read of the member comes after the revoke.
    const entries = await db
      .selectFrom('audit_entries')
      .select(['seq', 'action', 'resource_type', 'actor_member_id'])
      .where('person_id', '=', person.id)
      .orderBy('seq')
      .execute();
    const revokeSeq = entries.find((e) => e.resource_type === 'grant' && e.action === 'delete')!.seq;
    const lateReads = entries.filter((e) => e.actor_member_id === carer.memberId && e.action === 'list' && e.seq > revokeSeq);
    t.same(lateReads, [], usingPostgres() ? 'on PostgreSQL, with real concurrency' : 'on PGlite');
  });
});
