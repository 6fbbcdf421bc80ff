// The FHIR R4 facade in the access matrix: reads, vreads and histories as the /v1 reads they mirror
// (404 without relation, 403 without the scope); searches answer 200 with what the caller may see.
import { freshLifeGoal } from './goals.endpoints.js';
import { freshMeeting } from './meetings.endpoints.js';
import { freshNote } from './notes.endpoints.js';
import { freshTask } from './tasks.endpoints.js';
import { CONTROLLERS, READERS, type CallerKind, type Endpoint, type Fixture } from './matrix.js';

const UNRELATED_SEARCH: Partial<Record<CallerKind, number>> = { organisation_other_staff: 200, other_citizen: 200, professional_outside: 200 };
const RELATED: CallerKind[] = [
  'person', 'representative_full', 'representative_limited', 'steward_after_claim', 'member_with_scope',
  'member_without_scope', 'member_expired', 'member_revoked', 'member_ended', 'organisation_staff',
  'emergency_active', 'emergency_expired',
];
const WITH_EMERGENCY: CallerKind[] = [...READERS, 'emergency_active'];
// Members who may read only their own notes find no one else's note: 404, as on /v1.
const OWN_NOTES_ONLY: CallerKind[] = ['member_without_scope', 'member_expired', 'member_revoked', 'member_ended'];
const notFoundForOwnOnly = Object.fromEntries(OWN_NOTES_ONLY.map((k) => [k, 404])) as Partial<Record<CallerKind, number>>;

/** One thing per plan for all read cells: reads change nothing. */
function shared(make: (f: Fixture) => Promise<string>) {
  const made = new Map<string, Promise<string>>();
  return (f: Fixture): Promise<string> => {
    if (!made.has(f.personId)) made.set(f.personId, make(f));
    return made.get(f.personId)!;
  };
}

const sharedTask = shared(freshTask);
const sharedGoal = shared(freshLifeGoal);
const sharedNote = shared((f) => freshNote(f));
const sharedMeeting = shared(freshMeeting);
const sharedRepresentative = shared((f) => f.freshRepresentative());
const sharedGrant = shared(async (f) => {
  await f.freshMember();
  const res = await f.app.inject({ method: 'GET', url: `/v1/persons/${f.personId}/grants`, headers: f.controller.headers });
  return res.json().items[0].id as string;
});
/** Writes the wishes and the safety plan once (as the controller), when the plan has none yet. */
const documents = shared(async (f) => {
  for (const [path, body] of [
    ['wishes', { statements: [{ topic: 'Ziekenhuisopname', statement: 'Liever geen opname meer.' }] }],
    ['safety-plan', { warningSigns: ['Slaapt slecht'], whatHelps: ['Wandelen'], contacts: [{ name: 'Mieke' }] }],
  ] as const) {
    const url = `/v1/persons/${f.personId}/${path}`;
    if ((await f.app.inject({ method: 'GET', url, headers: f.controller.headers })).statusCode === 404) {
      const res = await f.app.inject({ method: 'PUT', url, headers: f.controller.headers, payload: body });
      if (res.statusCode !== 201) throw new Error(`${path}: ${res.statusCode} ${res.body}`);
    }
  }
  return f.personId;
});

const read = (name: string, url: (f: Fixture) => Promise<string> | string, allowed: CallerKind[], special?: Partial<Record<CallerKind, number>>): Endpoint => ({
  name: `FHIR ${name}`, method: 'GET', url, ok: 200, allowed, ...(special ? { special } : {}),
});
// A search never answers 403 or 404: every authenticated caller gets a Bundle (empty when they may not see the type).
const search = (type: string, query = ''): Endpoint => ({
  name: `FHIR search ${type}${query}`, method: 'GET', url: (f) => `/fhir/R4/${type}?patient=${f.personId}${query}`, ok: 200, allowed: RELATED, special: UNRELATED_SEARCH,
});

