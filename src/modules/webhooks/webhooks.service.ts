// Webhook subscriptions: belong to the token subject that made them; a person-scoped one needs a
// relation to that person. Deliveries and attempts are the owner's to inspect and replay.
import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import { inTransaction } from '../../db/transaction.js';
import type { DB } from '../../db/types.js';
import type { Clock, RequestContext } from '../../lib/context.js';
import { decodeCursor, toPage } from '../../lib/cursor.js';
import { conflict, notFound, unprocessable } from '../../lib/errors.js';
import { newId } from '../../lib/ids.js';
import { auditActorFor, mayReceiveEvent, strongestRelation } from '../access/access.policy.js';
import { loadAccessContext, loadAccessContexts } from '../access/access.repository.js';
import { appendJournal } from '../journal/journal.repository.js';
import { refuseDestination } from './destination.js';
import * as repo from './webhooks.repository.js';
import type { ReplayRequest, Subscription, SubscriptionCreate, SubscriptionCreated, WebhookDelivery } from './webhooks.schemas.js';

export interface WebhooksServiceDeps {
  db: Kysely<DB>;
  clock: Clock;
  allowPrivate: boolean;
}

/** Each subscription for every plan costs a consent check per owner per dispatched batch: keep them bounded. */
export const MAX_SUBSCRIPTIONS_PER_OWNER = 25;
const ATTEMPTS_SHOWN = 50;

const IdCursor = z.object({ id: z.uuid() });
const NumberCursor = z.object({ n: z.number().int() });

/** `whsec_` and 32 random bytes in base64, as Standard Webhooks libraries expect. */
const newSecret = (): string => `whsec_${randomBytes(32).toString('base64')}`;
const iso = (d: Date | null): string | null => (d === null ? null : d.toISOString());

