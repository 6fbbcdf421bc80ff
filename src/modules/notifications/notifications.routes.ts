// HTTP routes of the caller's notification inbox.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { requestContext } from '../../http/request-context.js';
import { problemResponses } from '../../http/schemas.js';
import { Notification, NotificationPage, NotificationParams, NotificationsMarkedRead, NotificationsQuery } from './notifications.schemas.js';
import type { NotificationsService } from './notifications.service.js';

const security = [{ bearerAuth: [] }];
const tags = ['Notifications'];

export const notificationsRoutes: FastifyPluginAsyncZod<{ notifications: NotificationsService }> = async (app, { notifications }) => {
  app.get('/v1/me/notifications', {
    schema: {
      operationId: 'listMyNotifications',
      summary: 'What concerns the caller, newest first',
      description:
        'A task assigned to the caller, an acute note in a plan they are in, their own access changed, a meeting they are ' +
        'invited to (or that moved or was cancelled), emergency access to their own plan, and more (see `reason`). ' +
        'Listed only while the caller may still receive the event behind it; never their own actions.',
      tags,
      security,
      querystring: NotificationsQuery,
      response: { 200: NotificationPage, ...problemResponses(400, 401, 429) },
    },
    handler: async (request) => notifications.list(requestContext(request), request.query),
  });

  app.post('/v1/me/notifications/:notificationId/read', {
    schema: {
      operationId: 'markNotificationRead',
      summary: 'Mark a notification as read',
      description: 'Idempotent: marking it again keeps the first readAt. Another caller\'s notification: 404.',
      tags,
      security,
      params: NotificationParams,
      response: { 200: Notification, ...problemResponses(400, 401, 404, 429) },
    },
    handler: async (request) => notifications.markRead(requestContext(request), request.params.notificationId),
  });

  app.post('/v1/me/notifications/read-all', {
    schema: {
      operationId: 'markAllNotificationsRead',
      summary: 'Mark every unread notification as read',
      tags,
      security,
      response: { 200: NotificationsMarkedRead, ...problemResponses(401, 429) },
    },
    handler: async (request) => notifications.markAllRead(requestContext(request)),
  });
};
