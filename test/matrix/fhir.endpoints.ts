// The FHIR R4 facade in the access matrix: reads as on /v1 (404 without relation, 403 without the scope); searches answer 200 with what the caller may see.
import { freshTask } from './tasks.endpoints.js';
import { READERS, type CallerKind, type Endpoint, type Fixture } from './matrix.js';

const UNRELATED_SEARCH: Partial<Record<CallerKind, number>> = { organisation_other_staff: 200, other_citizen: 200, professional_outside: 200 };
const RELATED: CallerKind[] = [
  'person', 'representative_full', 'representative_limited', 'steward_after_claim', 'member_with_scope',
  'member_without_scope', 'member_expired', 'member_revoked', 'member_ended', 'organisation_staff',
  'emergency_active', 'emergency_expired',
];

const shared = new Map<string, Promise<string>>();
const sharedTask = (f: Fixture): Promise<string> => {
  if (!shared.has(f.personId)) shared.set(f.personId, freshTask(f));
  return shared.get(f.personId)!;
};

export const fhirEndpoints: Endpoint[] = [
  { name: 'FHIR read Patient', method: 'GET', url: (f) => `/fhir/R4/Patient/${f.personId}`, ok: 200, allowed: READERS },
  { name: 'FHIR read CareTeam', method: 'GET', url: (f) => `/fhir/R4/CareTeam/${f.personId}`, ok: 200, allowed: [...READERS, 'emergency_active'] },
  { name: 'FHIR read CarePlan', method: 'GET', url: (f) => `/fhir/R4/CarePlan/${f.personId}`, ok: 200, allowed: [...READERS, 'emergency_active'] },
  { name: 'FHIR read Task', method: 'GET', url: async (f) => `/fhir/R4/Task/${await sharedTask(f)}`, ok: 200, allowed: READERS },
  { name: 'FHIR $everything', method: 'GET', url: (f) => `/fhir/R4/Patient/${f.personId}/$everything`, ok: 200, allowed: [...READERS, 'emergency_active'] },
  // A search never answers 403 or 404: every authenticated caller gets a Bundle (empty when they may not see the type).
  { name: 'FHIR search Task', method: 'GET', url: (f) => `/fhir/R4/Task?patient=${f.personId}`, ok: 200, allowed: RELATED, special: UNRELATED_SEARCH },
  { name: 'FHIR search Goal', method: 'GET', url: (f) => `/fhir/R4/Goal?patient=${f.personId}`, ok: 200, allowed: RELATED, special: UNRELATED_SEARCH },
];
