// The access policy, table-driven: (relation, validity, action) → decision.
import t from 'tap';
import { decide, effectiveScopes } from '../src/modules/access/access.policy.js';
import type { Action, Relation, Scope } from '../src/modules/access/access.types.js';

const now = new Date('2026-05-01T12:00:00Z');
const past = new Date('2026-04-30T12:00:00Z');
const future = new Date('2026-05-02T12:00:00Z');
const actor = { sub: 'u1' };

const member = (scopes: Scope[], extra: Partial<Extract<Relation, { kind: 'member' }>> = {}): Relation => ({
  kind: 'member',
  memberId: 'm1',
  memberKind: 'informal_carer',
  function: 'member',
  viaOrganisation: false,
  scopes,
  grantValidUntil: null,
  grantRevokedAt: null,
  endedAt: null,
  ...extra,
});
const representative = (level: 'full' | 'limited', extra: Partial<Extract<Relation, { kind: 'representative' }>> = {}): Relation => ({
  kind: 'representative',
  representativeId: 'r1',
  level,
  validUntil: null,
  endedAt: null,
  ...extra,
});
const emergency = (expiresAt: Date): Relation => ({
  kind: 'emergency',
  emergencyAccessId: 'e1',
  scopes: ['team:read', 'goals:read', 'wishes:read', 'safety_plan:read'],
  expiresAt,
});

const read = (category: 'profile' | 'team' | 'goals' | 'notes' | 'tasks'): Action => ({ kind: 'read', category });
const write = (category: 'profile' | 'team' | 'goals' | 'notes' | 'tasks'): Action => ({ kind: 'write', category });
const control: Action = { kind: 'control' };

const cases: Array<[string, Relation[], Action, 'allow' | 403 | 404]> = [
  ['no relation at all', [], read('profile'), 404],
  ['no relation, control', [], control, 404],
  ['the person reads anything', [{ kind: 'person' }], read('notes'), 'allow'],
  ['the person controls', [{ kind: 'person' }], control, 'allow'],
  ['the person claims', [{ kind: 'person' }], { kind: 'claim' }, 'allow'],
  ['the steward controls', [{ kind: 'steward' }], control, 'allow'],
  ['the steward cannot claim', [{ kind: 'steward' }], { kind: 'claim' }, 403],
  ['full representative controls', [representative('full')], control, 'allow'],
  ['full representative writes tasks', [representative('full')], write('tasks'), 'allow'],
  ['limited representative reads everything', [representative('limited')], read('tasks'), 'allow'],
  ['limited representative writes goals', [representative('limited')], write('goals'), 'allow'],
  ['limited representative writes notes', [representative('limited')], write('notes'), 'allow'],
  ['limited representative cannot write tasks', [representative('limited')], write('tasks'), 403],
  ['limited representative cannot control', [representative('limited')], control, 403],
  ['limited representative cannot read the access log', [representative('limited')], { kind: 'read_access_log' }, 403],
  ['expired full representative', [representative('full', { validUntil: past })], control, 403],
  ['full representative valid until tomorrow', [representative('full', { validUntil: future })], control, 'allow'],
  ['ended representative reads nothing', [representative('limited', { endedAt: past })], read('profile'), 403],
  ['member with the read scope', [member(['notes:read'])], read('notes'), 'allow'],
  ['write implies read', [member(['notes:write'])], read('notes'), 'allow'],
  ['read does not imply write', [member(['notes:read'])], write('notes'), 403],
  ['member without the scope', [member(['tasks:read'])], read('notes'), 403],
  ['member never controls', [member(['team:write', 'profile:write'])], control, 403],
  ['revoked grant gives nothing', [member(['notes:read'], { grantRevokedAt: past })], read('notes'), 403],
  ['expired grant gives nothing', [member(['notes:read'], { grantValidUntil: past })], read('notes'), 403],
  ['grant valid until tomorrow', [member(['notes:read'], { grantValidUntil: future })], read('notes'), 'allow'],
  ['grant expiring exactly now gives nothing', [member(['notes:read'], { grantValidUntil: now })], read('notes'), 403],
  ['ended member gives nothing', [member(['notes:read'], { endedAt: past })], read('notes'), 403],
  ['member leaves themself', [member([])], { kind: 'leave', memberId: 'm1' }, 'allow'],
  ['member cannot end another', [member([])], { kind: 'leave', memberId: 'm2' }, 403],
  ['organisation staff cannot leave for the organisation', [member([], { viaOrganisation: true })], { kind: 'leave', memberId: 'm1' }, 403],
  ['emergency within the window reads goals', [emergency(future)], read('goals'), 'allow'],
  ['emergency does not read notes', [emergency(future)], read('notes'), 403],
  ['emergency does not read the profile', [emergency(future)], read('profile'), 403],
  ['emergency never writes', [emergency(future)], write('goals'), 403],
  ['emergency after the window', [emergency(past)], read('goals'), 403],
  ['several relations: the person who is also a member', [member(['tasks:read']), { kind: 'person' }], control, 'allow'],
];

t.test('decide', async (t) => {
  for (const [label, relations, action, want] of cases) {
    const decision = decide({ personId: 'p1', actor, relations, now }, action);
    if (want === 'allow') t.ok(decision.allowed, label);
    else t.same(decision, { allowed: false, status: want }, label);
  }
});

t.test('the strongest relation is named for the audit', async (t) => {
  const decision = decide({ personId: 'p1', actor, relations: [member(['notes:read']), { kind: 'person' }], now }, read('notes'));
  t.match(decision, { allowed: true, relation: { kind: 'person' } });
});

t.test('effective scopes', async (t) => {
  t.same(effectiveScopes(member(['goals:read']), now), ['goals:read']);
  t.same(effectiveScopes(member(['goals:read'], { grantRevokedAt: past }), now), []);
  t.same(effectiveScopes(emergency(past), now), []);
  t.same(effectiveScopes({ kind: 'person' }, now), []);
});
