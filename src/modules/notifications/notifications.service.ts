// The caller's notification inbox: listed only while the caller may still receive the event behind each entry.
import type { Kysely } from 'kysely';
import { z } from 'zod';
import type { DB } from '../../db/types.js';
import type { Clock, RequestContext } from '../../lib/context.js';
import { decodeCursor, encodeCursor } from '../../lib/cursor.js';
import { notFound } from '../../lib/errors.js';
import { mayReceiveEvent } from '../access/access.policy.js';
import { loadAccessContexts } from '../access/access.repository.js';
import type { Actor } from '../access/access.types.js';
import { eventRowToEvent, type EventRow } from '../events/events.repository.js';
import type { NotificationReason } from './notifications.fanout.js';
import * as repo from './notifications.repository.js';
import type { Notification, NotificationsQuery } from './notifications.schemas.js';

const IdCursor = z.object({ id: z.uuid() });
/** How many pages' worth of rows one answer may scan to fill itself after the consent filter. */
const SCAN_FACTOR = 5;

export function notificationRowToNotification(row: repo.NotificationRow, event: EventRow): Notification {
  return {
    id: row.notification_id,
    type: row.type as Notification['type'],
    personId: row.person_id,
    eventId: row.event_id,
    reason: row.reason as NotificationReason,
    createdAt: row.created_at.toISOString(),
    readAt: row.read_at?.toISOString() ?? null,
    event: eventRowToEvent(event),
  };
}

/**
 * The events behind the rows that the caller may still receive now, by event id: one query for the
 * events and one for the caller's access to every person on the page. Consent is decided at read
 * time, so a revoked member keeps only what is about their own membership (e.g. grant.revoked).
 */
async function receivableEvents(db: Kysely<DB>, actor: Actor, rows: repo.NotificationRow[], now: Date): Promise<Map<string, EventRow>> {
  const events = await repo.findEventsByIds(db, rows.map((r) => ({ personId: r.person_id, eventId: r.event_id })));
  const contexts = await loadAccessContexts(db, actor, [...new Set(events.map((e) => e.person_id))], now);
  const receivable = new Map<string, EventRow>();
  for (const event of events) {
    const context = contexts.get(event.person_id)!;
    if (mayReceiveEvent(context, { type: event.type, data: event.data as Record<string, unknown> })) receivable.set(event.event_id, event);
  }
  return receivable;
}

export function createNotificationsService({ db, clock }: { db: Kysely<DB>; clock: Clock }) {
  return {
    async list(ctx: RequestContext, query: NotificationsQuery): Promise<{ items: Notification[]; nextCursor: string | null }> {
      const now = clock();
      const unread = query.unread === 'true';
      let beforeId = decodeCursor(query.cursor, IdCursor)?.id;
      const items: Notification[] = [];
      let hasMore = true;
      let scanned = 0;
      while (items.length < query.limit && hasMore && scanned < query.limit * SCAN_FACTOR) {
        const rows = await repo.listNotifications(db, ctx.actor.sub, { unread, beforeId, limit: query.limit + 1 });
        const receivable = await receivableEvents(db, ctx.actor, rows, now);
        hasMore = rows.length > query.limit;
        for (const row of rows) {
          if (items.length === query.limit) {
            hasMore = true;
            break;
          }
          scanned += 1;
          beforeId = row.notification_id;
          const event = receivable.get(row.event_id);
          if (event) items.push(notificationRowToNotification(row, event));
        }
      }
      return { items, nextCursor: hasMore && beforeId !== undefined ? encodeCursor({ id: beforeId }) : null };
    },

    async markRead(ctx: RequestContext, id: string): Promise<Notification> {
      const now = clock();
      const row = await repo.findNotification(db, ctx.actor.sub, id);
      // Someone else's notification, or one about a plan the caller may no longer see: the same 404.
      const event = row ? (await receivableEvents(db, ctx.actor, [row], now)).get(row.event_id) : undefined;
      if (!row || !event) throw notFound('No such notification.');
      const updated = await repo.markRead(db, ctx.actor.sub, id, now);
      return notificationRowToNotification(updated ?? row, event);
    },

    async markAllRead(ctx: RequestContext): Promise<{ updated: number }> {
      return { updated: await repo.markAllRead(db, ctx.actor.sub, clock()) };
    },
  };
}

export type NotificationsService = ReturnType<typeof createNotificationsService>;
