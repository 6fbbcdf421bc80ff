// Versioned notes: team members cannot change each other's notes, nothing added is ever lost,
// every version stays readable, every entry is dated and attributed. Only the author revises
// or retracts; what a caller reads follows the note's visibility, decided by the access policy.
import type { Kysely } from 'kysely';
import { z } from 'zod';
import type { DB } from '../../db/types.js';
import { inTransaction } from '../../db/transaction.js';
import type { Clock, RequestContext } from '../../lib/context.js';
import { decodeCursor, toPage } from '../../lib/cursor.js';
import { conflict, forbidden, notFound, preconditionFailed, unprocessable } from '../../lib/errors.js';
import { newId } from '../../lib/ids.js';
import { checkIfMatch } from '../../lib/versioning.js';
import { noteFilter, relationCanRead, type NoteFilter } from '../access/access.policy.js';
import { loadAccessContext } from '../access/access.repository.js';
import { enforce } from '../access/access.service.js';
import type { AccessContext } from '../access/access.types.js';
import { appendJournal, appendJournalWhereHeadStands } from '../journal/journal.repository.js';
import type { AuditRecord, EventRecord } from '../journal/journal.types.js';
import { findMembers } from '../team/team.repository.js';
import { memberRowToRelation } from '../team/team.service.js';
import * as repo from './notes.repository.js';
import type { Note, NoteCreate, NoteRevision, NoteVersion } from './notes.schemas.js';
import type { ReadJournal } from '../journal/read-journal.js';

const IdCursor = z.object({ id: z.uuid() });
const VersionCursor = z.object({ v: z.number().int() });

