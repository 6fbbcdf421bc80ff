// Transparency: controllers read who looked at or changed what, and verify the hash chain.
import { inTransaction } from '../../db/transaction.js';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import type { DB } from '../../db/types.js';
import type { Clock, RequestContext } from '../../lib/context.js';
import { decodeCursor, toPage } from '../../lib/cursor.js';
import { requireAccess } from '../access/access.service.js';
import { appendJournal, listAccessLog, verifyAuditChain } from './journal.repository.js';
import type { AccessLogEntry } from './access-log.schemas.js';

const SeqCursor = z.object({ seq: z.number().int().min(1) });

export function createAccessLogService({ db, clock }: { db: Kysely<DB>; clock: Clock }) {
  return {
    async list(ctx: RequestContext, personId: string, query: { limit: number; cursor?: string }) {
      const before = decodeCursor(query.cursor, SeqCursor);
      const now = clock();
      return inTransaction(db, async (trx) => {
        const granted = await requireAccess(trx, ctx.actor, personId, { kind: 'read_access_log' }, now);
        const rows = await listAccessLog(trx, personId, { beforeSeq: before?.seq, limit: query.limit + 1 });
        const page = toPage(rows, query.limit, (r) => ({ seq: r.seq }), (r): AccessLogEntry => ({
          seq: r.seq,
          occurredAt: r.occurred_at.toISOString(),
          actor: {
            name: r.actor_name,
            role: r.actor_role as AccessLogEntry['actor']['role'],
            memberId: r.actor_member_id,
            memberDisplayName: r.member_display_name,
            discipline: r.member_discipline,
            onBehalf: r.on_behalf,
          },
          action: r.action as AccessLogEntry['action'],
          resourceType: r.resource_type,
          resourceId: r.resource_id,
          reason: r.reason,
        }));
        // Reading the log is itself recorded (after the page was read, so it shows next time).
        await appendJournal(trx, { requestId: ctx.requestId, now }, [
          { personId, actor: granted.auditActor, action: 'list', resourceType: 'access_log' },
        ]);
        return page;
      });
    },

    async verify(ctx: RequestContext, personId: string) {
      const now = clock();
      await inTransaction(db, async (trx) => {
        const granted = await requireAccess(trx, ctx.actor, personId, { kind: 'read_access_log' }, now);
        await appendJournal(trx, { requestId: ctx.requestId, now }, [
          { personId, actor: granted.auditActor, action: 'read', resourceType: 'access_log_verification' },
        ]);
      });
      // Verified after the check's own entry committed, so the count includes it.
      return verifyAuditChain(db, personId);
    },
  };
}

export type AccessLogService = ReturnType<typeof createAccessLogService>;
