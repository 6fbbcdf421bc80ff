// Pure mappers from Kring's API shapes (what the /v1 mappers produce) to FHIR R4 resources, and the FHIR envelopes (Bundle, OperationOutcome).
import { createHash } from 'node:crypto';
import type {
  Appointment,
  AppointmentParticipant,
  Bundle,
  BundleEntry,
  BundleLink,
  CarePlan,
  CareTeam,
  CareTeamParticipant,
  CodeableConcept,
  Communication,
  Consent,
  ConsentProvision,
  DocumentReference,
  Extension,
  Goal,
  Meta,
  OperationOutcome,
  Organization,
  Patient,
  Practitioner,
  Provenance,
  Reference,
  RelatedPerson,
  Resource,
  Task as FhirTask,
} from '@medplum/fhirtypes';
import type { SafetyPlan, Wishes } from '../care-documents/care-documents.schemas.js';
import type { CareGoal, LifeGoal } from '../goals/goals.schemas.js';
import type { Meeting } from '../meetings/meetings.schemas.js';
import type { Note, NoteVersion } from '../notes/notes.schemas.js';
import type { Person } from '../persons/persons.schemas.js';
import type { Task } from '../tasks/tasks.schemas.js';
import type { GrantRecord, Representative, TeamMember } from '../team/team.schemas.js';

/** Kring's own canonical base: code systems, naming systems and extensions no standard has. */
export const KRING_FHIR_BASE = 'https://kring.dev/fhir';

export const SYSTEMS = {
  ssin: 'https://www.ehealth.fgov.be/standards/fhir/core/NamingSystem/ssin',
  nihdi: 'https://www.ehealth.fgov.be/standards/fhir/core/NamingSystem/nihdi',
  v20203: 'http://terminology.hl7.org/CodeSystem/v2-0203',
  cdHcparty: 'https://www.ehealth.fgov.be/standards/fhir/core/CodeSystem/cd-hcparty',
  bcp47: 'urn:ietf:bcp:47',
  pco: 'http://hl7.org/fhir/us/pco/CodeSystem/pco-concepts-temporary',
  goalAchievement: 'http://terminology.hl7.org/CodeSystem/goal-achievement',
  goalRelationshipType: 'http://hl7.org/fhir/goal-relationship-type',
  confidentiality: 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality',
  member: `${KRING_FHIR_BASE}/NamingSystem/member`,
  organisation: `${KRING_FHIR_BASE}/NamingSystem/organisation`,
  otherIdentifier: `${KRING_FHIR_BASE}/NamingSystem/other-identifier`,
  teamFunction: `${KRING_FHIR_BASE}/CodeSystem/team-function`,
  discipline: `${KRING_FHIR_BASE}/CodeSystem/discipline`,
  memberKind: `${KRING_FHIR_BASE}/CodeSystem/member-kind`,
  notePhase: `${KRING_FHIR_BASE}/CodeSystem/note-phase`,
  goalKind: `${KRING_FHIR_BASE}/CodeSystem/goal-kind`,
  scopeCategory: `${KRING_FHIR_BASE}/CodeSystem/scope-category`,
  documentKind: `${KRING_FHIR_BASE}/CodeSystem/document-kind`,
  representativeLevel: `${KRING_FHIR_BASE}/CodeSystem/representative-level`,
  representativeBasis: `${KRING_FHIR_BASE}/CodeSystem/representative-basis`,
  roleCode: 'http://terminology.hl7.org/CodeSystem/v3-RoleCode',
  actCode: 'http://terminology.hl7.org/CodeSystem/v3-ActCode',
  consentScope: 'http://terminology.hl7.org/CodeSystem/consentscope',
  consentAction: 'http://terminology.hl7.org/CodeSystem/consentaction',
  participationType: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType',
  provenanceAgentType: 'http://terminology.hl7.org/CodeSystem/provenance-participant-type',
  loinc: 'http://loinc.org',
} as const;

export const EXTENSIONS = {
  genderIdentity: 'http://hl7.org/fhir/StructureDefinition/patient-genderIdentity',
  interpreterRequired: 'http://hl7.org/fhir/StructureDefinition/patient-interpreterRequired',
  goalRelationship: 'http://hl7.org/fhir/StructureDefinition/goal-relationship',
  pertainsToGoal: 'http://hl7.org/fhir/StructureDefinition/resource-pertainsToGoal',
  taskCandidateList: 'http://hl7.org/fhir/StructureDefinition/task-candidateList',
  // The R5 element carried back to R4 as a cross-version extension (complex: R4 has no VirtualServiceDetail).
  virtualService: 'http://hl7.org/fhir/5.0/StructureDefinition/extension-Appointment.virtualService',
  representativeLevel: `${KRING_FHIR_BASE}/StructureDefinition/representative-level`,
  representativeBasis: `${KRING_FHIR_BASE}/StructureDefinition/representative-basis`,
  /** On the CapabilityStatement: one per canonical URL Kring defines (type and url). */
  definesCanonical: `${KRING_FHIR_BASE}/StructureDefinition/defines-canonical`,
} as const;

