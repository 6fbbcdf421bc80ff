// Meetings of the care team: booking, rescheduling and cancelling, every change a new version.
import type { Kysely } from 'kysely';
import { z } from 'zod';
import type { DB } from '../../db/types.js';
import { inTransaction } from '../../db/transaction.js';
import type { Clock, RequestContext } from '../../lib/context.js';
import { decodeCursor, toPage } from '../../lib/cursor.js';
import { badRequest, conflict, notFound, preconditionFailed, unprocessable, type FieldError } from '../../lib/errors.js';
import { newId } from '../../lib/ids.js';
import { checkIfMatch } from '../../lib/versioning.js';
import { relationCanRead } from '../access/access.policy.js';
import { requireAccess } from '../access/access.service.js';
import { listVersions, recordVersion } from '../history/history.repository.js';
import { changedFields, versionRowToHistoryItem } from '../history/history.schemas.js';
import { appendJournal } from '../journal/journal.repository.js';
import type { EventData } from '../journal/journal.types.js';
import { findMembers } from '../team/team.repository.js';
import { memberRowToRelation } from '../team/team.service.js';
import * as repo from './meetings.repository.js';
import type { Meeting, MeetingCreate, MeetingUpdate } from './meetings.schemas.js';
import type { ReadJournal } from '../journal/read-journal.js';

const PageCursor = z.object({ s: z.iso.datetime(), id: z.uuid() });
const VersionCursor = z.object({ v: z.number().int() });
const MEETING_FIELDS = ['title', 'startsAt', 'endsAt', 'videoUrl', 'location', 'agenda', 'participantMemberIds', 'status'];

