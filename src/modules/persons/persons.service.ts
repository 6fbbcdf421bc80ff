// Persons: start a plan (a citizen for themself, or a professional who steers it until the
// person claims it), claim, read, update, and list the plans a caller may see.
import { inTransaction } from '../../db/transaction.js';
import type { Kysely } from 'kysely';
import type { DB } from '../../db/types.js';
import { conflict, forbidden, unprocessable } from '../../lib/errors.js';
import type { Clock, RequestContext } from '../../lib/context.js';
import { decodeCursor, toPage } from '../../lib/cursor.js';
import { newId } from '../../lib/ids.js';
import { parseInsz } from '../../lib/insz.js';
import { checkIfMatch } from '../../lib/versioning.js';
import { z } from 'zod';
import { loadAccessContexts } from '../access/access.repository.js';
import { auditActorFor, decide } from '../access/access.policy.js';
import { requireAccess } from '../access/access.service.js';
import type { AuditActor } from '../access/access.types.js';
import { appendJournal, initPersonJournal } from '../journal/journal.repository.js';
import type { EventRecord } from '../journal/journal.types.js';
import { startStewardMembership } from '../team/team.service.js';
import * as repo from './persons.repository.js';
import type { Person, PersonCreate, PersonUpdate } from './persons.schemas.js';
import type { ReadJournal } from '../journal/read-journal.js';

export interface PersonsServiceDeps {
  db: Kysely<DB>;
  clock: Clock;
  reads: ReadJournal;
}

const PersonCursor = z.object({ id: z.uuid() });