/** Kring's own canonical URLs (code systems, naming systems, extensions), for the CapabilityStatement: derived, never hand-kept. */
export function kringCanonicals(): Array<{ kind: 'CodeSystem' | 'NamingSystem' | 'StructureDefinition'; url: string }> {
  return [...Object.values(SYSTEMS), ...Object.values(EXTENSIONS)]
    .filter((url) => url.startsWith(`${KRING_FHIR_BASE}/`))
    .map((url) => ({ kind: url.slice(KRING_FHIR_BASE.length + 1).split('/')[0] as 'CodeSystem' | 'NamingSystem' | 'StructureDefinition', url }))
    .sort((a, b) => (a.url < b.url ? -1 : 1));
}

// Only profiles whose canonical URL is certain and whose required elements the mapping fills.
// CarePlan and Communication declare none yet (see fhir.md: only profiles actually met).
export const PROFILES = {
  Patient: 'https://www.ehealth.fgov.be/standards/fhir/core/StructureDefinition/be-patient',
  CareTeam: 'https://www.ehealth.fgov.be/standards/fhir/patient-care/StructureDefinition/be-careteam',
  Goal: 'https://www.ehealth.fgov.be/standards/fhir/patient-care/StructureDefinition/be-goal',
  Task: 'https://www.ehealth.fgov.be/standards/fhir/patient-care/StructureDefinition/be-task',
} as const;

/**
 * A reference as Kring builds it: never with an inline `resource`, so it fits every element
 * whatever target types the element allows (medplum's Reference<T> only narrows `resource`).
 */
type Ref = Reference<never>;

const meta = (version: number | string, lastUpdated: string, profile?: string): Meta => ({
  versionId: String(version),
  lastUpdated,
  ...(profile ? { profile: [profile] } : {}),
});

const patientRef = (personId: string): Ref => ({ reference: `Patient/${personId}` });

/**
 * A team member outside the CareTeam resource (a Task owner, a note recipient): a logical
 * reference by Kring's member id, since memberships are plan-scoped, not global practitioners.
 */
export function memberReference(memberId: string, member?: Pick<TeamMember, 'kind' | 'displayName'>): Ref {
  return {
    ...(member ? { type: member.kind === 'professional' ? 'Practitioner' : member.kind === 'organisation' ? 'Organization' : 'RelatedPerson' } : {}),
    identifier: { system: SYSTEMS.member, value: memberId },
    ...(member ? { display: member.displayName } : {}),
  };
}

// ---------------------------------------------------------------------------------- Patient

// The stated gender, lower-cased and trimmed, in the languages the plans are written in.
const MALE = new Set(['male', 'm', 'man', 'mannelijk', 'homme', 'masculin', 'mann', 'männlich', 'jongen']);
const FEMALE = new Set(['female', 'f', 'v', 'vrouw', 'vrouwelijk', 'femme', 'féminin', 'frau', 'weiblich', 'meisje']);
const UNKNOWN = new Set(['unknown', 'onbekend', 'inconnu', 'unbekannt']);

/** The administrative gender, and the stated gender when it is not one of the administrative codes. */
export function administrativeGender(stated: string | null): { gender: Patient['gender']; identity?: string } {
  if (stated === null) return { gender: 'unknown' };
  const key = stated.trim().toLowerCase();
  if (MALE.has(key)) return { gender: 'male' };
  if (FEMALE.has(key)) return { gender: 'female' };
  if (UNKNOWN.has(key)) return { gender: 'unknown' };
  return { gender: 'other', identity: stated };
}

export function personToPatient(person: Person): Patient {
  const { gender, identity } = administrativeGender(person.gender);
  const identifier =
    person.identifier.system === 'insz'
      ? { use: 'official' as const, system: SYSTEMS.ssin, value: person.identifier.value }
      : person.identifier.system === 'passport'
        ? { use: 'official' as const, type: { coding: [{ system: SYSTEMS.v20203, code: 'PPN', display: 'Passport number' }] }, value: person.identifier.value }
        : { use: 'secondary' as const, system: SYSTEMS.otherIdentifier, value: person.identifier.value };
  const extension: Extension[] = [{ url: EXTENSIONS.interpreterRequired, valueBoolean: person.interpreterNeeded }];
  if (identity) extension.push({ url: EXTENSIONS.genderIdentity, valueCodeableConcept: { text: identity } });
  return {
    resourceType: 'Patient',
    id: person.id,
    meta: meta(person.version, person.updatedAt, PROFILES.Patient),
    extension,
    identifier: [identifier],
    active: true,
    name: [{ use: 'official', family: person.familyName, given: [person.givenName], text: `${person.givenName} ${person.familyName}` }],
    gender,
    ...(person.birthDate ? { birthDate: person.birthDate } : {}),
    ...(person.language ? { communication: [{ language: { coding: [{ system: SYSTEMS.bcp47, code: person.language }] }, preferred: true }] } : {}),
  };
}

