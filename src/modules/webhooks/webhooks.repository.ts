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

/**
 * Claims the oldest undispatched events; other dispatchers skip them until this transaction ends.
 * NO KEY UPDATE (only dispatched_at changes): the stream sequencer's key-share locks, taken when it
 * references an event, neither wait for a claim nor make the dispatcher skip the event.
 */
export async function claimUndispatchedEvents(trx: Kysely<DB>, limit: number): Promise<EventRow[]> {
  return trx
    .selectFrom('outbox_events')
    .selectAll()
    .where('dispatched_at', 'is', null)
    .orderBy('position')
    .limit(limit)
    .forNoKeyUpdate()
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

/** A subscription's new last event number and the deliveries it numbered. */
export interface NumberedDeliveries {
  numbers: Array<{ subscriptionId: string; lastEventNumber: number }>;
  deliveries: Array<{ subscriptionId: string; eventNumber: number; personId: string; eventId: string; eventSeq: number }>;
}

/**
 * Ends a dispatch in one statement: moves the subscriptions' counters, queues the deliveries and
 * marks the events dispatched. Arrays (unnest) keep the parameter count fixed whatever the batch.
 */
export async function finishDispatch(trx: Kysely<DB>, queued: NumberedDeliveries, positions: number[], now: Date): Promise<void> {
  const { numbers, deliveries } = queued;
  await sql`
    with numbered as (
      update subscriptions s set last_event_number = v.last_event_number
      from unnest(${numbers.map((n) => n.subscriptionId)}::uuid[], ${numbers.map((n) => n.lastEventNumber)}::bigint[])
        as v(subscription_id, last_event_number)
      where s.subscription_id = v.subscription_id
    ), queued as (
      insert into webhook_deliveries (subscription_id, event_number, person_id, event_id, event_seq, status, next_attempt_at, created_at)
      select v.subscription_id, v.event_number, v.person_id, v.event_id, v.event_seq, 'pending', ${now}::timestamptz, ${now}::timestamptz
      from unnest(${deliveries.map((d) => d.subscriptionId)}::uuid[], ${deliveries.map((d) => d.eventNumber)}::bigint[],
        ${deliveries.map((d) => d.personId)}::uuid[], ${deliveries.map((d) => d.eventId)}::uuid[], ${deliveries.map((d) => d.eventSeq)}::bigint[])
        as v(subscription_id, event_number, person_id, event_id, event_seq)
    )
    update outbox_events set dispatched_at = ${now}::timestamptz where position = any(${positions}::bigint[])`.execute(trx);
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

export interface Lease {
  subscriptionId: string;
  eventNumber: number;
  leaseUntil: Date;
}

const iso = (date: Date | null | undefined): string | null => (date ? date.toISOString() : null);

/** Which of these deliveries are still ours to send: leased by us, not replayed, their subscription still active. */
export async function stillLeased(db: Kysely<DB>, leases: Lease[]): Promise<Set<string>> {
  if (leases.length === 0) return new Set();
  // Timestamps travel as ISO text: the same on pg and PGlite, and exact to the millisecond the lease was written with.
  const { rows } = await sql<{ subscription_id: string; event_number: number }>`
    select d.subscription_id, d.event_number
    from unnest(${leases.map((l) => l.subscriptionId)}::uuid[], ${leases.map((l) => l.eventNumber)}::bigint[],
      ${leases.map((l) => iso(l.leaseUntil))}::timestamptz[]) as v(subscription_id, event_number, lease_until)
    join webhook_deliveries d on d.subscription_id = v.subscription_id and d.event_number = v.event_number
      and d.lease_until = v.lease_until and d.status = 'pending'
    join subscriptions s on s.subscription_id = d.subscription_id and s.status = 'active'`.execute(db);
  return new Set(rows.map((r) => deliveryKey(r.subscription_id, r.event_number)));
}

export const deliveryKey = (subscriptionId: string, eventNumber: number): string => `${subscriptionId}/${eventNumber}`;

/**
 * What became of a leased delivery: an attempt (delivered, to be retried, or out of retries), a
 * skip (the owner may not receive it now; never sent), or a release (given back untouched).
 */
export type Outcome = Lease &
  (
    | {
        kind: 'attempt';
        status: 'delivered' | 'pending' | 'failed';
        nextAttemptAt?: Date;
        deliveredAt?: Date;
        startedAt: Date;
        durationMs: number;
        statusCode: number | null;
        error: string | null;
      }
    | { kind: 'skip'; reason: string }
    | { kind: 'release' }
  );

/**
 * Records many outcomes in one statement, each only while we still hold its lease (the lease is
 * the fencing token: a replay or another sender after expiry wins). An attempt is numbered after
 * every earlier attempt of its delivery (replays included). Answers the keys that were recorded.
 */
export async function recordOutcomes(db: Kysely<DB>, outcomes: Outcome[]): Promise<Set<string>> {
  if (outcomes.length === 0) return new Set();
  const column = <T>(f: (o: Outcome) => T): T[] => outcomes.map(f);
  const attempt = <T>(f: (o: Extract<Outcome, { kind: 'attempt' }>) => T) => column((o) => (o.kind === 'attempt' ? f(o) : null));
  const { rows } = await sql<{ subscription_id: string; event_number: number }>`
    with v as (
      select * from unnest(
        ${column((o) => o.subscriptionId)}::uuid[], ${column((o) => o.eventNumber)}::bigint[], ${column((o) => iso(o.leaseUntil))}::timestamptz[],
        ${column((o) => o.kind)}::text[], ${column((o) => (o.kind === 'attempt' ? o.status : o.kind === 'skip' ? 'skipped' : 'pending'))}::text[],
        ${attempt((o) => iso(o.nextAttemptAt))}::timestamptz[], ${attempt((o) => iso(o.deliveredAt))}::timestamptz[],
        ${attempt((o) => iso(o.startedAt))}::timestamptz[], ${attempt((o) => o.durationMs)}::int[], ${attempt((o) => o.statusCode)}::int[],
        ${column((o) => (o.kind === 'attempt' ? o.error : o.kind === 'skip' ? o.reason : null))}::text[]
      ) as v(subscription_id, event_number, lease_until, kind, status, next_attempt_at, delivered_at, started_at, duration_ms, status_code, error)
    ), changed as (
      update webhook_deliveries d
      set status = v.status,
        attempts = d.attempts + case when v.kind = 'attempt' then 1 else 0 end,
        lease_until = null,
        last_status_code = case when v.kind = 'attempt' then v.status_code else d.last_status_code end,
        last_error = case when v.kind = 'release' then d.last_error else v.error end,
        next_attempt_at = coalesce(v.next_attempt_at, d.next_attempt_at),
        delivered_at = coalesce(v.delivered_at, d.delivered_at)
      from v
      where d.subscription_id = v.subscription_id and d.event_number = v.event_number
        and d.lease_until = v.lease_until and d.status = 'pending'
      returning d.subscription_id, d.event_number, v.kind, v.started_at, v.duration_ms, v.status_code, v.error
    ), attempts as (
      insert into webhook_attempts (subscription_id, event_number, attempt, started_at, duration_ms, status_code, error)
      select c.subscription_id, c.event_number,
        coalesce((select max(a.attempt) from webhook_attempts a
          where a.subscription_id = c.subscription_id and a.event_number = c.event_number), 0) + 1,
        c.started_at, c.duration_ms, c.status_code, c.error
      from changed c
      where c.kind = 'attempt'
    )
    select subscription_id, event_number from changed`.execute(db);
  return new Set(rows.map((r) => deliveryKey(r.subscription_id, r.event_number)));
}

/**
 * Moves subscriptions' failing state after a batch of attempts: `since` null clears it; otherwise
 * it is set from `since` on (`restart`: a success came before, so an earlier failing spell ended)
 * or kept when already failing. Only active subscriptions; answers their failing state now.
 */
export async function updateFailing(
  db: Kysely<DB>,
  changes: Array<{ subscriptionId: string; since: Date | null; restart: boolean }>,
): Promise<Array<{ subscription_id: string; failing_since: Date | null }>> {
  if (changes.length === 0) return [];
  const { rows } = await sql<{ subscription_id: string; failing_since: Date | null }>`
    update subscriptions s
    set failing_since = case when v.restart or v.since is null then v.since else coalesce(s.failing_since, v.since) end
    from unnest(${changes.map((c) => c.subscriptionId)}::uuid[], ${changes.map((c) => iso(c.since))}::timestamptz[],
      ${changes.map((c) => c.restart)}::boolean[]) as v(subscription_id, since, restart)
    where s.subscription_id = v.subscription_id and s.status = 'active'
    returning s.subscription_id, s.failing_since`.execute(db);
  return rows;
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
