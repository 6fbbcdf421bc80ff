// Pure mappers from Kring's API shapes (what the /v1 mappers produce) to FHIR R4 resources, and the FHIR envelopes (Bundle, OperationOutcome).
import { createHash } from 'node:crypto';
import type {
  Bundle,
  BundleEntry,
  BundleLink,
  CarePlan,
  CareTeam,
  CareTeamParticipant,
  CodeableConcept,
  Communication,
  Extension,
  Goal,
  Meta,
  OperationOutcome,
  Organization,
  Patient,
  Practitioner,
  Reference,
  RelatedPerson,
  Resource,
  Task as FhirTask,
} from '@medplum/fhirtypes';
import type { CareGoal, LifeGoal } from '../goals/goals.schemas.js';
import type { Note } from '../notes/notes.schemas.js';
import type { Person } from '../persons/persons.schemas.js';
import type { Task } from '../tasks/tasks.schemas.js';
import type { TeamMember } from '../team/team.schemas.js';

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
} as const;

export const EXTENSIONS = {
  genderIdentity: 'http://hl7.org/fhir/StructureDefinition/patient-genderIdentity',
  interpreterRequired: 'http://hl7.org/fhir/StructureDefinition/patient-interpreterRequired',
  goalRelationship: 'http://hl7.org/fhir/StructureDefinition/goal-relationship',
  pertainsToGoal: 'http://hl7.org/fhir/StructureDefinition/resource-pertainsToGoal',
  taskCandidateList: 'http://hl7.org/fhir/StructureDefinition/task-candidateList',
} as const;

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

// ---------------------------------------------------------------------------------- CarePlan

export interface PlanParts {
  personId: string;
  /** The person's own creation moment, dating a plan with nothing in it yet. */
  createdAt: string;
  hasTeam: boolean;
  goals: Array<{ id: string; version: number; updatedAt: string }>;
  tasks: Array<{ id: string; version: number; updatedAt: string }>;
}

/** The one CarePlan of a person: references only to what the caller may read (the parts are filtered before). */
export function planToCarePlan(parts: PlanParts): CarePlan {
  const items = [...parts.goals, ...parts.tasks];
  return {
    resourceType: 'CarePlan',
    id: parts.personId,
    meta: meta(
      compositeVersion([parts.hasTeam, parts.goals.map((g) => [g.id, g.version]), parts.tasks.map((t) => [t.id, t.version])]),
      latest(items.map((i) => i.updatedAt), parts.createdAt),
    ),
    status: 'active',
    intent: 'plan',
    subject: patientRef(parts.personId),
    ...(parts.hasTeam ? { careTeam: [{ reference: `CareTeam/${parts.personId}` }] } : {}),
    ...(parts.goals.length > 0 ? { goal: parts.goals.map((g) => ({ reference: `Goal/${g.id}` })) } : {}),
    ...(parts.tasks.length > 0 ? { activity: parts.tasks.map((t) => ({ reference: { reference: `Task/${t.id}` } })) } : {}),
  };
}

// ---------------------------------------------------------------------------------- Envelopes

export type IssueCode = 'invalid' | 'not-supported' | 'login' | 'forbidden' | 'not-found' | 'throttled' | 'exception' | 'too-costly' | 'conflict';

export function operationOutcome(code: IssueCode, diagnostics: string, severity: 'error' | 'fatal' | 'warning' | 'information' = 'error'): OperationOutcome {
  return { resourceType: 'OperationOutcome', issue: [{ severity, code, diagnostics }] };
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