// --------------------------------------------------------------------------------- CareTeam

// Free discipline codes Kring has seen in plans, onto CD-HCPARTY where one exists.
const HCPARTY: Record<string, string> = {
  gp: 'persgeneralphysician',
  general_practitioner: 'persgeneralphysician',
  huisarts: 'persgeneralphysician',
  nurse: 'persnurse',
  home_nurse: 'persnurse',
  thuisverpleging: 'persnurse',
  physiotherapist: 'persphysiotherapist',
  kinesitherapeut: 'persphysiotherapist',
  pharmacist: 'perspharmacist',
  apotheker: 'perspharmacist',
  dentist: 'persdentist',
  midwife: 'persmidwife',
  psychologist: 'persclinicalpsychologist',
  dietician: 'persdietician',
  occupational_therapist: 'persoccupationaltherapist',
  speech_therapist: 'perslogopedist',
};

export function disciplineConcept(discipline: NonNullable<TeamMember['discipline']>): CodeableConcept {
  const code = discipline.code.trim();
  const hcparty = code.startsWith('pers') || code.startsWith('org') ? code : HCPARTY[code.toLowerCase()];
  const coding = hcparty
    ? { system: SYSTEMS.cdHcparty, code: hcparty, ...(discipline.display ? { display: discipline.display } : {}) }
    : { system: SYSTEMS.discipline, code, ...(discipline.display ? { display: discipline.display } : {}) };
  return { coding: [coding], ...(discipline.display ? { text: discipline.display } : {}) };
}

/** The member as a contained resource: Practitioner, Organization or RelatedPerson (informal carer, volunteer). */
function containedMember(personId: string, member: TeamMember): Practitioner | Organization | RelatedPerson {
  const id = `m-${member.memberId}`;
  const memberIdentifier = { system: SYSTEMS.member, value: member.memberId };
  if (member.kind === 'professional') {
    return {
      resourceType: 'Practitioner',
      id,
      identifier: [memberIdentifier, ...(member.nihii ? [{ use: 'official' as const, system: SYSTEMS.nihdi, value: member.nihii }] : [])],
      name: [{ text: member.displayName }],
    };
  }
  if (member.kind === 'organisation') {
    return {
      resourceType: 'Organization',
      id,
      identifier: [memberIdentifier, ...(member.organisationId ? [{ system: SYSTEMS.organisation, value: member.organisationId }] : [])],
      name: member.displayName,
    };
  }
  return {
    resourceType: 'RelatedPerson',
    id,
    identifier: [memberIdentifier],
    patient: patientRef(personId),
    relationship: [{ coding: [{ system: SYSTEMS.memberKind, code: member.kind }] }],
    name: [{ text: member.displayName }],
  };
}

/** A short content hash: the version of resources Kring composes rather than stores (CareTeam, CarePlan). */
export function compositeVersion(parts: unknown): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 16);
}

const latest = (moments: Array<string | null | undefined>, fallback: string): string =>
  moments.filter((m): m is string => typeof m === 'string').sort().at(-1) ?? fallback;

/**
 * The person's care team. Members are contained resources: a membership is specific to this
 * plan (the same GP in two plans is two memberships), and Kring serves no Practitioner endpoint
 * whose access would have to be decided apart. Invited members are not participants yet; ended
 * members keep their period's end. `fallbackUpdated` dates an empty team.
 */
export function membersToCareTeam(personId: string, members: TeamMember[], fallbackUpdated: string): CareTeam {
  const participants = members.filter((m) => m.status !== 'invited');
  const participant: CareTeamParticipant[] = participants.map((m) => ({
    role: [
      { coding: [{ system: SYSTEMS.teamFunction, code: m.function }] },
      ...(m.discipline ? [disciplineConcept(m.discipline)] : []),
    ],
    member: { reference: `#m-${m.memberId}`, display: m.displayName },
    period: { start: m.joinedAt ?? m.invitedAt, ...(m.endedAt ? { end: m.endedAt } : {}) },
  }));
  return {
    resourceType: 'CareTeam',
    id: personId,
    meta: meta(
      compositeVersion(participants.map((m) => [m.memberId, m.version])),
      latest(participants.flatMap((m) => [m.invitedAt, m.joinedAt, m.endedAt]), fallbackUpdated),
      PROFILES.CareTeam,
    ),
    contained: participants.map((m) => containedMember(personId, m)),
    status: 'active',
    subject: patientRef(personId),
    participant,
  };
}