export function subscriptionRowToSubscription(row: repo.SubscriptionRow): Subscription {
  return {
    id: row.subscription_id,
    url: row.url,
    eventTypes: row.event_types,
    personId: row.person_id,
    status: row.status as Subscription['status'],
    disabledReason: row.disabled_reason,
    lastEventNumber: row.last_event_number,
    failingSince: iso(row.failing_since),
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

export function createWebhooksService({ db, clock, allowPrivate }: WebhooksServiceDeps) {
  async function ownSubscription(ctx: RequestContext, subscriptionId: string, trx: Kysely<DB> = db, forUpdate = false) {
    const row = await repo.findOwnSubscription(trx, ctx.actor.sub, subscriptionId, { forUpdate });
    if (!row) throw notFound('No such subscription.');
    return row;
  }

  return {
    async create(ctx: RequestContext, input: SubscriptionCreate): Promise<SubscriptionCreated> {
      const refused = refuseDestination(input.url, allowPrivate);
      if (refused) throw unprocessable(`The url ${refused}.`, [{ path: 'url', message: refused }]);
      const now = clock();
      const { actor } = ctx;
      const row = await inTransaction(db, async (trx) => {
        if (input.personId !== undefined) {
          const context = await loadAccessContext(trx, actor, input.personId, now);
          const relation = strongestRelation(context);
          if (!relation) throw notFound('No such person.');
          await appendJournal(trx, { requestId: ctx.requestId, now }, [
            { personId: input.personId, actor: auditActorFor(context, relation), action: 'create', resourceType: 'subscription' },
          ]);
        }
        if ((await repo.countLiveSubscriptions(trx, actor.sub)) >= MAX_SUBSCRIPTIONS_PER_OWNER) {
          throw conflict(`At most ${MAX_SUBSCRIPTIONS_PER_OWNER} subscriptions per caller; delete one first.`);
        }
        return repo.insertSubscription(trx, {
          subscription_id: newId(),
          owner_sub: actor.sub,
          owner_name: actor.name ?? null,
          owner_insz: actor.insz ?? null,
          owner_nihii: actor.nihii ?? null,
          owner_org: actor.org ?? null,
          url: input.url,
          event_types: [...new Set(input.eventTypes)],
          person_id: input.personId ?? null,
          secret: newSecret(),
          status: 'active',
          created_at: now,
          updated_at: now,
        });
      });
      return { ...subscriptionRowToSubscription(row), secret: row.secret };
    },

    async list(ctx: RequestContext, query: { limit: number; cursor?: string }) {
      const after = decodeCursor(query.cursor, IdCursor);
      const rows = await repo.listOwnSubscriptions(db, ctx.actor.sub, { afterId: after?.id, limit: query.limit + 1 });
      return toPage(rows, query.limit, (r) => ({ id: r.subscription_id }), subscriptionRowToSubscription);
    },

    async get(ctx: RequestContext, subscriptionId: string): Promise<Subscription> {
      return subscriptionRowToSubscription(await ownSubscription(ctx, subscriptionId));
    },

    /** Deleting is final and repeatable: nothing more is delivered, pending deliveries end as failed. */
    async remove(ctx: RequestContext, subscriptionId: string): Promise<Subscription> {
      const row = await inTransaction(db, async (trx) => {
        const current = await ownSubscription(ctx, subscriptionId, trx, true);
        if (current.status === 'deleted') return current;
        await repo.failPendingDeliveries(trx, subscriptionId, 'The subscription was deleted.');
        return repo.setSubscriptionStatus(trx, subscriptionId, { status: 'deleted', disabledReason: null, now: clock() });
      });
      return subscriptionRowToSubscription(row);
    },

    async deliveries(ctx: RequestContext, subscriptionId: string, query: { limit: number; cursor?: string; status?: string }) {
      await ownSubscription(ctx, subscriptionId);
      const before = decodeCursor(query.cursor, NumberCursor);
      const rows = await repo.listDeliveries(db, subscriptionId, { beforeNumber: before?.n, status: query.status, limit: query.limit + 1 });
      const shown = rows.slice(0, query.limit);
      const attempts = await repo.listAttempts(db, subscriptionId, shown.map((r) => r.event_number), ATTEMPTS_SHOWN);
      // Which event a delivery carried is shown only to whom may receive that event now.
      const contexts = await loadAccessContexts(db, ctx.actor, [...new Set(shown.map((r) => r.person_id))], clock());
      return toPage(rows, query.limit, (r) => ({ n: r.event_number }), (r): WebhookDelivery => {
        const context = contexts.get(r.person_id);
        const visible = context !== undefined && mayReceiveEvent(context, { type: r.type, data: r.data as Record<string, unknown> });
        return {
          eventNumber: r.event_number,
          status: r.status as WebhookDelivery['status'],
          event: visible ? { id: r.event_id, type: r.type, personId: r.person_id } : null,
          createdAt: r.created_at.toISOString(),
          nextAttemptAt: r.status === 'pending' ? r.next_attempt_at.toISOString() : null,
          deliveredAt: iso(r.delivered_at),
          lastStatusCode: r.last_status_code,
          lastError: r.last_error,
          attempts: attempts
            .filter((a) => a.event_number === r.event_number)
            .map((a) => ({
              attempt: a.attempt,
              startedAt: a.started_at.toISOString(),
              durationMs: a.duration_ms,
              statusCode: a.status_code,
              error: a.error,
            })),
        };
      });
    },

    /** Queues the subscription's deliveries again from then on; a disabled subscription becomes active. */
    async replay(ctx: RequestContext, subscriptionId: string, input: ReplayRequest): Promise<{ requeued: number }> {
      const now = clock();
      const requeued = await inTransaction(db, async (trx) => {
        const row = await ownSubscription(ctx, subscriptionId, trx, true);
        if (row.status === 'deleted') throw conflict('The subscription was deleted.');
        if (row.status === 'disabled') {
          await repo.setSubscriptionStatus(trx, subscriptionId, { status: 'active', disabledReason: null, now });
        }
        return repo.requeueDeliveries(
          trx,
          subscriptionId,
          { fromEventNumber: input.fromEventNumber, since: input.since === undefined ? undefined : new Date(input.since) },
          now,
        );
      });
      return { requeued };
    },
  };
}

export type WebhooksService = ReturnType<typeof createWebhooksService>;
