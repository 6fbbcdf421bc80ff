// SQL for webhook subscriptions, the dispatcher's claim of outbox events, and deliveries with their attempts.
import { sql, type Insertable, type Kysely, type Selectable } from 'kysely';
import type { DB, Subscriptions, WebhookAttempts, WebhookDeliveries } from '../../db/types.js';
import type { EventRow } from '../events/events.repository.js';

export type SubscriptionRow = Selectable<Subscriptions>;
export type DeliveryRow = Selectable<WebhookDeliveries>;
export type AttemptRow = Selectable<WebhookAttempts>;

// ---- Subscriptions (the API) ----

export async function insertSubscription(db: Kysely<DB>, values: Insertable<Subscriptions>): Promise<SubscriptionRow> {
  return db.insertInto('subscriptions').values(values).returningAll().executeTakeFirstOrThrow();
}

export async function countLiveSubscriptions(db: Kysely<DB>, ownerSub: string): Promise<number> {
  const row = await db
    .selectFrom('subscriptions')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('owner_sub', '=', ownerSub)
    .where('status', '<>', 'deleted')
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** A subscription of this owner; another owner's is as good as unknown. */
export async function findOwnSubscription(
  db: Kysely<DB>,
  ownerSub: string,
  subscriptionId: string,
  options: { forUpdate?: boolean } = {},
): Promise<SubscriptionRow | undefined> {
  const query = db
    .selectFrom('subscriptions')
    .selectAll()
    .where('subscription_id', '=', subscriptionId)
    .where('owner_sub', '=', ownerSub);
  return (options.forUpdate ? query.forUpdate() : query).executeTakeFirst();
}

export async function listOwnSubscriptions(
  db: Kysely<DB>,
  ownerSub: string,
  options: { afterId?: string; limit: number },
): Promise<SubscriptionRow[]> {
  let query = db.selectFrom('subscriptions').selectAll().where('owner_sub', '=', ownerSub).where('status', '<>', 'deleted');
  if (options.afterId) query = query.where('subscription_id', '>', options.afterId);
  return query.orderBy('subscription_id').limit(options.limit).execute();
}

export async function setSubscriptionStatus(
  db: Kysely<DB>,
  subscriptionId: string,
  change: { status: 'active' | 'disabled' | 'deleted'; disabledReason: string | null; now: Date },
): Promise<SubscriptionRow> {
  return db
    .updateTable('subscriptions')
    .set({
      status: change.status,
      disabled_reason: change.disabledReason,
      updated_at: change.now,
      ...(change.status === 'active' ? { failing_since: null } : {}),
    })
    .where('subscription_id', '=', subscriptionId)
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** Ends the subscription's pending deliveries (it was deleted or disabled); a replay queues them again. */
export async function failPendingDeliveries(db: Kysely<DB>, subscriptionId: string, reason: string): Promise<void> {
  await db
    .updateTable('webhook_deliveries')
    .set({ status: 'failed', last_error: reason, lease_until: null })
    .where('subscription_id', '=', subscriptionId)
    .where('status', '=', 'pending')
    .execute();
}

/**
 * Queues deliveries again from an event number and/or an event time on, with a fresh retry
 * schedule. Clearing the lease makes a send in flight unable to record its result: the replay wins.
 */
export async function requeueDeliveries(
  db: Kysely<DB>,
  subscriptionId: string,
  from: { fromEventNumber?: number; since?: Date },
  now: Date,
): Promise<number> {
  let query = db
    .updateTable('webhook_deliveries as d')
    .set({ status: 'pending', attempts: 0, next_attempt_at: now, lease_until: null, last_error: null })
    .where('d.subscription_id', '=', subscriptionId);
  if (from.fromEventNumber !== undefined) query = query.where('d.event_number', '>=', from.fromEventNumber);
  if (from.since !== undefined) {
    const since = from.since;
    query = query.where(({ exists, selectFrom }) =>
      exists(
        selectFrom('outbox_events as o')
          .select('o.seq')
          .whereRef('o.person_id', '=', 'd.person_id')
          .whereRef('o.seq', '=', 'd.event_seq')
          .where('o.occurred_at', '>=', since),
      ),
    );
  }
  const result = await query.executeTakeFirst();
  return Number(result.numUpdatedRows);
}

export type DeliveryWithEvent = DeliveryRow & { type: string; data: unknown };

/** A page of a subscription's deliveries, newest first, with the type and data of their events. */
export async function listDeliveries(
  db: Kysely<DB>,
  subscriptionId: string,
  options: { beforeNumber?: number; status?: string; limit: number },
): Promise<DeliveryWithEvent[]> {
  let query = db
    .selectFrom('webhook_deliveries as d')
    .innerJoin('outbox_events as o', (join) => join.onRef('o.person_id', '=', 'd.person_id').onRef('o.seq', '=', 'd.event_seq'))
    .selectAll('d')
    .select(['o.type', 'o.data'])
    .where('d.subscription_id', '=', subscriptionId);
  if (options.beforeNumber !== undefined) query = query.where('d.event_number', '<', options.beforeNumber);
  if (options.status !== undefined) query = query.where('d.status', '=', options.status);
  return query.orderBy('d.event_number', 'desc').limit(options.limit).execute();
}

/** The newest attempts of the given deliveries (at most `perDelivery` each), newest first. */
export async function listAttempts(
  db: Kysely<DB>,
  subscriptionId: string,
  eventNumbers: number[],
  perDelivery: number,
): Promise<AttemptRow[]> {
  if (eventNumbers.length === 0) return [];
  const { rows } = await sql<AttemptRow>`
    select subscription_id, event_number, attempt, started_at, duration_ms, status_code, error
    from (
      select a.*, row_number() over (partition by a.event_number order by a.attempt desc) as rank
      from webhook_attempts a
      where a.subscription_id = ${subscriptionId} and a.event_number = any(${eventNumbers}::bigint[])
    ) ranked
    where rank <= ${perDelivery}
    order by event_number desc, attempt desc`.execute(db);
  return rows;
}

// ---- The dispatcher ----

/** Claims the oldest undispatched events; other dispatchers skip them until this transaction ends. */
export async function claimUndispatchedEvents(trx: Kysely<DB>, limit: number): Promise<EventRow[]> {
  return trx
    .selectFrom('outbox_events')
    .selectAll()
    .where('dispatched_at', 'is', null)
    .orderBy('position')
    .limit(limit)
    .forUpdate()
    .skipLocked()
    .execute();
}

/** Active subscriptions that may want events of these persons (person-scoped ones, and those for every plan). */
export async function findCandidateSubscriptions(trx: Kysely<DB>, personIds: string[]): Promise<SubscriptionRow[]> {
  return trx
    .selectFrom('subscriptions')
    .selectAll()
    .where('status', '=', 'active')
    .where((eb) => eb.or([eb('person_id', 'is', null), eb('person_id', 'in', personIds)]))
    .execute();
}

/**
 * Locks subscriptions to number their events; in id order, so two dispatchers locking
 * overlapping sets wait for each other instead of deadlocking. Only those still active.
 */
export async function lockActiveSubscriptions(
  trx: Kysely<DB>,
  subscriptionIds: string[],
): Promise<Array<{ subscription_id: string; last_event_number: number }>> {
  if (subscriptionIds.length === 0) return [];
  return trx
    .selectFrom('subscriptions')
    .select(['subscription_id', 'last_event_number'])
    .where('subscription_id', 'in', subscriptionIds)
    .where('status', '=', 'active')
    .orderBy('subscription_id')
    .forUpdate()
    .execute();
}

export async function insertDeliveries(trx: Kysely<DB>, rows: Array<Insertable<WebhookDeliveries>>): Promise<void> {
  // Chunked: a batch of events times many subscriptions must stay under PostgreSQL's 65,535 parameters.
  for (let i = 0; i < rows.length; i += 1000) await trx.insertInto('webhook_deliveries').values(rows.slice(i, i + 1000)).execute();
}

export async function setLastEventNumber(trx: Kysely<DB>, subscriptionId: string, lastEventNumber: number): Promise<void> {
  await trx
    .updateTable('subscriptions')
    .set({ last_event_number: lastEventNumber })
    .where('subscription_id', '=', subscriptionId)
    .execute();
}

export async function markDispatched(trx: Kysely<DB>, positions: number[], now: Date): Promise<void> {
  if (positions.length > 0) {
    await trx.updateTable('outbox_events').set({ dispatched_at: now }).where('position', 'in', positions).execute();
  }
}

// ---- The sender ----

/** A leased delivery with everything needed to decide on it and send it. */
export interface ClaimedDelivery {
  subscription_id: string;
  event_number: number;
  person_id: string;
  event_id: string;
  event_seq: number;
  attempts: number;
  lease_until: Date;
  url: string;
  secret: string;
  owner_sub: string;
  owner_name: string | null;
  owner_insz: string | null;
  owner_nihii: string | null;
  owner_org: string | null;
  failing_since: Date | null;
  type: string;
  occurred_at: Date;
  data: unknown;
}

/**
 * Leases due deliveries of active subscriptions. A subscription with a delivery in flight gets no
 * more until it is done, so its events go out one at a time and in order, across senders too; one
 * in back-off holds nothing up. (The in-flight test reads only pending rows, never the history.)
 * The lease is the fencing token for recording the result.
 */
export async function claimDueDeliveries(db: Kysely<DB>, now: Date, leaseUntil: Date, limit: number): Promise<ClaimedDelivery[]> {
  const { rows } = await sql<ClaimedDelivery>`
    with due as (
      select d.subscription_id, d.event_number
      from webhook_deliveries d
      join subscriptions s on s.subscription_id = d.subscription_id
      where d.status = 'pending' and d.next_attempt_at <= ${now}
        and (d.lease_until is null or d.lease_until <= ${now})
        and s.status = 'active'
        and d.subscription_id not in (
          select e.subscription_id from webhook_deliveries e
          where e.status = 'pending' and e.lease_until > ${now}
        )
      order by d.next_attempt_at, d.subscription_id, d.event_number
      limit ${limit}
      for update of d skip locked
    )
    update webhook_deliveries w
    set lease_until = ${leaseUntil}
    from due, subscriptions s, outbox_events o
    where w.subscription_id = due.subscription_id and w.event_number = due.event_number
      and s.subscription_id = w.subscription_id
      and o.person_id = w.person_id and o.seq = w.event_seq
    returning w.subscription_id, w.event_number, w.person_id, w.event_id, w.event_seq, w.attempts, w.lease_until,
      s.url, s.secret, s.owner_sub, s.owner_name, s.owner_insz, s.owner_nihii, s.owner_org, s.failing_since,
      o.type, o.occurred_at, o.data`.execute(db);
  return rows;
}

interface Lease {
  subscriptionId: string;
  eventNumber: number;
  leaseUntil: Date;
}

const leased = (lease: Lease) =>
  sql`subscription_id = ${lease.subscriptionId} and event_number = ${lease.eventNumber} and lease_until = ${lease.leaseUntil} and status = 'pending'`;

/** Whether the delivery is still ours to send: leased by us, not replayed, its subscription still active. */
export async function isStillLeased(db: Kysely<DB>, lease: Lease): Promise<boolean> {
  const { rows } = await sql<{ ok: number }>`
    select 1 as ok from webhook_deliveries d join subscriptions s on s.subscription_id = d.subscription_id
    where d.subscription_id = ${lease.subscriptionId} and d.event_number = ${lease.eventNumber}
      and d.lease_until = ${lease.leaseUntil} and d.status = 'pending' and s.status = 'active'`.execute(db);
  return rows.length > 0;
}

/** Gives a claimed delivery back untouched (shutting down, or the lease ran short). */
export async function releaseDelivery(db: Kysely<DB>, lease: Lease): Promise<void> {
  await sql`update webhook_deliveries set lease_until = null where ${leased(lease)}`.execute(db);
}

/** The owner may not receive the event now: it is never sent. */
export async function markSkipped(db: Kysely<DB>, lease: Lease, reason: string): Promise<boolean> {
  const result = await sql`
    update webhook_deliveries set status = 'skipped', lease_until = null, last_error = ${reason}
    where ${leased(lease)}`.execute(db);
  return Number(result.numAffectedRows ?? 0) > 0;
}

export interface AttemptOutcome {
  startedAt: Date;
  durationMs: number;
  statusCode: number | null;
  error: string | null;
}

/**
 * Records an attempt on a delivery we still hold: the delivery's new state and, numbered after
 * every earlier attempt (replays included), the attempt itself. False when the lease was lost.
 */
export async function recordAttempt(
  db: Kysely<DB>,
  lease: Lease,
  outcome: AttemptOutcome,
  next: { status: 'delivered' | 'pending' | 'failed'; nextAttemptAt?: Date; deliveredAt?: Date },
): Promise<boolean> {
  const result = await sql`
    with changed as (
      update webhook_deliveries
      set status = ${next.status}, attempts = attempts + 1, lease_until = null,
        last_status_code = ${outcome.statusCode}, last_error = ${outcome.error},
        next_attempt_at = coalesce(${next.nextAttemptAt ?? null}::timestamptz, next_attempt_at),
        delivered_at = coalesce(${next.deliveredAt ?? null}::timestamptz, delivered_at)
      where ${leased(lease)}
      returning subscription_id, event_number
    )
    insert into webhook_attempts (subscription_id, event_number, attempt, started_at, duration_ms, status_code, error)
    select c.subscription_id, c.event_number,
      coalesce((select max(a.attempt) from webhook_attempts a
        where a.subscription_id = c.subscription_id and a.event_number = c.event_number), 0) + 1,
      ${outcome.startedAt}, ${outcome.durationMs}, ${outcome.statusCode}, ${outcome.error}
    from changed c`.execute(db);
  return Number(result.numAffectedRows ?? 0) > 0;
}

/** Marks the subscription as failing (from now, unless it already was); answers since when. */
export async function markFailing(db: Kysely<DB>, subscriptionId: string, now: Date): Promise<Date | null> {
  const row = await db
    .updateTable('subscriptions')
    .set((eb) => ({ failing_since: eb.fn.coalesce('failing_since', sql<Date>`${now}::timestamptz`) }))
    .where('subscription_id', '=', subscriptionId)
    .where('status', '=', 'active')
    .returning('failing_since')
    .executeTakeFirst();
  return row?.failing_since ?? null;
}

export async function clearFailing(db: Kysely<DB>, subscriptionId: string): Promise<void> {
  await db
    .updateTable('subscriptions')
    .set({ failing_since: null })
    .where('subscription_id', '=', subscriptionId)
    .where('failing_since', 'is not', null)
    .execute();
}

/** Disables an active subscription (a no-op when it was already disabled or deleted). */
export async function disableSubscription(db: Kysely<DB>, subscriptionId: string, reason: string, now: Date): Promise<boolean> {
  const result = await db
    .updateTable('subscriptions')
    .set({ status: 'disabled', disabled_reason: reason, updated_at: now })
    .where('subscription_id', '=', subscriptionId)
    .where('status', '=', 'active')
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}
