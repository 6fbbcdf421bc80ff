// Care documents (advance care planning wishes, the safety plan): one current version each, every version kept.
import type { Kysely } from 'kysely';
import { z } from 'zod';
import type { DB } from '../../db/types.js';
import { inTransaction } from '../../db/transaction.js';
import type { Clock, RequestContext } from '../../lib/context.js';
import { decodeCursor, toPage } from '../../lib/cursor.js';
import { notFound, preconditionFailed, preconditionRequired } from '../../lib/errors.js';
import { checkIfMatch } from '../../lib/versioning.js';
import { requireAccess } from '../access/access.service.js';
import type { AuditActor } from '../access/access.types.js';
import { findVersion, listVersions, recordVersion } from '../history/history.repository.js';
import { changedFields, versionRowToHistoryItem } from '../history/history.schemas.js';
import { appendJournal } from '../journal/journal.repository.js';
import * as repo from './care-documents.repository.js';
import type { CareDocumentKind } from './care-documents.repository.js';
import type { SafetyPlan, SafetyPlanContent, Wishes, WishesContent } from './care-documents.schemas.js';
import type { ReadJournal } from '../journal/read-journal.js';

interface Documents {
  wishes: Wishes;
  safety_plan: SafetyPlan;
}
interface Contents {
  wishes: WishesContent;
  safety_plan: SafetyPlanContent;
}
type StoredContent = Omit<Wishes, 'personId' | 'version' | 'updatedAt' | 'updatedBy'> | Omit<SafetyPlan, 'personId' | 'version' | 'updatedAt' | 'updatedBy'>;

const VersionCursor = z.object({ v: z.number().int() });

const KINDS = {
  wishes: { fields: ['statements'], event: 'wishes.updated', missing: 'No wishes have been recorded for this person yet.' },
  safety_plan: {
    fields: ['warningSigns', 'whatHelps', 'contacts'],
    event: 'safety_plan.updated',
    missing: 'No safety plan has been recorded for this person yet.',
  },
} as const;

/** The content as stored and shown: optional contact fields become explicit nulls. */
function normalise<K extends CareDocumentKind>(kind: K, input: Contents[K]): StoredContent {
  if (kind === 'wishes') {
    const wishes = input as WishesContent;
    return { statements: wishes.statements.map((s) => ({ topic: s.topic, statement: s.statement })) };
  }
  const plan = input as SafetyPlanContent;
  return {
    warningSigns: plan.warningSigns,
    whatHelps: plan.whatHelps,
    contacts: plan.contacts.map((c) => ({ name: c.name, role: c.role ?? null, phone: c.phone ?? null })),
  };
}

function toDocument<K extends CareDocumentKind>(
  kind: K,
  personId: string,
  content: StoredContent,
  meta: { version: number; updatedAt: Date; updatedBy: { name: string | null; role: string; memberId: string | null } },
): Documents[K] {
  const document = kind === 'wishes'
    ? { personId, statements: (content as Pick<Wishes, 'statements'>).statements }
    : {
        personId,
        warningSigns: (content as Pick<SafetyPlan, 'warningSigns'>).warningSigns,
        whatHelps: (content as Pick<SafetyPlan, 'whatHelps'>).whatHelps,
        contacts: (content as Pick<SafetyPlan, 'contacts'>).contacts,
      };
  return { ...document, version: meta.version, updatedAt: meta.updatedAt.toISOString(), updatedBy: meta.updatedBy } as Documents[K];
}

export function careDocumentRowToDocument<K extends CareDocumentKind>(kind: K, row: repo.CareDocumentRow): Documents[K] {
  return toDocument(kind, row.person_id, row.content as StoredContent, {
    version: row.version,
    updatedAt: row.updated_at,
    updatedBy: { name: row.changed_by_name, role: row.changed_by_role, memberId: row.changed_by_member_id },
  });
}

const updatedByOf = (actor: AuditActor) => ({ name: actor.name ?? null, role: actor.role, memberId: actor.memberId ?? null });

