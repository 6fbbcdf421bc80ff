// The overview and the change feed in the access matrix.
import { READERS, type CallerKind, type Endpoint } from './matrix.js';

const ANY_RELATION: CallerKind[] = [
  'person', 'representative_full', 'representative_limited', 'steward_after_claim', 'member_with_scope',
  'member_without_scope', 'member_expired', 'member_revoked', 'member_ended', 'organisation_staff',
  'emergency_active', 'emergency_expired',
];

export const overviewEndpoints: Endpoint[] = [
  { name: 'overview', method: 'GET', url: (f) => `/v1/persons/${f.personId}/overview`, ok: 200, allowed: [...READERS, 'emergency_active'] },
  // Every related caller reads the feed, filtered to what they may see (a revoked member: only news about themself).
  { name: 'change feed', method: 'GET', url: (f) => `/v1/persons/${f.personId}/changes`, ok: 200, allowed: ANY_RELATION },
];