// ------------------------------------------------------------------------------------- Goal

const achievement = (code: 'achieved' | 'not-achieved'): CodeableConcept => ({
  coding: [{ system: SYSTEMS.goalAchievement, code, display: code === 'achieved' ? 'Achieved' : 'Not Achieved' }],
});

function expressedByReference(goal: LifeGoal): Ref {
  const by = goal.expressedBy;
  if (by.kind === 'person') return { ...patientRef(goal.personId), ...(by.name ? { display: by.name } : {}) };
  if (by.kind === 'representative') return { type: 'RelatedPerson', ...(by.name ? { display: by.name } : {}) };
  const display = by.name ? { display: by.name } : {};
  return by.memberId ? { ...memberReference(by.memberId), ...display } : display;
}

export function lifeGoalToGoal(goal: LifeGoal): Goal {
  const status: Pick<Goal, 'lifecycleStatus' | 'achievementStatus'> =
    goal.status === 'achieved'
      ? { lifecycleStatus: 'completed', achievementStatus: achievement('achieved') }
      : goal.status === 'let_go'
        ? { lifecycleStatus: 'cancelled' }
        : { lifecycleStatus: 'active' };
  const by = expressedByReference(goal);
  if (by.display === undefined && by.reference === undefined && by.identifier === undefined) by.display = 'unknown';
  return {
    resourceType: 'Goal',
    id: goal.id,
    meta: meta(goal.version, goal.updatedAt, PROFILES.Goal),
    ...status,
    category: [{ coding: [{ system: SYSTEMS.pco, code: 'what-matters', display: 'What Matters' }] }],
    description: { text: goal.title },
    subject: patientRef(goal.personId),
    startDate: goal.createdAt.slice(0, 10),
    expressedBy: by,
    ...(goal.description ? { note: [{ text: goal.description }] } : {}),
  };
}

const CARE_GOAL_STATUS: Record<CareGoal['status'], Pick<Goal, 'lifecycleStatus' | 'achievementStatus'>> = {
  proposed: { lifecycleStatus: 'proposed' },
  active: { lifecycleStatus: 'active' },
  achieved: { lifecycleStatus: 'completed', achievementStatus: achievement('achieved') },
  not_achieved: { lifecycleStatus: 'completed', achievementStatus: achievement('not-achieved') },
  cancelled: { lifecycleStatus: 'cancelled' },
};

/**
 * A care goal, linked to each life goal it serves. No be-goal profile is declared: be-goal 1.1
 * requires expressedBy, which Kring does not record for care goals.
 */
export function careGoalToGoal(goal: CareGoal): Goal {
  return {
    resourceType: 'Goal',
    id: goal.id,
    meta: meta(goal.version, goal.updatedAt),
    extension: goal.lifeGoalIds.map((lifeGoalId) => ({
      url: EXTENSIONS.goalRelationship,
      extension: [
        { url: 'type', valueCodeableConcept: { coding: [{ system: SYSTEMS.goalRelationshipType, code: 'other' }], text: 'serves life goal' } },
        { url: 'target', valueReference: { reference: `Goal/${lifeGoalId}` } },
      ],
    })),
    ...CARE_GOAL_STATUS[goal.status],
    category: [{ coding: [{ system: SYSTEMS.goalKind, code: 'care-goal', display: 'Care goal' }] }],
    description: { text: goal.title },
    subject: patientRef(goal.personId),
    startDate: goal.createdAt.slice(0, 10),
    ...(goal.reviewDate ? { target: [{ dueDate: goal.reviewDate }] } : {}),
    ...(goal.description ? { note: [{ text: goal.description }] } : {}),
  };
}

// ------------------------------------------------------------------------------------- Task

const TASK_STATUS: Record<Task['status'], FhirTask['status']> = {
  open: 'requested',
  in_progress: 'in-progress',
  done: 'completed',
  cancelled: 'cancelled',
};