export function createCareDocumentsService({ db, clock, reads }: { db: Kysely<DB>; clock: Clock; reads: ReadJournal }) {
  const journal = (ctx: RequestContext, now: Date) => ({ requestId: ctx.requestId, now });

  return {
    async get<K extends CareDocumentKind>(ctx: RequestContext, kind: K, personId: string): Promise<Documents[K]> {
      const now = clock();
      return reads.read(journal(ctx, now), async (reader, audit) => {
        const granted = await requireAccess(reader, ctx.actor, personId, { kind: 'read', category: kind }, now);
        const row = await repo.findCareDocument(reader, personId, kind);
        if (!row) throw notFound(KINDS[kind].missing);
        audit(granted.context, [{ personId, actor: granted.auditActor, action: 'read', resourceType: kind, resourceId: personId }]);
        return careDocumentRowToDocument(kind, row);
      });
    },

    /**
     * Replaces the document with a new version. The first version may be written without
     * If-Match; once one exists If-Match is required. An If-Match (even `*`) on a document that
     * does not exist yet fails: the caller believes in a version that is not there.
     */
    async put<K extends CareDocumentKind>(
      ctx: RequestContext,
      kind: K,
      personId: string,
      input: Contents[K],
      ifMatch: number | '*' | undefined,
    ): Promise<{ document: Documents[K]; created: boolean }> {
      const now = clock();
      return inTransaction(db, async (trx) => {
        const granted = await requireAccess(trx, ctx.actor, personId, { kind: 'write', category: kind }, now);
        const content = normalise(kind, input);
        const meta = { content, updatedBySub: ctx.actor.sub, updatedAt: now };
        const current = await repo.lockCareDocument(trx, personId, kind);

        let version: number;
        let fields: string[];
        if (!current) {
          if (ifMatch !== undefined) throw preconditionFailed(`${KINDS[kind].missing} Send the first version without If-Match.`);
          const inserted = await repo.insertCareDocument(trx, { personId, kind, ...meta });
          // A concurrent first version won: from now on this change needs the current version.
          if (!inserted) throw preconditionRequired('A version was written meanwhile; read it and send If-Match with its version.');
          version = 1;
          fields = [...KINDS[kind].fields];
        } else {
          checkIfMatch(ifMatch, current.version, true);
          const next = await repo.updateCareDocument(trx, personId, kind, current.version, meta);
          if (next === undefined) throw preconditionFailed();
          version = next;
          fields = changedFields(current.content as Record<string, unknown>, content as Record<string, unknown>, [...KINDS[kind].fields]);
        }

        const document = toDocument(kind, personId, content, { version, updatedAt: now, updatedBy: updatedByOf(granted.auditActor) });
        await recordVersion(trx, { personId, resourceType: kind, resourceId: personId, version, snapshot: document, changedFields: fields, actor: granted.auditActor, at: now });
        await appendJournal(
          trx,
          journal(ctx, now),
          [{ personId, actor: granted.auditActor, action: version === 1 ? 'create' : 'update', resourceType: kind, resourceId: personId }],
          // Thin on purpose: never the wishes or the plan's lines, only which version to fetch.
          [{ personId, type: KINDS[kind].event, data: { resourceType: kind, resourceId: personId, version } }],
        );
        return { document, created: version === 1 };
      });
    },

    async versions<K extends CareDocumentKind>(ctx: RequestContext, kind: K, personId: string, query: { limit: number; cursor?: string }) {
      const after = decodeCursor(query.cursor, VersionCursor);
      const now = clock();
      return reads.read(journal(ctx, now), async (reader, audit) => {
        const granted = await requireAccess(reader, ctx.actor, personId, { kind: 'read', category: kind }, now);
        const rows = await listVersions(reader, personId, kind, personId, { afterVersion: after?.v, limit: query.limit + 1 });
        audit(granted.context, [{ personId, actor: granted.auditActor, action: 'list', resourceType: `${kind}_history`, resourceId: personId }]);
        return toPage(rows, query.limit, (r) => ({ v: r.version }), (r) => versionRowToHistoryItem<Documents[K]>(r));
      });
    },

    async version<K extends CareDocumentKind>(ctx: RequestContext, kind: K, personId: string, version: number): Promise<Documents[K]> {
      const now = clock();
      return reads.read(journal(ctx, now), async (reader, audit) => {
        const granted = await requireAccess(reader, ctx.actor, personId, { kind: 'read', category: kind }, now);
        const row = await findVersion(reader, personId, kind, personId, version);
        if (!row) throw notFound('No such version.');
        audit(granted.context, [{ personId, actor: granted.auditActor, action: 'read', resourceType: `${kind}_history`, resourceId: personId }]);
        return row.snapshot as Documents[K];
      });
    },
  };
}

export type CareDocumentsService = ReturnType<typeof createCareDocumentsService>;
