// Emergency access: a professional outside the team (token with nihii) opens read access to
// team, goals, wishes and safety plan for a limited time, with a written reason. Refused when the
// person disallowed it; always audited with the reason and recorded as an event.
import { inTransaction } from '../../db/transaction.js';
import type { Kysely } from 'kysely';
import type { DB } from '../../db/types.js';
import type { Clock, RequestContext } from '../../lib/context.js';
import { forbidden, notFound } from '../../lib/errors.js';
import { newId } from '../../lib/ids.js';
import { EMERGENCY_SCOPES } from '../access/access.types.js';
import { appendJournal } from '../journal/journal.repository.js';
import { findPerson } from '../persons/persons.repository.js';
import { coordinatorMemberIds } from '../team/team.repository.js';
import * as repo from './emergency.repository.js';
import type { EmergencyAccess, EmergencyAccessCreate } from './emergency.schemas.js';

export interface EmergencyServiceDeps {
  db: Kysely<DB>;
  clock: Clock;
  emergencyAccessHours: number;
}

export function createEmergencyService({ db, clock, emergencyAccessHours }: EmergencyServiceDeps) {
  return {
    async open(ctx: RequestContext, input: EmergencyAccessCreate): Promise<EmergencyAccess> {
      const { actor } = ctx;
      // Only a licensed professional may break the glass; the access decision itself is the
      // person's setting, checked below once the person is known.
      if (!actor.nihii) throw forbidden('Emergency access is for licensed professionals (a token with nihii).');
      const identifier = input.identifier ?? { system: 'insz' as const, value: input.insz! };
      const now = clock();
      return inTransaction(db, async (trx) => {
        const personId = await repo.findPersonIdByIdentifier(trx, identifier);
        const person = personId ? await findPerson(trx, personId) : undefined;
        if (!person) throw notFound('No plan for this person.');
        if (!person.allow_emergency_access) throw forbidden('This person does not allow emergency access.');
        const row = await repo.insertEmergencyAccess(trx, {
          person_id: person.person_id,
          emergency_access_id: newId(),
          actor_sub: actor.sub,
          actor_nihii: actor.nihii!,
          actor_name: actor.name ?? null,
          reason: input.reason,
          scopes: EMERGENCY_SCOPES,
          opened_at: now,
          expires_at: new Date(now.getTime() + emergencyAccessHours * 3600 * 1000),
        });
        const coordinators = await coordinatorMemberIds(trx, person.person_id);
        await appendJournal(
          trx,
          { requestId: ctx.requestId, now },
          [
            {
              personId: person.person_id,
              actor: { sub: actor.sub, name: actor.name, role: 'emergency', onBehalf: false },
              action: 'emergency_access',
              resourceType: 'emergency_access',
              resourceId: row.emergency_access_id,
              reason: input.reason,
            },
          ],
          [
            {
              personId: person.person_id,
              type: 'emergency_access.opened',
              // Who is told: the person and the coordinators (the reason stays in the audit log).
              data: {
                resourceType: 'emergency_access',
                resourceId: row.emergency_access_id,
                expiresAt: row.expires_at.toISOString(),
                scopes: EMERGENCY_SCOPES,
                notifyPerson: true,
                notifyMemberIds: coordinators,
              },
            },
          ],
        );
        return {
          id: row.emergency_access_id,
          personId: row.person_id,
          scopes: row.scopes as EmergencyAccess['scopes'],
          openedAt: row.opened_at.toISOString(),
          expiresAt: row.expires_at.toISOString(),
        };
      });
    },
  };
}

export type EmergencyService = ReturnType<typeof createEmergencyService>;