/** `assignee` (from the team, when the caller may read it) adds the owner's kind and name. */
export function taskToTask(task: Task, assignee?: Pick<TeamMember, 'kind' | 'displayName'>): FhirTask {
  const owner = memberReference(task.assigneeMemberId, assignee);
  const extension: Extension[] = [{ url: EXTENSIONS.taskCandidateList, valueReference: owner }];
  if (task.careGoalId) extension.push({ url: EXTENSIONS.pertainsToGoal, valueReference: { reference: `Goal/${task.careGoalId}` } });
  return {
    resourceType: 'Task',
    id: task.id,
    meta: meta(task.version, task.updatedAt, PROFILES.Task),
    extension,
    basedOn: [{ reference: `CarePlan/${task.personId}` }],
    status: TASK_STATUS[task.status],
    intent: 'plan',
    description: task.title,
    for: patientRef(task.personId),
    authoredOn: task.createdAt,
    lastModified: task.updatedAt,
    requester: task.createdBy.memberId ? memberReference(task.createdBy.memberId, undefined) : { display: task.createdBy.name ?? 'unknown' },
    owner,
    ...(task.completedAt ? { executionPeriod: { end: task.completedAt } } : {}),
    ...(task.due ? { restriction: { period: { end: task.due } } } : {}),
    ...(task.description ? { note: [{ text: task.description }] } : {}),
  };
}

// ---------------------------------------------------------------------------- Communication

const aboutReference = (about: NonNullable<Note['about']>): Ref => ({
  reference: `${about.type === 'task' ? 'Task' : 'Goal'}/${about.id}`,
});

export function noteToCommunication(note: Note): Communication {
  const security = note.visibility === 'professionals' ? [{ system: SYSTEMS.confidentiality, code: 'R', display: 'restricted' }] : undefined;
  return {
    resourceType: 'Communication',
    id: note.id,
    meta: { ...meta(note.version, note.updatedAt), ...(security ? { security } : {}) },
    // A retraction is a tombstone: the note was entered in error, its text is withdrawn.
    status: note.retracted ? 'entered-in-error' : 'completed',
    category: [{ coding: [{ system: SYSTEMS.notePhase, code: note.phase }] }],
    priority: note.phase === 'acute' ? 'urgent' : 'routine',
    subject: patientRef(note.personId),
    ...(note.about ? { about: [aboutReference(note.about)] } : {}),
    sent: note.createdAt,
    ...(note.visibility === 'members' && note.visibleTo.length > 0 ? { recipient: note.visibleTo.map((id) => memberReference(id)) } : {}),
    sender: note.author.memberId
      ? { ...memberReference(note.author.memberId), ...(note.author.name ? { display: note.author.name } : {}) }
      : note.author.role === 'person'
        ? { ...patientRef(note.personId), ...(note.author.name ? { display: note.author.name } : {}) }
        : { display: note.author.name ?? note.author.role },
    ...(note.body !== null && !note.retracted ? { payload: [{ contentString: note.body }] } : {}),
  };
}

/** A note as it stood at one of its versions (the note's metadata, the version's text and phase). */
export function noteVersionToCommunication(note: Note, version: NoteVersion): Communication {
  return noteToCommunication({ ...note, version: version.version, body: version.body, phase: version.phase, retracted: version.retracted, updatedAt: version.createdAt });
}

// ---------------------------------------------------------------------------------- CarePlan

export interface PlanParts {
  personId: string;
  /** The person's own creation moment, dating a plan with nothing in it yet. */
  createdAt: string;
  hasTeam: boolean;
  goals: Array<{ id: string; version: number; updatedAt: string }>;
  tasks: Array<{ id: string; version: number; updatedAt: string }>;
  /** Meetings, when the caller may read them. */
  appointments?: Array<{ id: string; version: number; updatedAt: string }>;
}

/** The one CarePlan of a person: references only to what the caller may read (the parts are filtered before). */
export function planToCarePlan(parts: PlanParts): CarePlan {
  const appointments = parts.appointments ?? [];
  const items = [...parts.goals, ...parts.tasks, ...appointments];
  const activity = [
    ...parts.tasks.map((t) => ({ reference: { reference: `Task/${t.id}` } })),
    ...appointments.map((a) => ({ reference: { reference: `Appointment/${a.id}` } })),
  ];
  return {
    resourceType: 'CarePlan',
    id: parts.personId,
    meta: meta(
      compositeVersion([
        parts.hasTeam,
        parts.goals.map((g) => [g.id, g.version]),
        parts.tasks.map((t) => [t.id, t.version]),
        ...(appointments.length > 0 ? [appointments.map((a) => [a.id, a.version])] : []),
      ]),
      latest(items.map((i) => i.updatedAt), parts.createdAt),
    ),
    status: 'active',
    intent: 'plan',
    subject: patientRef(parts.personId),
    ...(parts.hasTeam ? { careTeam: [{ reference: `CareTeam/${parts.personId}` }] } : {}),
    ...(parts.goals.length > 0 ? { goal: parts.goals.map((g) => ({ reference: `Goal/${g.id}` })) } : {}),
    ...(activity.length > 0 ? { activity } : {}),
  };
}