export function noteRowToNote(row: repo.NoteRow): Note {
  return {
    id: row.note_id,
    noteId: row.note_id,
    personId: row.person_id,
    version: row.version,
    body: row.retracted_at === null ? row.body : null,
    phase: row.phase as Note['phase'],
    visibility: row.visibility as Note['visibility'],
    visibleTo: row.visible_to,
    about: row.about_type && row.about_id ? { type: row.about_type as 'life_goal' | 'care_goal' | 'task', id: row.about_id } : null,
    author: { name: row.member_display_name ?? row.author_name, role: row.author_role, memberId: row.author_member_id },
    retracted: row.retracted_at !== null,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

const versionRowToNoteVersion = (row: Awaited<ReturnType<typeof repo.listVersions>>[number]): NoteVersion => ({
  noteId: row.note_id,
  version: row.version,
  body: row.body,
  phase: row.phase as NoteVersion['phase'],
  retracted: row.retracted,
  createdAt: row.created_at.toISOString(),
});

const noteEvent = (type: EventRecord['type'], row: { person_id: string; note_id: string; phase: string; visibility: string; visible_to: string[]; author_member_id: string | null }, version: number): EventRecord => ({
  personId: row.person_id,
  type,
  // Who may receive it is decided at delivery from the visibility; never the body.
  data: {
    resourceType: 'note',
    resourceId: row.note_id,
    version,
    phase: row.phase,
    visibility: row.visibility,
    visibleTo: row.visible_to,
    authorMemberId: row.author_member_id,
  },
});

function activeMemberId(context: AccessContext): string | null {
  for (const r of context.relations) if (r.kind === 'member' && r.endedAt === null) return r.memberId;
  return null;
}

export function createNotesService({ db, clock, reads, noteBodyMaxBytes }: { db: Kysely<DB>; clock: Clock; reads: ReadJournal; noteBodyMaxBytes: number }) {
  const journal = (ctx: RequestContext, now: Date) => ({ requestId: ctx.requestId, now });

  function checkBodySize(body: string) {
    if (Buffer.byteLength(body, 'utf8') > noteBodyMaxBytes) {
      throw unprocessable(`A note body holds at most ${noteBodyMaxBytes} bytes.`, [{ path: 'body', message: 'too long' }]);
    }
  }

  /** Loads the caller's note filter; 404 without relation, 403 when they may read no note at all. */
  async function readFilter(trx: Kysely<DB>, ctx: RequestContext, personId: string, now: Date) {
    const context = await loadAccessContext(trx, ctx.actor, personId, now);
    const filter = noteFilter(context);
    if (!filter) enforce(context, { kind: 'read', category: 'notes' }); // throws 404 or 403
    const granted = enforce(context, filter!.kind === 'own' ? { kind: 'read_own_notes' } : { kind: 'read', category: 'notes' });
    return { context, filter: filter!, granted };
  }

  async function requireVisible(trx: Kysely<DB>, personId: string, noteId: string, filter: NoteFilter) {
    const row = await repo.findNote(trx, personId, noteId, filter);
    if (!row) throw notFound('No such note.');
    return row;
  }

  /** The author revises or retracts: they need notes:write now, and must be the author. */
  async function requireAuthor(trx: Kysely<DB>, ctx: RequestContext, personId: string, noteId: string, now: Date) {
    const { context, filter } = await readFilter(trx, ctx, personId, now);
    const row = await requireVisible(trx, personId, noteId, filter);
    if (row.author_sub !== ctx.actor.sub) throw forbidden('Only the author of a note may revise or retract it.');
    const granted = enforce(context, { kind: 'write', category: 'notes' });
    if (row.retracted_at !== null) throw conflict('This note was retracted; its versions stay readable.');
    return { row, granted };
  }

  async function checkRecipients(trx: Kysely<DB>, personId: string, memberIds: string[], now: Date) {
    const rows = await findMembers(trx, personId, memberIds);
    const byId = new Map(rows.map((r) => [r.member_id, r]));
    const bad = memberIds
      .map((id, i) => ({ id, i }))
      .filter(({ id }) => {
        const row = byId.get(id);
        return !row || row.status !== 'active' || !relationCanRead(memberRowToRelation(row), 'notes', now);
      });
    if (bad.length > 0) {
      throw unprocessable(
        'A note is addressed to active members who can read notes.',
        bad.map(({ i }) => ({ path: `visibleTo.${i}`, message: 'not an active member with notes access' })),
      );
    }
  }

  function authorOf(context: AccessContext, granted: ReturnType<typeof enforce>) {
    return {
      author_sub: context.actor.sub,
      author_name: context.actor.name ?? null,
      author_role: granted.auditActor.role,
      author_member_id: granted.auditActor.memberId ?? null,
    };
  }

  return {
    async create(ctx: RequestContext, personId: string, input: NoteCreate): Promise<Note> {
      checkBodySize(input.body);
      const visibility = input.visibility ?? 'team';
      const visibleTo = [...new Set(input.visibleTo ?? [])];
      if (visibility === 'members' && visibleTo.length === 0) {
        throw unprocessable('A note for members lists them in visibleTo.', [{ path: 'visibleTo', message: 'required for visibility members' }]);
      }
      if (visibility !== 'members' && visibleTo.length > 0) {
        throw unprocessable('visibleTo is only for visibility members.', [{ path: 'visibleTo', message: 'only with visibility members' }]);
      }
      const now = clock();
      /** Decides and checks the note (on `q`: the pool, or the transaction under locks). */
      const prepare = async (q: Kysely<DB>, context: AccessContext) => {
        const granted = enforce(context, { kind: 'write', category: 'notes' });
        await checkRecipients(q, personId, visibleTo, now);
        if (input.about && !(await repo.aboutExists(q, personId, input.about))) {
          throw unprocessable('The note is about something that does not exist in this plan.', [{ path: 'about.id', message: 'not found in this plan' }]);
        }
        // A steward writes through the steward relation but is also a member: the note is
        // attributed to the membership so that visibility and "own notes" follow it.
        const memberId = granted.auditActor.memberId ?? activeMemberId(context);
        const noteId = newId();
        const values = {
          person_id: personId,
          note_id: noteId,
          phase: input.phase,
          visibility,
          visible_to: visibleTo,
          about_type: input.about?.type ?? null,
          about_id: input.about?.id ?? null,
          ...authorOf(context, granted),
          author_member_id: memberId,
          created_at: now,
          updated_at: now,
        };
        const audit: AuditRecord[] = [{ personId, actor: granted.auditActor, action: 'create', resourceType: 'note', resourceId: noteId }];
        return { values, audit, events: [noteEvent('note.created', values, 1)] };
      };

      // Decided without locks and written in one statement, unless the plan's journal head or
      // access moved in between (appendJournalWhereHeadStands); then under locks, as before.
      const context = await loadAccessContext(db, ctx.actor, personId, now);
      const first = await prepare(db, context);
      const head = context.journalHead;
      if (head && context.accessVersion !== undefined) {
        const seen = { personId, seq: head.seq, hash: head.hash, eventSeq: head.eventSeq, accessVersion: context.accessVersion };
        const row = await appendJournalWhereHeadStands<repo.NoteRow>(
          db,
          seen,
          journal(ctx, now),
          first.audit,
          first.events,
          repo.insertNoteWhereHeadStands(first.values, input.body),
        );
        if (row) return noteRowToNote(row);
      }
      return inTransaction(db, async (trx) => {
        const locked = await loadAccessContext(trx, ctx.actor, personId, now);
        const { values, audit, events } = await prepare(trx, locked);
        const row = await repo.insertNote(trx, values, input.body);
        await appendJournal(trx, journal(ctx, now), audit, events);
        return noteRowToNote(row);
      });
    },

    async list(ctx: RequestContext, personId: string, query: { limit: number; cursor?: string; phase?: string; since?: string }) {
      const before = decodeCursor(query.cursor, IdCursor);
      const now = clock();
      return reads.read(journal(ctx, now), async (reader, audit) => {
        const { filter, granted } = await readFilter(reader, ctx, personId, now);
        const rows = await repo.listNotes(reader, personId, filter, {
          phase: query.phase,
          since: query.since ? new Date(query.since) : undefined,
          beforeId: before?.id,
          limit: query.limit + 1,
        });
        audit(granted.context, [{ personId, actor: granted.auditActor, action: 'list', resourceType: 'note' }]);
        return toPage(rows, query.limit, (r) => ({ id: r.note_id }), noteRowToNote);
      });
    },

    async get(ctx: RequestContext, personId: string, noteId: string): Promise<Note> {
      const now = clock();
      return reads.read(journal(ctx, now), async (reader, audit) => {
        const { filter, granted } = await readFilter(reader, ctx, personId, now);
        const row = await requireVisible(reader, personId, noteId, filter);
        audit(granted.context, [{ personId, actor: granted.auditActor, action: 'read', resourceType: 'note', resourceId: noteId }]);
        return noteRowToNote(row);
      });
    },

    async revise(ctx: RequestContext, personId: string, noteId: string, input: NoteRevision, ifMatch: number | '*' | undefined): Promise<Note> {
      checkBodySize(input.body);
      const now = clock();
      return inTransaction(db, async (trx) => {
        const { row, granted } = await requireAuthor(trx, ctx, personId, noteId, now);
        checkIfMatch(ifMatch, row.version, true);
        const phase = input.phase ?? row.phase;
        const version = await repo.appendVersion(trx, { personId, noteId, expectedVersion: row.version }, { body: input.body, phase, retracted: false, at: now });
        if (version === undefined) throw preconditionFailed('The note changed meanwhile; read it again and revise its latest version.');
        await appendJournal(
          trx,
          journal(ctx, now),
          [{ personId, actor: granted.auditActor, action: 'update', resourceType: 'note', resourceId: noteId }],
          [noteEvent('note.revised', { ...row, phase }, version)],
        );
        const updated = await repo.findNote(trx, personId, noteId, { kind: 'own', memberIds: [], sub: ctx.actor.sub });
        return noteRowToNote(updated!);
      });
    },

    async retract(ctx: RequestContext, personId: string, noteId: string, ifMatch: number | '*' | undefined): Promise<Note> {
      const now = clock();
      return inTransaction(db, async (trx) => {
        const { row, granted } = await requireAuthor(trx, ctx, personId, noteId, now);
        checkIfMatch(ifMatch, row.version, true);
        const version = await repo.appendVersion(trx, { personId, noteId, expectedVersion: row.version }, { body: null, phase: row.phase, retracted: true, at: now });
        if (version === undefined) throw preconditionFailed('The note changed meanwhile; read it again first.');
        await appendJournal(
          trx,
          journal(ctx, now),
          [{ personId, actor: granted.auditActor, action: 'delete', resourceType: 'note', resourceId: noteId }],
          [noteEvent('note.retracted', row, version)],
        );
        const updated = await repo.findNote(trx, personId, noteId, { kind: 'own', memberIds: [], sub: ctx.actor.sub });
        return noteRowToNote(updated!);
      });
    },

    async versions(ctx: RequestContext, personId: string, noteId: string, query: { limit: number; cursor?: string }) {
      const after = decodeCursor(query.cursor, VersionCursor);
      const now = clock();
      return reads.read(journal(ctx, now), async (reader, audit) => {
        const { filter, granted } = await readFilter(reader, ctx, personId, now);
        await requireVisible(reader, personId, noteId, filter);
        const rows = await repo.listVersions(reader, personId, noteId, { afterVersion: after?.v, limit: query.limit + 1 });
        audit(granted.context, [{ personId, actor: granted.auditActor, action: 'read', resourceType: 'note_versions', resourceId: noteId }]);
        return toPage(rows, query.limit, (r) => ({ v: r.version }), versionRowToNoteVersion);
      });
    },

    async version(ctx: RequestContext, personId: string, noteId: string, version: number): Promise<NoteVersion> {
      const now = clock();
      return reads.read(journal(ctx, now), async (reader, audit) => {
        const { filter, granted } = await readFilter(reader, ctx, personId, now);
        await requireVisible(reader, personId, noteId, filter);
        const row = await repo.findVersion(reader, personId, noteId, version);
        if (!row) throw notFound('No such version of this note.');
        audit(granted.context, [{ personId, actor: granted.auditActor, action: 'read', resourceType: 'note_version', resourceId: noteId }]);
        return versionRowToNoteVersion(row);
      });
    },
  };
}

export type NotesService = ReturnType<typeof createNotesService>;
