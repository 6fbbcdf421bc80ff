// The ordered change feed an EHR polls to keep its copy current: each person's events in commit
// order, filtered by what the caller may read at the moment of reading.
import type { Kysely } from 'kysely';
import { z } from 'zod';
import type { DB } from '../../db/types.js';
import { inTransaction } from '../../db/transaction.js';
import type { Clock, RequestContext } from '../../lib/context.js';
import { decodeCursor, encodeCursor } from '../../lib/cursor.js';
import { notFound } from '../../lib/errors.js';
import { auditActorFor, mayReceiveEvent, strongestRelation } from '../access/access.policy.js';
import { loadAccessContext } from '../access/access.repository.js';
import { appendJournal } from '../journal/journal.repository.js';
import { eventRowToEvent, listPersonEvents } from './events.repository.js';

const SeqCursor = z.object({ seq: z.number().int().min(0) });
/** How many events one page may scan to fill itself after filtering. */
const SCAN_FACTOR = 5;

export function createChangesService({ db, clock }: { db: Kysely<DB>; clock: Clock }) {
  return {
    async changes(ctx: RequestContext, personId: string, query: { after?: string; limit: number }) {
      const after = decodeCursor(query.after, SeqCursor)?.seq ?? 0;
      const now = clock();
      return inTransaction(db, async (trx) => {
        const context = await loadAccessContext(trx, ctx.actor, personId, now);
        const relation = strongestRelation(context);
        if (!relation) throw notFound('No such person.');
        const rows = await listPersonEvents(trx, personId, after, query.limit * SCAN_FACTOR);
        const items = [];
        let last = after;
        for (const row of rows) {
          if (items.length === query.limit) break;
          last = row.seq;
          if (mayReceiveEvent(context, { type: row.type, data: row.data as Record<string, unknown> })) items.push(eventRowToEvent(row));
        }
        await appendJournal(trx, { requestId: ctx.requestId, now }, [
          { personId, actor: auditActorFor(context, relation), action: 'list', resourceType: 'changes' },
        ]);
        return { items, nextCursor: encodeCursor({ seq: last }) };
      });
    },
  };
}

export type ChangesService = ReturnType<typeof createChangesService>;