// ------------------------------------------------------------------- Consent (grants, wishes)

const base64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');
const TEXT_PLAIN = 'text/plain; charset=utf-8';
const CATEGORY_ORDER = ['profile', 'team', 'goals', 'tasks', 'notes', 'wishes', 'safety_plan', 'meetings'];

/** A grant record with what the mapping needs beyond the /v1 shape: the member's kind and whether the record is still in force. */
export interface GrantView {
  grant: GrantRecord;
  memberKind: TeamMember['kind'];
  active: boolean;
  /** When the record stopped being in force (superseded, revoked, the member left) or will (validUntil). */
  end: string | null;
  /** When the record last changed state: its own moment, or when it stopped being in force. */
  lastUpdated: string;
}

/**
 * One Consent per grant record: the person permits a member access (read) or correction (write)
 * per category. A revocation is a record of its own, never in force.
 */
export function grantToConsent(view: GrantView): Consent {
  const { grant } = view;
  const byCategory = new Map<string, Set<'access' | 'correct'>>();
  for (const scope of grant.scopes) {
    const [category, mode] = scope.split(':') as [string, 'read' | 'write'];
    const actions = byCategory.get(category) ?? new Set();
    actions.add('access');
    if (mode === 'write') actions.add('correct');
    byCategory.set(category, actions);
  }
  const all = new Set([...byCategory.values()].flatMap((a) => [...a]));
  const actionConcept = (code: string): CodeableConcept => ({ coding: [{ system: SYSTEMS.consentAction, code }] });
  const provision: ConsentProvision = {
    type: 'permit',
    period: { start: grant.changedAt, ...(view.end ? { end: view.end } : {}) },
    actor: [
      {
        role: { coding: [{ system: SYSTEMS.participationType, code: 'IRCP', display: 'information recipient' }] },
        reference: memberReference(grant.memberId, { kind: view.memberKind, displayName: grant.memberDisplayName }),
      },
    ],
    ...(all.size > 0 ? { action: [...all].sort().map(actionConcept) } : {}),
    ...(byCategory.size > 0
      ? {
          provision: [...byCategory.entries()]
            .sort(([a], [b]) => CATEGORY_ORDER.indexOf(a) - CATEGORY_ORDER.indexOf(b))
            .map(([category, actions]) => ({ type: 'permit' as const, action: [...actions].sort().map(actionConcept), code: [{ coding: [{ system: SYSTEMS.scopeCategory, code: category }] }] })),
        }
      : {}),
  };
  return {
    resourceType: 'Consent',
    id: grant.grantId,
    meta: meta(compositeVersion([view.active, view.end]), view.lastUpdated),
    status: view.active ? 'active' : 'inactive',
    scope: { coding: [{ system: SYSTEMS.consentScope, code: 'patient-privacy', display: 'Privacy Consent' }] },
    category: [{ coding: [{ system: SYSTEMS.loinc, code: '59284-0', display: 'Patient Consent' }] }],
    patient: patientRef(grant.personId),
    dateTime: grant.changedAt,
    // The controller who decided: the person, a representative or the steward; only the name is recorded.
    ...(grant.changedBy.name ? { performer: [{ display: grant.changedBy.name }] } : {}),
    // ppc-1: a Consent names the policy it follows; this is an opt-in by the person.
    policyRule: { coding: [{ system: SYSTEMS.actCode, code: 'OPTIN', display: 'opt-in' }], text: grant.change },
    provision,
  };
}

/** The id of one wish statement: statements have no id of their own, so the person's id and the statement's position. */
export const wishId = (personId: string, position: number) => `${personId}-w${position}`;
export const WISH_ID = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})-w([1-9]\d{0,2})$/i;

/**
 * One wish statement (advance care planning) as a Consent with scope adr, at the version of the
 * wishes it comes from. Recorded in the person's words, not binding: no provision is claimed,
 * and no patientwill profile, whose coded statements Kring's free text does not meet.
 */
export function wishToConsent(wishes: Pick<Wishes, 'personId' | 'version' | 'updatedAt' | 'statements' | 'updatedBy'>, position: number): Consent {
  const statement = wishes.statements[position - 1]!;
  return {
    resourceType: 'Consent',
    id: wishId(wishes.personId, position),
    meta: meta(wishes.version, wishes.updatedAt),
    status: 'active',
    scope: { coding: [{ system: SYSTEMS.consentScope, code: 'adr', display: 'Advanced Care Directive' }] },
    category: [{ coding: [{ system: SYSTEMS.loinc, code: '75320-2', display: 'Advance directive' }] }],
    patient: patientRef(wishes.personId),
    dateTime: wishes.updatedAt,
    // ppc-1 needs a policy; the wish is the person's own statement, recorded rather than enforced.
    policyRule: { text: 'Wishes recorded in the person\'s own words; not binding.' },
    sourceAttachment: { contentType: TEXT_PLAIN, title: statement.topic, data: base64(statement.statement) },
    provision: { code: [{ text: statement.topic }] },
  };
}

