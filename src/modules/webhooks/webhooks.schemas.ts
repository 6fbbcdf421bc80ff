// Shapes of webhook subscriptions, their deliveries and attempts, and replay requests.
import { z } from 'zod';
import { PageQuery, Timestamp, Uuid } from '../../http/schemas.js';
import { EventType } from '../events/events.schemas.js';

export const SubscriptionStatus = z.enum(['active', 'disabled', 'deleted']).meta({ id: 'SubscriptionStatus' });
export const DeliveryStatus = z.enum(['pending', 'delivered', 'failed', 'skipped']).meta({ id: 'WebhookDeliveryStatus' });

export const SubscriptionCreate = z
  .object({
    url: z
      .url({ protocol: /^https?$/, message: 'must be an http(s) URL' })
      .max(2000)
      .meta({ description: 'Where events are POSTed. https is required (http only when the service allows private destinations).' }),
    eventTypes: z
      .array(z.union([EventType, z.literal('*')]))
      .min(1)
      .max(50)
      .refine((types) => !types.includes('*') || types.length === 1, { message: 'use ["*"] alone for every event type' })
      .meta({ description: 'The event types to receive, or ["*"] for all.' }),
    personId: Uuid.optional().meta({
      description: 'Only this person\'s events. Without it: the events of every plan the caller may receive them for.',
    }),
  })
  .strict()
  .meta({ id: 'SubscriptionCreate' });
export type SubscriptionCreate = z.infer<typeof SubscriptionCreate>;

export const Subscription = z
  .object({
    id: z.uuid(),
    url: z.string(),
    eventTypes: z.array(z.string()),
    personId: z.uuid().nullable(),
    status: SubscriptionStatus,
    disabledReason: z.string().nullable().meta({ description: 'Why the service disabled it (deliveries failing for days).' }),
    lastEventNumber: z.number().int().meta({ description: 'The eventNumber given to the most recent event for this subscription.' }),
    failingSince: Timestamp.nullable().meta({ description: 'Since when deliveries have been failing; null when the last one succeeded.' }),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  })
  .meta({ id: 'Subscription' });
export type Subscription = z.infer<typeof Subscription>;

export const SubscriptionCreated = Subscription.extend({
  secret: z.string().meta({
    description:
      'The signing secret, `whsec_<base64>`, shown only in this answer. Verify each request with a Standard Webhooks library.',
  }),
}).meta({ id: 'SubscriptionCreated' });
export type SubscriptionCreated = z.infer<typeof SubscriptionCreated>;

export const WebhookAttempt = z
  .object({
    attempt: z.number().int(),
    startedAt: Timestamp,
    durationMs: z.number().int(),
    statusCode: z.number().int().nullable().meta({ description: 'The receiver\'s HTTP status; null when no answer came.' }),
    error: z.string().nullable().meta({ description: 'Why the attempt failed (timeout, refused, non-2xx); null on success.' }),
  })
  .meta({ id: 'WebhookAttempt' });

export const WebhookDelivery = z
  .object({
    eventNumber: z.number().int(),
    status: DeliveryStatus,
    event: z
      .object({ id: z.uuid(), type: z.string(), personId: z.uuid() })
      .nullable()
      .meta({ description: 'Which event; null when the caller may not receive that event now.' }),
    createdAt: Timestamp,
    nextAttemptAt: Timestamp.nullable().meta({ description: 'When it is (re)tried next; null unless pending.' }),
    deliveredAt: Timestamp.nullable(),
    lastStatusCode: z.number().int().nullable(),
    lastError: z.string().nullable(),
    attempts: z.array(WebhookAttempt).meta({ description: 'The attempts, newest first (at most 50).' }),
  })
  .meta({ id: 'WebhookDelivery' });
export type WebhookDelivery = z.infer<typeof WebhookDelivery>;

export const SubscriptionParams = z.object({ subscriptionId: Uuid });
export const SubscriptionsQuery = PageQuery;
export const DeliveriesQuery = PageQuery.extend({ status: DeliveryStatus.optional() });

export const ReplayRequest = z
  .object({
    since: Timestamp.optional().meta({ description: 'Re-send deliveries of events that occurred at or after this time.' }),
    fromEventNumber: z.number().int().min(1).optional().meta({ description: 'Re-send deliveries from this eventNumber on.' }),
  })
  .strict()
  .refine((r) => r.since !== undefined || r.fromEventNumber !== undefined, {
    message: 'give since, fromEventNumber, or both',
    path: ['fromEventNumber'],
  })
  .meta({ id: 'ReplayRequest' });
export type ReplayRequest = z.infer<typeof ReplayRequest>;

export const ReplayAccepted = z
  .object({ requeued: z.number().int().meta({ description: 'How many deliveries were queued again.' }) })
  .meta({ id: 'ReplayAccepted' });