export function meetingRowToMeeting(row: repo.MeetingRow): Meeting {
  return {
    id: row.meeting_id,
    meetingId: row.meeting_id,
    personId: row.person_id,
    title: row.title,
    startsAt: row.starts_at.toISOString(),
    endsAt: row.ends_at.toISOString(),
    videoUrl: row.video_url,
    location: row.location,
    agenda: row.agenda,
    participantMemberIds: row.participant_member_ids,
    status: row.status as Meeting['status'],
    version: row.version,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

/** What an event may say about a meeting: times, state and member ids; no title, agenda or location. */
function eventData(meeting: Meeting, changed?: string[]): EventData {
  return {
    resourceType: 'meeting',
    resourceId: meeting.id,
    version: meeting.version,
    status: meeting.status,
    startsAt: meeting.startsAt,
    endsAt: meeting.endsAt,
    participantMemberIds: meeting.participantMemberIds,
    changed,
  };
}

/** The rules a meeting must satisfy as a whole (checked on the merged result of a change). */
function shapeErrors(m: { startsAt: Date; endsAt: Date; videoUrl: string | null; location: string | null }): FieldError[] {
  const errors: FieldError[] = [];
  if (m.endsAt.getTime() <= m.startsAt.getTime()) errors.push({ path: 'endsAt', message: 'must be after startsAt' });
  if (m.videoUrl === null && m.location === null) {
    errors.push({ path: 'location', message: 'a meeting needs a location or a videoUrl' });
    errors.push({ path: 'videoUrl', message: 'a meeting needs a location or a videoUrl' });
  }
  return errors;
}

export function createMeetingsService({ db, clock, reads }: { db: Kysely<DB>; clock: Clock; reads: ReadJournal }) {
  const journal = (ctx: RequestContext, now: Date) => ({ requestId: ctx.requestId, now });

  /**
   * Every participant must be an active member of this person's team who can read meetings now.
   * Unknown ids, other persons' members and members without access get the same answer, so the
   * check reveals nothing about other plans.
   */
  async function participantErrors(trx: Kysely<DB>, personId: string, ids: string[], now: Date): Promise<FieldError[]> {
    const rows = new Map((await findMembers(trx, personId, ids)).map((r) => [r.member_id, r]));
    return ids.flatMap((id, i) => {
      const row = rows.get(id);
      const ok = row !== undefined && row.status === 'active' && relationCanRead(memberRowToRelation(row), 'meetings', now);
      return ok ? [] : [{ path: `participantMemberIds.${i}`, message: 'not an active team member with access to meetings' }];
    });
  }

  return {
    async create(ctx: RequestContext, personId: string, input: MeetingCreate): Promise<Meeting> {
      const now = clock();
      return inTransaction(db, async (trx) => {
        const granted = await requireAccess(trx, ctx.actor, personId, { kind: 'write', category: 'meetings' }, now);
        const values = {
          startsAt: new Date(input.startsAt),
          endsAt: new Date(input.endsAt),
          videoUrl: input.videoUrl ?? null,
          location: input.location ?? null,
        };
        const errors = [...shapeErrors(values), ...(await participantErrors(trx, personId, input.participantMemberIds, now))];
        if (errors.length > 0) throw unprocessable('The meeting cannot be scheduled as sent.', errors);
        const row = await repo.insertMeeting(trx, {
          person_id: personId,
          meeting_id: newId(),
          title: input.title,
          starts_at: values.startsAt,
          ends_at: values.endsAt,
          video_url: values.videoUrl,
          location: values.location,
          agenda: input.agenda ?? null,
          participant_member_ids: input.participantMemberIds,
          status: 'scheduled',
          created_by_sub: ctx.actor.sub,
          created_at: now,
          updated_at: now,
        });
        const meeting = meetingRowToMeeting(row);
        await recordVersion(trx, { personId, resourceType: 'meeting', resourceId: meeting.id, version: 1, snapshot: meeting, changedFields: MEETING_FIELDS, actor: granted.auditActor, at: now });
        await appendJournal(
          trx,
          journal(ctx, now),
          [{ personId, actor: granted.auditActor, action: 'create', resourceType: 'meeting', resourceId: meeting.id }],
          [{ personId, type: 'meeting.scheduled', data: eventData(meeting) }],
        );
        return meeting;
      });
    },

    async list(ctx: RequestContext, personId: string, query: { limit: number; cursor?: string; from?: string; to?: string; status?: string }) {
      const after = decodeCursor(query.cursor, PageCursor);
      const from = query.from === undefined ? undefined : new Date(query.from);
      const to = query.to === undefined ? undefined : new Date(query.to);
      if (from && to && to.getTime() <= from.getTime()) throw badRequest('to must be after from.', [{ path: 'querystring.to', message: 'must be after from' }]);
      const now = clock();
      return reads.read(journal(ctx, now), async (reader, audit) => {
        const granted = await requireAccess(reader, ctx.actor, personId, { kind: 'read', category: 'meetings' }, now);
        const rows = await repo.listMeetings(reader, personId, {
          from,
          to,
          status: query.status,
          after: after && { startsAt: new Date(after.s), id: after.id },
          limit: query.limit + 1,
        });
        audit(granted.context, [{ personId, actor: granted.auditActor, action: 'list', resourceType: 'meeting' }]);
        return toPage(rows, query.limit, (r) => ({ s: r.starts_at.toISOString(), id: r.meeting_id }), meetingRowToMeeting);
      });
    },

    async get(ctx: RequestContext, personId: string, id: string): Promise<Meeting> {
      const now = clock();
      return reads.read(journal(ctx, now), async (reader, audit) => {
        const granted = await requireAccess(reader, ctx.actor, personId, { kind: 'read', category: 'meetings' }, now);
        const row = await repo.findMeeting(reader, personId, id);
        if (!row) throw notFound('No such meeting.');
        audit(granted.context, [{ personId, actor: granted.auditActor, action: 'read', resourceType: 'meeting', resourceId: id }]);
        return meetingRowToMeeting(row);
      });
    },

    /** Reschedules, changes or cancels; If-Match is honoured when sent but not required. */
    async update(ctx: RequestContext, personId: string, id: string, input: MeetingUpdate, ifMatch: number | '*' | undefined): Promise<Meeting> {
      const now = clock();
      return inTransaction(db, async (trx) => {
        const granted = await requireAccess(trx, ctx.actor, personId, { kind: 'write', category: 'meetings' }, now);
        const current = await repo.findMeeting(trx, personId, id, true);
        if (!current) throw notFound('No such meeting.');
        checkIfMatch(ifMatch, current.version, false);
        // A cancelled meeting stays as it was: book a new one instead of reviving it.
        if (current.status === 'cancelled') throw conflict('This meeting was cancelled; it can no longer be changed.');

        const merged = {
          startsAt: input.startsAt !== undefined ? new Date(input.startsAt) : current.starts_at,
          endsAt: input.endsAt !== undefined ? new Date(input.endsAt) : current.ends_at,
          videoUrl: input.videoUrl !== undefined ? input.videoUrl : current.video_url,
          location: input.location !== undefined ? input.location : current.location,
        };
        const errors = [
          ...shapeErrors(merged),
          ...(input.participantMemberIds ? await participantErrors(trx, personId, input.participantMemberIds, now) : []),
        ];
        if (errors.length > 0) throw unprocessable('The meeting cannot be changed as sent.', errors);

        const before = meetingRowToMeeting(current);
        const candidate: Meeting = {
          ...before,
          title: input.title ?? before.title,
          startsAt: merged.startsAt.toISOString(),
          endsAt: merged.endsAt.toISOString(),
          videoUrl: merged.videoUrl,
          location: merged.location,
          agenda: input.agenda !== undefined ? input.agenda : before.agenda,
          participantMemberIds: input.participantMemberIds ?? before.participantMemberIds,
          status: input.status ?? before.status,
        };
        const fields = changedFields(before, candidate, MEETING_FIELDS);
        if (fields.length === 0) {
          // Nothing changed: no new version and no event; the answer still shows the meeting.
          await appendJournal(trx, journal(ctx, now), [{ personId, actor: granted.auditActor, action: 'read', resourceType: 'meeting', resourceId: id }]);
          return before;
        }

        const row = await repo.updateMeeting(trx, personId, id, current.version, {
          title: candidate.title,
          starts_at: merged.startsAt,
          ends_at: merged.endsAt,
          video_url: candidate.videoUrl,
          location: candidate.location,
          agenda: candidate.agenda,
          participant_member_ids: candidate.participantMemberIds,
          status: candidate.status,
          updated_at: now,
        });
        if (!row) throw preconditionFailed();
        const meeting = meetingRowToMeeting(row);
        await recordVersion(trx, { personId, resourceType: 'meeting', resourceId: id, version: meeting.version, snapshot: meeting, changedFields: fields, actor: granted.auditActor, at: now });
        await appendJournal(
          trx,
          journal(ctx, now),
          [{ personId, actor: granted.auditActor, action: 'update', resourceType: 'meeting', resourceId: id }],
          [{ personId, type: 'meeting.updated', data: eventData(meeting, fields) }],
        );
        return meeting;
      });
    },

    async history(ctx: RequestContext, personId: string, id: string, query: { limit: number; cursor?: string }) {
      const after = decodeCursor(query.cursor, VersionCursor);
      const now = clock();
      return reads.read(journal(ctx, now), async (reader, audit) => {
        const granted = await requireAccess(reader, ctx.actor, personId, { kind: 'read', category: 'meetings' }, now);
        const rows = await listVersions(reader, personId, 'meeting', id, { afterVersion: after?.v, limit: query.limit + 1 });
        if (rows.length === 0 && after === undefined) throw notFound('No such meeting.');
        audit(granted.context, [{ personId, actor: granted.auditActor, action: 'read', resourceType: 'meeting_history', resourceId: id }]);
        return toPage(rows, query.limit, (r) => ({ v: r.version }), (r) => versionRowToHistoryItem<Meeting>(r));
      });
    },
  };
}

export type MeetingsService = ReturnType<typeof createMeetingsService>;