export const fhirEndpoints: Endpoint[] = [
  read('read Patient', (f) => `/fhir/R4/Patient/${f.personId}`, READERS),
  read('read CareTeam', (f) => `/fhir/R4/CareTeam/${f.personId}`, WITH_EMERGENCY),
  read('read CarePlan', (f) => `/fhir/R4/CarePlan/${f.personId}`, WITH_EMERGENCY),
  read('read Task', async (f) => `/fhir/R4/Task/${await sharedTask(f)}`, READERS),
  read('read Goal', async (f) => `/fhir/R4/Goal/${await sharedGoal(f)}`, WITH_EMERGENCY),
  read('vread Goal', async (f) => `/fhir/R4/Goal/${await sharedGoal(f)}/_history/1`, WITH_EMERGENCY),
  read('history Goal', async (f) => `/fhir/R4/Goal/${await sharedGoal(f)}/_history`, WITH_EMERGENCY),
  read('read Communication', async (f) => `/fhir/R4/Communication/${await sharedNote(f)}`, READERS, notFoundForOwnOnly),
  read('vread Communication', async (f) => `/fhir/R4/Communication/${await sharedNote(f)}/_history/1`, READERS, notFoundForOwnOnly),
  read('history Communication', async (f) => `/fhir/R4/Communication/${await sharedNote(f)}/_history`, READERS, notFoundForOwnOnly),
  read('read Consent (wish)', async (f) => `/fhir/R4/Consent/${await documents(f)}-w1`, WITH_EMERGENCY),
  read('vread Consent (wish)', async (f) => `/fhir/R4/Consent/${await documents(f)}-w1/_history/1`, WITH_EMERGENCY),
  read('history Consent (wish)', async (f) => `/fhir/R4/Consent/${await documents(f)}-w1/_history`, WITH_EMERGENCY),
  // Grants are for controllers only, as GET /v1 grants.
  read('read Consent (grant)', async (f) => `/fhir/R4/Consent/${await sharedGrant(f)}`, CONTROLLERS),
  read('history Consent (grant)', async (f) => `/fhir/R4/Consent/${await sharedGrant(f)}/_history`, CONTROLLERS),
  read('read DocumentReference', async (f) => `/fhir/R4/DocumentReference/${await documents(f)}`, WITH_EMERGENCY),
  read('vread DocumentReference', async (f) => `/fhir/R4/DocumentReference/${await documents(f)}/_history/1`, WITH_EMERGENCY),
  read('history DocumentReference', async (f) => `/fhir/R4/DocumentReference/${await documents(f)}/_history`, WITH_EMERGENCY),
  read('read Appointment', async (f) => `/fhir/R4/Appointment/${await sharedMeeting(f)}`, READERS),
  read('read RelatedPerson', async (f) => `/fhir/R4/RelatedPerson/${await sharedRepresentative(f)}`, WITH_EMERGENCY),
  read('read Provenance (goal)', async (f) => `/fhir/R4/Provenance/goal-${await sharedGoal(f)}-1`, WITH_EMERGENCY),
  read('read Provenance (note)', async (f) => `/fhir/R4/Provenance/note-${await sharedNote(f)}-1`, READERS, notFoundForOwnOnly),
  read('read Provenance (safety plan)', async (f) => `/fhir/R4/Provenance/safetyplan-${await documents(f)}-1`, WITH_EMERGENCY),
  read('$everything', (f) => `/fhir/R4/Patient/${f.personId}/$everything`, WITH_EMERGENCY),
  read('$everything _type _since _count', (f) => `/fhir/R4/Patient/${f.personId}/$everything?_type=Goal,Consent,Provenance&_since=2000-01-01T00:00:00Z&_count=5`, WITH_EMERGENCY),
  { name: 'FHIR search Patient', method: 'GET', url: (f) => `/fhir/R4/Patient?_id=${f.personId}`, ok: 200, allowed: RELATED, special: UNRELATED_SEARCH },
  search('CarePlan'),
  search('CareTeam'),
  search('Goal'),
  search('Task'),
  search('Communication'),
  search('Consent'),
  search('DocumentReference'),
  search('Appointment'),
  search('RelatedPerson'),
  search('Provenance'),
  search('Task', '&status=requested&_count=5'),
];