export function createPersonsService({ db, clock, reads }: PersonsServiceDeps) {
  return {
    async create(ctx: RequestContext, input: PersonCreate): Promise<Person> {
      const { actor } = ctx;
      const identifier = input.identifier;
      let derivedBirthDate: string | undefined;
      if (identifier.system === 'insz') {
        const insz = parseInsz(identifier.value);
        if (!insz) {
          throw unprocessable('The INSZ is not valid.', [
            { path: 'identifier.value', message: 'not a valid INSZ or BIS number (11 digits, modulo-97 check)' },
          ]);
        }
        derivedBirthDate = insz.birthDate;
      }
      // Whose plan is this? The caller's own (their verified INSZ, or a self-declared identifier
      // when they have none), or someone else's started by a professional who then steers it.
      const ownPlan =
        identifier.system === 'insz' ? actor.insz === identifier.value : actor.insz === undefined && !actor.nihii;
      if (!ownPlan && !actor.nihii) {
        throw forbidden('A citizen can start a plan only for themself; a professional can start one for someone else.');
      }
      if (input.birthDate && input.birthDate > clock().toISOString().slice(0, 10)) {
        throw unprocessable('The birth date is in the future.', [{ path: 'birthDate', message: 'in the future' }]);
      }

      const personId = newId();
      const now = clock();
      return inTransaction(db, async (trx) => {
        if (!(await repo.claimIdentifier(trx, identifier, personId))) {
          throw conflict('A plan already exists for this identifier.');
        }
        const row = await repo.insertPerson(trx, {
          person_id: personId,
          identifier_system: identifier.system,
          identifier_value: identifier.value,
          given_name: input.givenName,
          family_name: input.familyName,
          birth_date: input.birthDate ?? derivedBirthDate ?? null,
          gender: input.gender ?? null,
          language: input.language ?? null,
          interpreter_needed: input.interpreterNeeded ?? false,
          allow_emergency_access: input.allowEmergencyAccess ?? true,
          owner_sub: ownPlan ? actor.sub : null,
          steward_sub: ownPlan ? null : actor.sub,
          steward_name: ownPlan ? null : (actor.name ?? null),
          claimed_at: ownPlan ? now : null,
          created_by_sub: actor.sub,
          created_at: now,
          updated_at: now,
        });
        await initPersonJournal(trx, personId);
        const events: EventRecord[] = [];
        if (!ownPlan) {
          // The professional who starts the plan is its first member, its coordinator.
          const member = await startStewardMembership(trx, personId, actor, now);
          events.push({
            personId,
            type: 'team.member_joined',
            data: { resourceType: 'member', resourceId: member.member_id, memberId: member.member_id, kind: 'professional', function: 'coordinator' },
          });
        }
        const auditActor: AuditActor = {
          sub: actor.sub,
          name: actor.name,
          role: ownPlan ? 'person' : 'steward',
          onBehalf: !ownPlan,
        };
        await appendJournal(
          trx,
          { requestId: ctx.requestId, now },
          [{ personId, actor: auditActor, action: 'create', resourceType: 'person', resourceId: personId }],
          events,
        );
        return repo.personRowToPerson(row);
      });
    },

    async get(ctx: RequestContext, personId: string): Promise<Person> {
      const now = clock();
      return reads.read({ requestId: ctx.requestId, now }, async (reader, audit) => {
        const granted = await requireAccess(reader, ctx.actor, personId, { kind: 'read', category: 'profile' }, now);
        const row = await repo.findPerson(reader, personId);
        if (!row) throw new Error('person vanished after its access was decided');
        audit(granted.context, [{ personId, actor: granted.auditActor, action: 'read', resourceType: 'person', resourceId: personId }]);
        return repo.personRowToPerson(row);
      });
    },

    async update(
      ctx: RequestContext,
      personId: string,
      input: PersonUpdate,
      ifMatch: number | '*' | undefined,
    ): Promise<Person> {
      if (input.birthDate && input.birthDate > clock().toISOString().slice(0, 10)) {
        throw unprocessable('The birth date is in the future.', [{ path: 'birthDate', message: 'in the future' }]);
      }
      return inTransaction(db, async (trx) => {
        const granted = await requireAccess(trx, ctx.actor, personId, { kind: 'control' }, clock());
        const current = await repo.findPerson(trx, personId);
        if (!current) throw new Error('person vanished inside its transaction');
        checkIfMatch(ifMatch, current.version, false);
        const changes = {
          given_name: input.givenName,
          family_name: input.familyName,
          birth_date: input.birthDate,
          gender: input.gender,
          language: input.language,
          interpreter_needed: input.interpreterNeeded,
          allow_emergency_access: input.allowEmergencyAccess,
        };
        const changed = Object.entries(changes).filter(([, v]) => v !== undefined);
        if (changed.length === 0) {
          await appendJournal(trx, { requestId: ctx.requestId, now: clock() }, [
            { personId, actor: granted.auditActor, action: 'read', resourceType: 'person', resourceId: personId },
          ]);
          return repo.personRowToPerson(current);
        }
        const now = clock();
        const row = await repo.updatePerson(trx, personId, current.version, {
          ...Object.fromEntries(changed),
          updated_at: now,
        });
        if (!row) throw conflictingChange();
        await appendJournal(
          trx,
          { requestId: ctx.requestId, now },
          [{ personId, actor: granted.auditActor, action: 'update', resourceType: 'person', resourceId: personId }],
          [
            {
              personId,
              type: 'person.updated',
              data: {
                resourceType: 'person',
                resourceId: personId,
                version: row.version,
                changed: Object.keys(input).filter((k) => input[k as keyof PersonUpdate] !== undefined),
              },
            },
          ],
        );
        return repo.personRowToPerson(row);
      });
    },

    async claim(ctx: RequestContext, personId: string): Promise<Person> {
      return inTransaction(db, async (trx) => {
        const granted = await requireAccess(trx, ctx.actor, personId, { kind: 'claim' }, clock());
        const current = await repo.findPerson(trx, personId);
        if (!current) throw new Error('person vanished inside its transaction');
        if (current.claimed_at !== null) throw conflict('This plan is already in the person\'s own hands.');
        const now = clock();
        const row = await repo.updatePerson(trx, personId, current.version, {
          owner_sub: ctx.actor.sub,
          claimed_at: now,
          updated_at: now,
        });
        if (!row) throw conflictingChange();
        await appendJournal(
          trx,
          { requestId: ctx.requestId, now },
          [{ personId, actor: granted.auditActor, action: 'claim', resourceType: 'person', resourceId: personId }],
          [
            {
              personId,
              type: 'person.updated',
              data: { resourceType: 'person', resourceId: personId, version: row.version, claimed: true },
            },
          ],
        );
        return repo.personRowToPerson(row);
      });
    },

    async list(ctx: RequestContext, query: { limit: number; cursor?: string }) {
      const after = decodeCursor(query.cursor, PersonCursor);
      const now = clock();
      return inTransaction(db, async (trx) => {
        const rows = await repo.listRelatedPersons(trx, ctx.actor, now, { afterId: after?.id, limit: query.limit + 1 });
        const page = toPage(rows, query.limit, (r) => ({ id: r.person_id }), (r) => r);
        const contexts = await loadAccessContexts(trx, ctx.actor, page.items.map((r) => r.person_id), now);
        const visible = page.items.flatMap((row) => {
          const context = contexts.get(row.person_id)!;
          const decision = decide(context, { kind: 'read', category: 'profile' });
          return decision.allowed ? [{ row, auditActor: auditActorFor(context, decision.relation) }] : [];
        });
        await appendJournal(
          trx,
          { requestId: ctx.requestId, now },
          visible.map(({ row, auditActor }) => ({
            personId: row.person_id,
            actor: auditActor,
            action: 'list' as const,
            resourceType: 'person',
            resourceId: row.person_id,
          })),
        );
        return { items: visible.map(({ row }) => repo.personRowToPerson(row)), nextCursor: page.nextCursor };
      });
    },
  };
}

export type PersonsService = ReturnType<typeof createPersonsService>;

const conflictingChange = () => conflict('The plan changed while this request was handled; try again.');