// ---------------------------------------------------------------- DocumentReference (safety plan)

/** The safety plan as readable text, in the order a person in crisis would use it. */
export function safetyPlanText(plan: Pick<SafetyPlan, 'warningSigns' | 'whatHelps' | 'contacts'>): string {
  const lines = ['Warning signs:', ...plan.warningSigns.map((s) => `- ${s}`), '', 'What helps:', ...plan.whatHelps.map((s) => `- ${s}`), '', 'Whom to call:'];
  for (const c of plan.contacts) lines.push(`- ${c.name}${c.role ? ` (${c.role})` : ''}${c.phone ? `: ${c.phone}` : ''}`);
  return lines.join('\n');
}

export function safetyPlanToDocumentReference(plan: SafetyPlan): DocumentReference {
  return {
    resourceType: 'DocumentReference',
    id: plan.personId,
    meta: meta(plan.version, plan.updatedAt),
    status: 'current',
    type: { coding: [{ system: SYSTEMS.documentKind, code: 'safety-plan', display: 'Signalling and safety plan' }], text: 'Safety plan' },
    subject: patientRef(plan.personId),
    date: plan.updatedAt,
    ...(plan.updatedBy.name ? { author: [{ display: plan.updatedBy.name }] } : {}),
    description: 'Signalling and safety plan: early warning signs, what helps, whom to call.',
    content: [{ attachment: { contentType: TEXT_PLAIN, data: base64(safetyPlanText(plan)), title: 'Safety plan', creation: plan.updatedAt } }],
  };
}

// ------------------------------------------------------------------------- Appointment (meetings)

/** A meeting. Kring records who is invited, not who accepted: participants need an action. */
export function meetingToAppointment(meeting: Meeting, members: Map<string, Pick<TeamMember, 'kind' | 'displayName'>> = new Map()): Appointment {
  const participant: AppointmentParticipant[] = meeting.participantMemberIds.map((id) => ({
    actor: memberReference(id, members.get(id)),
    required: 'required',
    status: meeting.status === 'cancelled' ? 'declined' : 'needs-action',
  }));
  if (meeting.location) participant.push({ actor: { reference: '#location', display: meeting.location }, required: 'information-only', status: 'accepted' });
  return {
    resourceType: 'Appointment',
    id: meeting.id,
    meta: meta(meeting.version, meeting.updatedAt),
    ...(meeting.location ? { contained: [{ resourceType: 'Location', id: 'location', name: meeting.location }] } : {}),
    ...(meeting.videoUrl
      ? { extension: [{ url: EXTENSIONS.virtualService, extension: [{ url: 'addressUrl', valueUrl: meeting.videoUrl }] }] }
      : {}),
    status: meeting.status === 'cancelled' ? 'cancelled' : 'booked',
    description: meeting.title,
    start: meeting.startsAt,
    end: meeting.endsAt,
    created: meeting.createdAt,
    ...(meeting.agenda ? { comment: meeting.agenda } : {}),
    participant,
  };
}

// ----------------------------------------------------------------- RelatedPerson (representatives)

// A mandate the person chose, or one an organisation holds, is a power of attorney; a legal one is guardianship.
const REPRESENTATIVE_ROLE: Record<Representative['basis'], { code: string; display: string }> = {
  chosen: { code: 'POWATT', display: 'power of attorney' },
  organisation_mandate: { code: 'POWATT', display: 'power of attorney' },
  legal: { code: 'GUARD', display: 'guardian' },
};

export function representativeToRelatedPerson(rep: Representative, now: Date): RelatedPerson {
  const end = rep.endedAt ?? rep.validUntil;
  const inForce = rep.status === 'active' && (rep.validUntil === null || new Date(rep.validUntil) > now);
  return {
    resourceType: 'RelatedPerson',
    id: rep.id,
    meta: meta(compositeVersion([rep.status, rep.endedAt, rep.acceptedAt]), latest([rep.createdAt, rep.acceptedAt, rep.endedAt], rep.createdAt)),
    extension: [
      { url: EXTENSIONS.representativeLevel, valueCoding: { system: SYSTEMS.representativeLevel, code: rep.level } },
      { url: EXTENSIONS.representativeBasis, valueCoding: { system: SYSTEMS.representativeBasis, code: rep.basis } },
    ],
    active: inForce,
    patient: patientRef(rep.personId),
    relationship: [{ coding: [{ system: SYSTEMS.roleCode, ...REPRESENTATIVE_ROLE[rep.basis] }] }],
    name: [{ text: rep.displayName }],
    period: { start: rep.acceptedAt ?? rep.createdAt, ...(end ? { end } : {}) },
  };
}

