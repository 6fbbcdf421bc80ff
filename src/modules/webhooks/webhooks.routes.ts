// HTTP routes of webhook subscriptions, their deliveries and replay.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { requestContext } from '../../http/request-context.js';
import { page, problemResponses } from '../../http/schemas.js';
import {
  DeliveriesQuery,
  ReplayAccepted,
  ReplayRequest,
  Subscription,
  SubscriptionCreate,
  SubscriptionCreated,
  SubscriptionParams,
  SubscriptionsQuery,
  WebhookDelivery,
} from './webhooks.schemas.js';
import type { WebhooksService } from './webhooks.service.js';

const security = [{ bearerAuth: [] }];
const tags = ['Webhooks'];

const DELIVERY_DESCRIPTION =
  'Each event is POSTed as JSON `{ id, type, occurredAt, personId, seq, eventNumber, data }` and signed per the Standard ' +
  'Webhooks specification: headers `webhook-id` (the event id, the same on every retry), `webhook-timestamp` (seconds) and ' +
  '`webhook-signature` (`v1,<base64 HMAC-SHA256 of "id.timestamp.body">` with the secret\'s base64 part). A 2xx answer ' +
  'acknowledges; anything else (redirects included), a refused connection or no answer within 10 s is retried with ' +
  'exponential back-off and jitter — about 5 s, 30 s, 2 min, 10 min, 30 min, 1 h, 2 h, 4 h, 8 h, 8 h — then the delivery is ' +
  'failed. A subscription whose deliveries have failed for more than 3 days is disabled and says why. `eventNumber` counts ' +
  'the events queued for the subscription without gaps: a jump means a delivery is missing — find it in the deliveries list. ' +
  'An event reaches the subscription only if its owner may read that category for that person when it is sent.';

export const webhooksRoutes: FastifyPluginAsyncZod<{ webhooks: WebhooksService }> = async (app, { webhooks }) => {
  app.post('/v1/subscriptions', {
    schema: {
      operationId: 'createSubscription',
      summary: 'Subscribe a URL to events; the signing secret is shown only in this answer',
      description:
        'With `personId`, only that person\'s events (the caller must be related to the person); without it, the events of ' +
        'every plan the caller may receive them for. The URL must use https and must not be a private, loopback or ' +
        'link-local address (422). ' +
        DELIVERY_DESCRIPTION,
      tags,
      security,
      body: SubscriptionCreate,
      response: { 201: SubscriptionCreated, ...problemResponses(400, 401, 404, 409, 422, 429) },
    },
    handler: async (request, reply) => {
      const created = await webhooks.create(requestContext(request), request.body);
      return reply.code(201).header('location', `/v1/subscriptions/${created.id}`).send(created);
    },
  });

  app.get('/v1/subscriptions', {
    schema: {
      operationId: 'listSubscriptions',
      summary: 'The caller\'s subscriptions (deleted ones left out; never the secret)',
      tags,
      security,
      querystring: SubscriptionsQuery,
      response: { 200: page(Subscription, 'SubscriptionPage'), ...problemResponses(400, 401, 429) },
    },
    handler: async (request) => webhooks.list(requestContext(request), request.query),
  });

  app.get('/v1/subscriptions/:subscriptionId', {
    schema: {
      operationId: 'getSubscription',
      summary: 'One of the caller\'s subscriptions',
      tags,
      security,
      params: SubscriptionParams,
      response: { 200: Subscription, ...problemResponses(400, 401, 404, 429) },
    },
    handler: async (request) => webhooks.get(requestContext(request), request.params.subscriptionId),
  });

  app.delete('/v1/subscriptions/:subscriptionId', {
    schema: {
      operationId: 'deleteSubscription',
      summary: 'Delete a subscription: nothing more is delivered',
      description: 'Answers the subscription with status `deleted`; its pending deliveries end as failed. Deleting again is harmless.',
      tags,
      security,
      params: SubscriptionParams,
      response: { 200: Subscription, ...problemResponses(400, 401, 404, 429) },
    },
    handler: async (request) => webhooks.remove(requestContext(request), request.params.subscriptionId),
  });

  app.get('/v1/subscriptions/:subscriptionId/deliveries', {
    schema: {
      operationId: 'listSubscriptionDeliveries',
      summary: 'The subscription\'s deliveries, newest first, with their attempts, status codes and timings',
      description:
        'Statuses: `pending` (queued or waiting for a retry at `nextAttemptAt`), `delivered` (acknowledged with a 2xx), ' +
        '`failed` (out of retries, or the subscription was disabled or deleted) and `skipped` (never sent: the owner could ' +
        'not receive the event when it was due). `event` is null when the caller may not receive that event now.',
      tags,
      security,
      params: SubscriptionParams,
      querystring: DeliveriesQuery,
      response: { 200: page(WebhookDelivery, 'WebhookDeliveryPage'), ...problemResponses(400, 401, 404, 429) },
    },
    handler: async (request) => webhooks.deliveries(requestContext(request), request.params.subscriptionId, request.query),
  });

  app.post('/v1/subscriptions/:subscriptionId/replay', {
    schema: {
      operationId: 'replaySubscription',
      summary: 'Send the subscription\'s deliveries again from an event number or a time on',
      description:
        'Queues again every delivery of this subscription with `eventNumber >= fromEventNumber` and/or whose event occurred at ' +
        'or after `since` (both given: both must hold), whatever its status, with a fresh retry schedule. Each keeps its ' +
        '`eventNumber` and `webhook-id`, so receivers can deduplicate; consent is checked again when it is sent. A disabled ' +
        'subscription becomes active again. Events the subscription never had a delivery for (before it existed, while it ' +
        'was disabled, or that its owner could not receive at the time) are not replayed: read them from the change feed. ' +
        'A deleted subscription cannot be replayed (409).',
      tags,
      security,
      params: SubscriptionParams,
      body: ReplayRequest,
      response: { 202: ReplayAccepted, ...problemResponses(400, 401, 404, 409, 429) },
    },
    handler: async (request, reply) => {
      const result = await webhooks.replay(requestContext(request), request.params.subscriptionId, request.body);
      return reply.code(202).send(result);
    },
  });
};
