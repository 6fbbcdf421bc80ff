// Shapes of the notification inbox: what concerns the caller, as thin references to events.
import { z } from 'zod';
import { PageQuery, Timestamp, Uuid } from '../../http/schemas.js';
import { EventType, KringEvent } from '../events/events.schemas.js';
import { NOTIFICATION_REASONS } from './notifications.fanout.js';

export const NotificationReason = z
  .enum(NOTIFICATION_REASONS)
  .meta({ id: 'NotificationReason', description: 'Why this concerns the caller (see "Notifications and the live stream" in the README).' });

export const Notification = z
  .object({
    id: z.uuid(),
    type: EventType,
    personId: z.uuid(),
    eventId: z.uuid(),
    reason: NotificationReason,
    createdAt: Timestamp,
    readAt: Timestamp.nullable(),
    event: KringEvent.meta({ description: 'The thin event itself: read the resource with your own token for its content.' }),
  })
  .meta({ id: 'Notification' });
export type Notification = z.infer<typeof Notification>;

export const NotificationsQuery = PageQuery.extend({
  unread: z.enum(['true', 'false']).optional().meta({ description: 'unread=true lists only notifications not yet marked read.' }),
});
export type NotificationsQuery = z.infer<typeof NotificationsQuery>;

export const NotificationParams = z.object({ notificationId: Uuid });

export const NotificationPage = z
  .object({ items: z.array(Notification), nextCursor: z.string().nullable() })
  .meta({ id: 'NotificationPage' });

export const NotificationsMarkedRead = z
  .object({ updated: z.number().int().meta({ description: 'How many notifications were unread and are now read.' }) })
  .meta({ id: 'NotificationsMarkedRead' });