// -------------------------------------------------------------------------------- Provenance

/** Who wrote one version, as the history and note tables record it. */
export interface VersionAuthor {
  name: string | null;
  role: string;
  memberId: string | null;
}

export type ProvenanceKind = 'goal' | 'note' | 'wishes' | 'safetyplan';
export const provenanceId = (kind: ProvenanceKind, resourceId: string, version: number) => `${kind}-${resourceId}-${version}`;
export const PROVENANCE_ID = /^(goal|note|wishes|safetyplan)-([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})-([1-9]\d{0,8})$/i;

/**
 * Who made one version of a versioned resource. A steward (the professional who started the plan)
 * and a representative act for the person: the person is then `onBehalfOf`.
 */
export function versionToProvenance(
  input: { kind: ProvenanceKind; personId: string; resourceId: string; version: number; recorded: string; author: VersionAuthor; targets: string[] },
): Provenance {
  const { author } = input;
  const named = author.name ? { display: author.name } : {};
  const who: Ref =
    author.role === 'person'
      ? { ...patientRef(input.personId), ...named }
      : author.memberId
        ? { ...memberReference(author.memberId), ...named }
        : author.role === 'representative'
          ? { type: 'RelatedPerson', ...named, ...(author.name ? {} : { display: 'representative' }) }
          : { display: author.name ?? author.role };
  const onBehalf = author.role === 'steward' || author.role === 'representative';
  return {
    resourceType: 'Provenance',
    id: provenanceId(input.kind, input.resourceId, input.version),
    meta: meta(1, input.recorded),
    target: input.targets.map((reference) => ({ reference })),
    recorded: input.recorded,
    activity: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-DataOperation', code: input.version === 1 ? 'CREATE' : 'UPDATE' }] },
    agent: [
      {
        type: { coding: [{ system: SYSTEMS.provenanceAgentType, code: 'author', display: 'Author' }] },
        who,
        ...(onBehalf ? { onBehalfOf: patientRef(input.personId) } : {}),
      },
    ],
  };
}

// ---------------------------------------------------------------------------------- Envelopes

export type IssueCode = 'invalid' | 'not-supported' | 'login' | 'forbidden' | 'not-found' | 'throttled' | 'exception' | 'too-costly' | 'conflict';

export function operationOutcome(code: IssueCode, diagnostics: string, severity: 'error' | 'fatal' | 'warning' | 'information' = 'error'): OperationOutcome {
  return { resourceType: 'OperationOutcome', issue: [{ severity, code, diagnostics }] };
}

/** A history Bundle: newest version first, each entry the resource as it stood then. */
export function historyBundle(baseUrl: string, resources: Resource[], links: { self: string; next?: string }): Bundle {
  const link: BundleLink[] = [{ relation: 'self', url: links.self }, ...(links.next ? [{ relation: 'next', url: links.next }] : [])];
  const entry: BundleEntry[] = resources.map((resource) => {
    const version = resource.meta?.versionId ?? '1';
    return {
      fullUrl: `${baseUrl}/${resource.resourceType}/${resource.id}`,
      resource,
      request: { method: version === '1' ? 'POST' : 'PUT', url: version === '1' ? resource.resourceType : `${resource.resourceType}/${resource.id}` },
      response: {
        status: version === '1' ? '201 Created' : '200 OK',
        etag: `W/"${version}"`,
        ...(resource.meta?.lastUpdated ? { lastModified: resource.meta.lastUpdated } : {}),
      },
    };
  });
  return { resourceType: 'Bundle', type: 'history', link, entry };
}

export function searchsetBundle(
  baseUrl: string,
  resources: Resource[],
  links: { self: string; next?: string },
  total?: number,
): Bundle {
  const link: BundleLink[] = [{ relation: 'self', url: links.self }, ...(links.next ? [{ relation: 'next', url: links.next }] : [])];
  const entry: BundleEntry[] = resources.map((resource) => ({
    fullUrl: `${baseUrl}/${resource.resourceType}/${resource.id}`,
    resource,
    search: { mode: 'match' },
  }));
  return { resourceType: 'Bundle', type: 'searchset', ...(total !== undefined ? { total } : {}), link, entry };
}
